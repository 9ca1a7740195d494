"""Grouping many reports in one transaction (the pipeline's batches).

The reports are grouped one after the other by the same code as a single report
(grouping.issue_group_report), in order, so each sees the issues the ones before it opened
or joined: a batch gives the issues grouping the same reports one by one gives, near-
identical reports within it included. What a batch saves is round trips: the neighbourhood
locks of every report are taken at once at the start, the thresholds, related categories,
departments and areas are read once per batch, and the issues' events are written in one
statement at the end."""

import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import User
from django.db import connection

from civicpulse.core.tenancy import current_schema
from issues.geo import cells_within
from issues.match_score import Thresholds
from issues.models import Area, Category, Department, GroupingPolicy, IssueEvent
from issues.selectors import area_for_point, category_compatible_ids, grouping_policy_get, grouping_thresholds

# The key of the tenant's whole grouping lock (in the tenant's key space, beside the cells').
_TENANT_KEY = 0


def _signed32(value: int) -> int:
    return value - (1 << 32) if value >= (1 << 31) else value


def lock_keys(
    *, latitude: float | None, longitude: float | None, address_key: str, radius_m: float
) -> list[int] | None:
    """The advisory lock keys of a report's neighbourhood: its cells (or its address);
    None when its circle needs more than MAX_LOCK_CELLS cells (the tenant's lock then)."""
    if latitude is None or longitude is None:
        return [_signed32(zlib.crc32(f"address:{address_key}".encode()))]
    cells = cells_within(latitude, longitude, radius_m)
    if cells is None:
        return None
    return [_signed32(zlib.crc32(f"cell:{r}:{c}".encode())) for r, c in cells]


def neighbourhoods_lock(keys: Iterable[list[int] | None]) -> None:
    """Serialise grouping in these neighbourhoods for the rest of the transaction, so two
    near-identical reports grouped at the same moment cannot both open an issue.

    The tenant's grouping lock first: shared, then every cell (or address) exclusively in
    sorted order; or, when any neighbourhood is too large for cells, the tenant's lock
    exclusively and nothing else. Every grouping and every batch takes its locks in this
    one order, so none deadlocks with another."""
    space = _signed32(zlib.crc32(current_schema().encode()))
    wanted: set[int] = set()
    for own in keys:
        if own is None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [space, _TENANT_KEY])
            return
        wanted.update(own)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s, %s)", [space, _TENANT_KEY])
        if wanted:
            # One round trip; the ordered subquery (kept apart from the outer query by
            # OFFSET 0) makes the locks be taken in key order.
            cursor.execute(
                "SELECT count(pg_advisory_xact_lock(%s, k)) FROM"
                " (SELECT k FROM unnest(%s::int[]) AS k ORDER BY k OFFSET 0) ordered_keys",
                [space, sorted(wanted)],
            )


@dataclass
class GroupingBatch:
    """What a batch reads once and writes at the end. Its neighbourhoods are locked
    (neighbourhoods_lock) before the first report is grouped."""

    events: list[IssueEvent] = field(default_factory=list)
    _thresholds: dict[int | None, Thresholds] = field(default_factory=dict)
    _compatible: dict[int | None, list[int] | None] = field(default_factory=dict)
    _departments: dict[int, int | None] = field(default_factory=dict)
    _areas: list[Area] | None = None
    _policy: GroupingPolicy | None = None

    def thresholds(self, category: Category | None) -> Thresholds:
        key = category.pk if category else None
        if key not in self._thresholds:
            if self._policy is None:
                self._policy = grouping_policy_get()
            self._thresholds[key] = grouping_thresholds(category, self._policy)
        return self._thresholds[key]

    def compatible_ids(self, category: Category | None) -> list[int] | None:
        key = category.pk if category else None
        if key not in self._compatible:
            self._compatible[key] = category_compatible_ids(category)
        return self._compatible[key]

    def department_id(self, department_id: int) -> int | None:
        """The department, unless it was retired (None then)."""
        if department_id not in self._departments:
            self._departments[department_id] = (
                Department.objects.filter(pk=department_id, active=True).values_list("pk", flat=True).first()
            )
        return self._departments[department_id]

    def area(self, latitude: float, longitude: float) -> Area | None:
        if self._areas is None:
            self._areas = list(Area.objects.filter(active=True).exclude(boundary=None).order_by("name", "pk"))
        return area_for_point(latitude, longitude, areas=self._areas)

    def event(
        self,
        *,
        issue_id: int,
        kind: str,
        actor_label: str,
        at: datetime,
        data: dict,
        actor: User | None = None,
    ) -> None:
        self.events.append(
            IssueEvent(
                issue_id=issue_id,
                kind=kind,
                actor=actor,
                actor_label=actor_label or (actor.get_username() if actor else ""),
                data=data,
                created_at=at,
            )
        )

    def flush(self) -> None:
        """Write the batch's events, in the order they happened, in one statement."""
        IssueEvent.objects.bulk_create(self.events)
        self.events = []
