"""Grouping many reports in one transaction (the pipeline's batches).

The reports are grouped one after the other by the same code as a single report
(grouping.issue_group_report), in order, so each sees the issues the ones before it opened
or joined: a batch gives the issues grouping the same reports one by one gives, near-
identical reports within it included. What a batch saves is round trips: the neighbourhood
locks of every report are taken at once at the start, the candidate issues of every report
are read in one statement after them (and read again for a report near an issue the batch
opened or changed before it), the thresholds, related categories, departments and areas
are taken once per batch from what the process keeps of them (issues.selectors), the
issues it opens are written together (before a read that must see them, and at the end),
and the issues' events in one statement at the end."""

import math
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import User
from django.db import connection

from civicpulse.core.geo import EARTH_RADIUS_M, great_circle_m
from civicpulse.core.inserts import objects_insert
from civicpulse.core.tenancy import current_schema
from issues.candidate_selectors import Candidate, CandidateQuery, issue_candidates, issue_candidates_many
from issues.geo import cells_within
from issues.match_score import Thresholds
from issues.models import Area, Category, Department, GroupingPolicy, Issue, IssueEvent
from issues.selectors import (
    area_for_point,
    areas_active_kept,
    category_compatible_ids,
    category_related_kept,
    department_ids_active_kept,
    grouping_policy_kept,
    grouping_thresholds,
)

# The key of the tenant's whole grouping lock (in the tenant's key space, beside the cells').
_TENANT_KEY = 0
# How much farther than a report's grouping distance an issue the batch opened or moved
# makes its candidates be read again: earthdistance's sphere and great_circle_m agree to far
# less than this, so no issue the query would find is ever missed.
_MOVED_MARGIN_M = 1.0


def advisory_key(name: str) -> int:
    """A PostgreSQL advisory lock key (a signed 32-bit integer) for a name."""
    value = zlib.crc32(name.encode())
    return value - (1 << 32) if value >= (1 << 31) else value


def lock_keys(
    *, latitude: float | None, longitude: float | None, address_key: str, radius_m: float
) -> list[int] | None:
    """The advisory lock keys of a report's neighbourhood: its cells (or its address);
    None when its circle needs more than MAX_LOCK_CELLS cells (the tenant's lock then)."""
    if latitude is None or longitude is None:
        return [advisory_key(f"address:{address_key}")]
    cells = cells_within(latitude, longitude, radius_m)
    if cells is None:
        return None
    return [advisory_key(f"cell:{r}:{c}") for r, c in cells]


def neighbourhoods_lock(keys: Iterable[list[int] | None]) -> None:
    """Serialise grouping in these neighbourhoods for the rest of the transaction, so two
    near-identical reports grouped at the same moment cannot both open an issue.

    The tenant's grouping lock first: shared, then every cell (or address) exclusively in
    sorted order; or, when any neighbourhood is too large for cells, the tenant's lock
    exclusively and nothing else. Every grouping and every batch takes its locks in this
    one order, so none deadlocks with another."""
    space = advisory_key(current_schema())
    wanted: set[int] = set()
    for own in keys:
        if own is None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [space, _TENANT_KEY])
            return
        wanted.update(own)
    with connection.cursor() as cursor:
        if not wanted:
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s, %s)", [space, _TENANT_KEY])
            return
        # One round trip. The ordered subquery (kept apart from the outer query by OFFSET 0)
        # makes the cells' locks be taken in key order, and it reads the tenant's lock (a
        # materialised CTE, taken once) before its first row, so before any cell's.
        cursor.execute(
            "WITH tenant AS MATERIALIZED (SELECT pg_advisory_xact_lock_shared(%s, %s))"
            " SELECT count(pg_advisory_xact_lock(%s, k)) FROM"
            " (SELECT k FROM unnest(%s::int[]) AS k, tenant ORDER BY k OFFSET 0) ordered_keys",
            [space, _TENANT_KEY, space, sorted(wanted)],
        )


def grouping_query(
    *,
    text: str,
    category: Category | None,
    latitude: float | None,
    longitude: float | None,
    address_key: str,
    at: datetime,
    thresholds: Thresholds,
    batch: "GroupingBatch | None" = None,
) -> CandidateQuery:
    """What a report's search for its issue asks (issues.candidate_selectors)."""
    return CandidateQuery(
        latitude=latitude,
        longitude=longitude,
        address_key=address_key,
        at=at,
        text=text,
        category_ids=batch.compatible_ids(category) if batch else category_compatible_ids(category),
        radius_m=thresholds.radius_m,
        window_hours=thresholds.window_hours,
    )


@dataclass
class GroupingBatch:
    """What a batch takes once (from what the process keeps of the tenant's set-up) and
    writes at the end. Its neighbourhoods are locked (neighbourhoods_lock) before the first
    report is grouped."""

    events: list[IssueEvent] = field(default_factory=list)
    _thresholds: dict[int | None, Thresholds] = field(default_factory=dict)
    _related: Mapping[int, tuple[int, ...]] | None = None
    _active_departments: frozenset[int] | None = None
    _areas: tuple[Area, ...] | None = None
    _policy: GroupingPolicy | None = None
    # Each report's candidate query and what it found at the batch's start, by report.
    _prefetched: dict[str, tuple[CandidateQuery, list[Candidate]]] = field(default_factory=dict)
    # The points of the issues this batch opened or changed, before and after.
    _moved: list[tuple[float, float]] = field(default_factory=list)
    # Issues opened and not written yet (issue_opened).
    _opened: list[Issue] = field(default_factory=list)
    # Reports whose candidates came from the read at the batch's start.
    _read_at_start: set[str] = field(default_factory=set)

    def candidates_prefetch(self, queries: Iterable[tuple[str, CandidateQuery]]) -> None:
        """Read the candidates of these reports (by their reference) in one statement. Call
        it once the batch's neighbourhoods are locked and before any report is grouped."""
        # A report with only an address has its candidates read when it is grouped.
        wanted = {ref: q for ref, q in queries if q["latitude"] is not None and q["longitude"] is not None}
        found = issue_candidates_many(list(wanted.values()))
        self._prefetched = {
            ref: (query, own) for (ref, query), own in zip(wanted.items(), found, strict=True)
        }

    def candidates(self, ref: str, query: CandidateQuery) -> list[Candidate]:
        """The report's candidates: those read at the batch's start, unless an issue the
        batch opened or moved since lies within its grouping distance (or the query
        differs); then they are read again, so the report sees what grouping it alone at
        this point would see."""
        kept = self._prefetched.pop(ref, None)
        if kept is not None and kept[0] == query and not self._moved_near(query):
            self._read_at_start.add(ref)
            return kept[1]
        self.issues_insert()  # the query must see the issues the batch opened so far
        return issue_candidates(**query)

    def read_at_start(self, ref: str) -> bool:
        """Whether the report's candidates were those read at the batch's start (asked once:
        a report whose match staff closed since is grouped again with a fresh read)."""
        if ref in self._read_at_start:
            self._read_at_start.discard(ref)
            return True
        return False

    def _moved_near(self, query: CandidateQuery) -> bool:
        latitude, longitude = query["latitude"], query["longitude"]
        if latitude is None or longitude is None:  # never so: only located reports are read at the start
            return True
        reach = float(query["radius_m"]) + _MOVED_MARGIN_M
        # No point farther than this in latitude alone is within reach (a great circle is
        # never shorter than its meridian part): most of a batch's points are skipped
        # without the trigonometry, which cost 2 % of a batch's CPU. A metre over, for
        # rounding.
        band = math.degrees((reach + 1.0) / EARTH_RADIUS_M)
        return any(
            abs(lat - latitude) <= band and great_circle_m(latitude, longitude, lat, lon) <= reach
            for lat, lon in self._moved
        )

    def issue_opened(self, issue: Issue) -> None:
        """An issue this batch opened, written with the others before the batch's next read
        of candidates or at its end. Only a read of candidates could find it, so nothing
        needs its id before then: its events and reports refer to it as an object."""
        self._opened.append(issue)
        self.issue_moved(issue.latitude, issue.longitude)

    def issues_insert(self) -> None:
        """Write the issues opened since the last write, in one statement (their ids are
        set on them; a batch opens far fewer than objects_insert's MAX_ROWS)."""
        if self._opened:
            objects_insert(self._opened)
            self._opened = []

    def issue_moved(self, latitude: float | None, longitude: float | None) -> None:
        """An issue of this batch was opened or changed at this point (for an issue that
        moved, call it with the point before and after)."""
        if latitude is not None and longitude is not None:
            self._moved.append((latitude, longitude))

    def thresholds(self, category: Category | None) -> Thresholds:
        key = category.pk if category else None
        if key not in self._thresholds:
            if self._policy is None:
                self._policy = grouping_policy_kept()
            self._thresholds[key] = grouping_thresholds(category, self._policy)
        return self._thresholds[key]

    def compatible_ids(self, category: Category | None) -> list[int] | None:
        """As selectors.category_compatible_ids, from every category's links read once."""
        if category is None:
            return None
        if self._related is None:
            self._related = category_related_kept()
        return [category.pk, *self._related.get(category.pk, ())]

    def department_id(self, department_id: int) -> int | None:
        """The department, unless it was retired (None then; one retired within
        SETUP_CACHE_SECONDS may still be given issues)."""
        if self._active_departments is None:
            self._active_departments = department_ids_active_kept()
        if department_id in self._active_departments:
            return department_id
        # The category is read fresh, the departments kept: one made or brought back within
        # the window is asked for, or its category's issue would stay unrouted for good.
        return department_id if Department.objects.filter(pk=department_id, active=True).exists() else None

    def area(self, latitude: float, longitude: float) -> Area | None:
        if self._areas is None:
            self._areas = areas_active_kept()
        return area_for_point(latitude, longitude, areas=self._areas)

    def event(
        self,
        *,
        issue: Issue,
        kind: str,
        actor_label: str,
        at: datetime,
        data: dict,
        actor: User | None = None,
    ) -> None:
        self.events.append(
            IssueEvent(
                issue=issue,
                kind=kind,
                actor=actor,
                actor_label=actor_label or (actor.get_username() if actor else ""),
                data=data,
                created_at=at,
            )
        )

    def flush(self) -> None:
        """Write the issues opened since the last write, then the batch's events in the
        order they happened, each in one statement."""
        self.issues_insert()
        objects_insert(self.events)
        self.events = []
