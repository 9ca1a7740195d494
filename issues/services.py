"""Writes on the taxonomy and on issues: grouping reports into issues, the workflow."""
import json
import logging
import uuid
import zlib
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone as dt_timezone
from functools import partial

import psycopg
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import OperationalError, connection, transaction
from django.db.models import Avg, Count, Max, QuerySet
from django.utils import timezone

from issues import grouping
from issues.defaults import CATEGORIES_BY_KIND, DEPARTMENTS_BY_KIND
from issues.geo import cells_within
from issues.grouping import Adjudicator
from issues.models import (
    OPEN_STATUSES,
    Area,
    Category,
    Department,
    GroupingPolicy,
    Issue,
    IssueEvent,
    IssueNote,
    IssueStatus,
    Severity,
)
from issues.selectors import area_for_point, category_compatible_ids, grouping_thresholds, issue_candidates
from issues.signals import issue_public_change

logger = logging.getLogger(__name__)


@transaction.atomic
def taxonomy_install_defaults(*, tenant: object) -> int:
    """Give a new tenant the categories of its kind, their departments and the grouping
    policy, in the current schema. Idempotent: what exists is left as staff edited it.
    Returns how many categories were created."""
    defaults = CATEGORIES_BY_KIND.get(getattr(tenant, "kind", ""), CATEGORIES_BY_KIND["facility"])
    existing = set(Category.objects.values_list("code", flat=True))
    created = Category.objects.bulk_create(
        Category(
            code=d.code,
            name=d.name,
            description=d.description,
            keywords=list(d.keywords),
            default_severity=d.severity,
            questions=[dict(q) for q in d.questions],
        )
        for d in defaults
        if d.code not in existing
    )
    _departments_install_defaults(getattr(tenant, "kind", ""))
    GroupingPolicy.objects.get_or_create(pk=1)
    return len(created)


def _departments_install_defaults(kind: str) -> None:
    """Departments of the kind, and the routing of categories that have none yet."""
    for dept in DEPARTMENTS_BY_KIND.get(kind, DEPARTMENTS_BY_KIND["facility"]):
        department, _ = Department.objects.get_or_create(code=dept.code, defaults={"name": dept.name})
        Category.objects.filter(code__in=dept.categories, department=None).update(department=department)


def area_upsert(*, code: str, name: str, boundary: dict | None = None) -> Area:
    """Create or update an area by its code, validating the boundary."""
    area = Area.objects.filter(code=code).first() or Area(code=code)
    area.name = name
    area.boundary = boundary
    area.full_clean()
    area.save()
    return area


# ---------------------------------------------------------------------------
# Grouping


@dataclass(frozen=True)
class GroupingResult:
    issue: Issue
    created: bool
    match: dict


def _signed32(value: int) -> int:
    return value - (1 << 32) if value >= (1 << 31) else value


def _lock_neighbourhood(*, latitude: float | None, longitude: float | None, address_key: str, radius_m: float) -> None:
    """Serialise grouping per neighbourhood for the rest of the transaction, so two
    near-identical reports processed at the same moment cannot both open an issue.
    Locks are taken in sorted order, so two groupings never deadlock."""
    space = _signed32(zlib.crc32(connection.schema_name.encode()))
    if latitude is not None and longitude is not None:
        keys = [_signed32(zlib.crc32(f"cell:{r}:{c}".encode())) for r, c in cells_within(latitude, longitude, radius_m)]
    else:
        keys = [_signed32(zlib.crc32(f"address:{address_key}".encode()))]
    with connection.cursor() as cursor:
        for key in sorted(set(keys)):
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [space, key])


def _title_from(summary: str, text: str) -> str:
    title = (summary or text).strip().splitlines()[0] if (summary or text).strip() else "Untitled"
    return title[:197] + "…" if len(title) > 200 else title


@transaction.atomic(savepoint=False)  # inside the pipeline's transaction: no savepoint needed
def issue_group_report(
    *,
    text: str,
    summary: str,
    category: Category | None,
    severity: str,
    latitude: float | None,
    longitude: float | None,
    address_key: str,
    at: datetime,
    report_ref: str,
    actor_label: str = "pipeline",
    adjudicate: Adjudicator | None = None,
) -> GroupingResult:
    """Link a report (given by its fields; this app knows nothing of reports) to the best
    matching open issue, or open a new issue for it. The returned `match` says why: the
    score of the best candidate, its parts and the thresholds in force (docs/grouping.md).

    `adjudicate(report_text, issue_text)`, when given, is asked about the best candidate
    only when its score is borderline; it answers `{"same": bool, ...}` or None. It runs
    while the neighbourhood is locked, so it must answer quickly or give up."""
    thresholds = grouping_thresholds(category)
    _lock_neighbourhood(
        latitude=latitude, longitude=longitude, address_key=address_key, radius_m=thresholds.radius_m
    )
    candidates = issue_candidates(
        latitude=latitude,
        longitude=longitude,
        address_key=address_key,
        at=at,
        text=text,
        category_ids=category_compatible_ids(category),
        radius_m=thresholds.radius_m,
        window_hours=thresholds.window_hours,
        min_similarity=thresholds.min_similarity,
    )
    base = {"candidates": len(candidates), "thresholds": thresholds.as_record()}
    scored = [
        (c, grouping.score(
            similarity=c.similarity, distance_m=c.distance_m, time_gap_s=c.time_gap_s,
            relation=grouping.category_relation(category.pk if category else None, c.category_id),
            thresholds=thresholds,
        ))
        for c in candidates
    ]
    # Ties go to the candidate the query ranked first (more similar text, then nearer).
    best, best_score = max(scored, key=lambda pair: pair[1].value, default=(None, None))
    if best is None:
        return _group_into_new(
            text=text, summary=summary, category=category, severity=severity, latitude=latitude,
            longitude=longitude, address_key=address_key, at=at, report_ref=report_ref,
            actor_label=actor_label, match={"method": "new", **base},
        )
    ask = partial(_adjudicate, adjudicate, text, best.issue_id) if adjudicate is not None else None
    decision = grouping.decide(best_score.value, thresholds, ask)
    about_best = {
        "distance_m": None if best.distance_m is None else round(best.distance_m, 1),
        "time_gap_s": round(best.time_gap_s),
        "similarity": round(best.similarity, 3),
        **best_score.as_record(),
        "decision": decision.reason,
    }
    adjudication = {"adjudication": decision.answer} if decision.asked else {}
    if decision.joins:
        match = {"method": "geo" if latitude is not None else "address", **about_best, **base, **adjudication}
        issue = _issue_attach(
            issue_id=best.issue_id, latitude=latitude, longitude=longitude, severity=severity, at=at,
            actor_label=actor_label, data={"report": report_ref, **match},
        )
        if issue is not None:
            return GroupingResult(issue, False, match)
        # Staff closed the match since the candidate query: a new issue, and the record says so.
        about_best["closed_meanwhile"] = True
    return _group_into_new(
        text=text, summary=summary, category=category, severity=severity, latitude=latitude,
        longitude=longitude, address_key=address_key, at=at, report_ref=report_ref, actor_label=actor_label,
        match={"method": "new", **base, "best": {"issue": best.issue_id, **about_best}, **adjudication},
    )


def _group_into_new(
    *, text: str, summary: str, category: Category | None, severity: str, latitude: float | None,
    longitude: float | None, address_key: str, at: datetime, report_ref: str, actor_label: str, match: dict,
) -> GroupingResult:
    issue = _issue_open(
        text=text, summary=summary, category=category, severity=severity, latitude=latitude,
        longitude=longitude, address_key=address_key, at=at, actor_label=actor_label,
        data={"report": report_ref},
    )
    return GroupingResult(issue, True, match)


def _adjudicate(adjudicate: Adjudicator, report_text: str, issue_id: int) -> dict | None:
    """Ask about one borderline pair. The answer is stored in JSON, so it is reduced to
    what JSON holds; an adjudicator that raises counts as no answer: grouping never
    depends on a language model being up."""
    issue_text = Issue.objects.filter(pk=issue_id).values_list("text", flat=True).first() or ""
    try:
        answer = adjudicate(report_text, issue_text)
    except Exception as exc:
        logger.warning("grouping adjudicator failed", extra={"issue_id": issue_id, "error": repr(exc)})
        return None
    if answer is None:
        return None
    try:
        return json.loads(json.dumps(answer, default=str))
    except (TypeError, ValueError):
        return {"unreadable": repr(answer)[:200]}


_SEVERITY_RANK = {s: i for i, s in enumerate(Severity.values)}


def _issue_open(
    *, text: str, summary: str, category: Category | None, severity: str, latitude: float | None,
    longitude: float | None, address_key: str, at: datetime, actor_label: str, data: dict,
    actor: AbstractBaseUser | None = None, report_count: int = 1,
) -> Issue:
    """A new open issue from its first report's fields, routed to the category's
    department and placed in its area; `data` goes on the CREATED event."""
    issue = Issue.objects.create(
        title=_title_from(summary, text),
        summary=summary,
        text=text,
        category=category,
        severity=severity or (category.default_severity if category else Severity.MEDIUM),
        area=area_for_point(latitude, longitude) if latitude is not None and longitude is not None else None,
        department_id=category.department_id if category else None,
        latitude=latitude,
        longitude=longitude,
        address_key="" if latitude is not None else address_key,
        report_count=report_count,
        created_at=at,
        last_report_at=at,
    )
    IssueEvent.objects.create(
        issue=issue, kind=IssueEvent.Kind.CREATED, actor=actor, actor_label=actor_label, created_at=at,
        data={**data, "category": category.code if category else None, "severity": issue.severity},
    )
    return issue


def _issue_attach(
    *, issue_id: int, latitude: float | None, longitude: float | None, severity: str, at: datetime,
    actor_label: str, data: dict,
) -> Issue | None:
    """Link to the issue, unless it stopped being open since it was found (None then)."""
    issue = Issue.objects.select_for_update().get(pk=issue_id)
    if issue.status not in OPEN_STATUSES:
        return None
    n = issue.report_count
    if latitude is not None and issue.latitude is not None:
        # Running mean: every report of a located issue has a point.
        issue.latitude = (issue.latitude * n + latitude) / (n + 1)
        issue.longitude = (issue.longitude * n + longitude) / (n + 1)
    issue.report_count = n + 1
    issue.last_report_at = max(issue.last_report_at, at)
    # Several residents reporting a worse severity raises the issue's, never lowers it.
    if severity and _SEVERITY_RANK.get(severity, 0) > _SEVERITY_RANK.get(issue.severity, 0):
        data = {**data, "severity": [issue.severity, severity]}
        issue.severity = severity
    issue.save(update_fields=["latitude", "longitude", "report_count", "last_report_at", "severity", "updated_at"])
    IssueEvent.objects.create(
        issue=issue, kind=IssueEvent.Kind.REPORT_LINKED, actor_label=actor_label, created_at=at, data=data
    )
    return issue


# ---------------------------------------------------------------------------
# Workflow

TRANSITIONS: dict[str, frozenset[str]] = {
    IssueStatus.OPEN: frozenset({IssueStatus.ACKNOWLEDGED, IssueStatus.IN_PROGRESS, IssueStatus.RESOLVED, IssueStatus.CLOSED}),
    IssueStatus.ACKNOWLEDGED: frozenset({IssueStatus.IN_PROGRESS, IssueStatus.RESOLVED, IssueStatus.CLOSED}),
    IssueStatus.IN_PROGRESS: frozenset({IssueStatus.ACKNOWLEDGED, IssueStatus.RESOLVED, IssueStatus.CLOSED}),
    # Reopening: a resolved or closed issue goes back to open.
    IssueStatus.RESOLVED: frozenset({IssueStatus.CLOSED, IssueStatus.OPEN}),
    IssueStatus.CLOSED: frozenset({IssueStatus.OPEN}),
}


class TransitionError(ValidationError):
    pass


@transaction.atomic
def issue_transition(
    *,
    issue_id: int,
    to_status: str,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
    note: str = "",
    at: datetime | None = None,
) -> Issue:
    """Move an issue through its workflow, stamping the milestone times and recording
    the change. Invalid moves raise TransitionError with a message fit for staff."""
    at = at or timezone.now()
    issue = Issue.objects.select_for_update().get(pk=issue_id)
    current = issue.status
    if to_status not in IssueStatus.values:
        raise TransitionError({"status": f"Unknown status {to_status!r}."})
    if to_status not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(IssueStatus(s).label for s in TRANSITIONS[current]))
        raise TransitionError(
            {"status": f"An issue that is {IssueStatus(current).label.lower()} cannot become "
                       f"{IssueStatus(to_status).label.lower()}; it can become: {allowed}."}
        )
    issue.status = to_status
    if to_status in (IssueStatus.ACKNOWLEDGED, IssueStatus.IN_PROGRESS) and issue.acknowledged_at is None:
        issue.acknowledged_at = at
    if to_status == IssueStatus.RESOLVED:
        issue.resolved_at = at
    if to_status == IssueStatus.CLOSED:
        issue.closed_at = at
        if issue.resolved_at is None:
            issue.resolved_at = at
    if to_status == IssueStatus.OPEN:  # reopened: the clock of resolution starts again
        issue.resolved_at = None
        issue.closed_at = None
    issue.save(update_fields=["status", "acknowledged_at", "resolved_at", "closed_at", "updated_at"])
    event = IssueEvent.objects.create(
        issue=issue,
        kind=IssueEvent.Kind.STATUS_CHANGED,
        actor=actor,
        actor_label=actor_label or (actor.get_username() if actor else ""),
        created_at=at,
        data={"from": current, "to": to_status, **({"note": note} if note else {})},
    )
    _announce(event)
    return issue


@transaction.atomic
def issue_assign(
    *, issue_id: int, assignee: AbstractBaseUser | None, actor: AbstractBaseUser | None = None, actor_label: str = "",
) -> Issue:
    issue = Issue.objects.select_for_update().get(pk=issue_id)
    previous = issue.assignee_id
    issue.assignee = assignee
    issue.save(update_fields=["assignee", "updated_at"])
    IssueEvent.objects.create(
        issue=issue,
        kind=IssueEvent.Kind.ASSIGNED,
        actor=actor,
        actor_label=actor_label or (actor.get_username() if actor else ""),
        data={"from": previous, "to": assignee.pk if assignee else None},
    )
    return issue




def issue_event_record(
    *, issue_id: int, kind: str, actor: AbstractBaseUser | None = None, actor_label: str = "", data: dict,
    at: datetime | None = None,
) -> IssueEvent:
    """Add to an issue's trail what happened to it from elsewhere (a report corrected, a
    clock paused); `at` when it happened earlier than now."""
    return IssueEvent.objects.create(
        issue_id=issue_id, kind=kind, actor=actor,
        actor_label=actor_label or (actor.get_username() if actor else ""), data=data,
        created_at=at or timezone.now(),
    )


@transaction.atomic
def issue_note_add(
    *, issue_id: int, body: str, visibility: str, author: AbstractBaseUser | None, actor_label: str = "",
) -> IssueNote:
    """Add a public or internal note, and record it on the trail."""
    if not body.strip():
        raise ValidationError({"body": "Write something in the note."})
    if visibility not in IssueNote.Visibility.values:
        raise ValidationError({"visibility": f"Choose {' or '.join(IssueNote.Visibility.values)}."})
    note = IssueNote.objects.create(issue_id=issue_id, body=body, visibility=visibility, author=author)
    event = issue_event_record(
        issue_id=issue_id, kind=IssueEvent.Kind.NOTE_ADDED, actor=author, actor_label=actor_label,
        data={"note": note.pk, "visibility": visibility},
    )
    if visibility == IssueNote.Visibility.PUBLIC:
        _announce(event)
    return note


def _announce(event: IssueEvent) -> None:
    """Tell listeners (resident notifications) once the change is committed."""
    transaction.on_commit(lambda: issue_public_change.send(sender=IssueEvent, event_id=event.pk))


@transaction.atomic
def issue_place(
    *, issue_id: int, latitude: float, longitude: float, actor: AbstractBaseUser | None, data: dict
) -> Issue:
    """Give an issue that had no point (address-only reports) the point staff found; an
    issue that has one keeps it. Recorded either way."""
    issue = Issue.objects.select_for_update().get(pk=issue_id)
    placed = issue.latitude is None
    if placed:
        issue.latitude, issue.longitude, issue.address_key = latitude, longitude, ""
        issue.area = area_for_point(latitude, longitude)
        issue.save(update_fields=["latitude", "longitude", "address_key", "area", "updated_at"])
    issue_event_record(
        issue_id=issue.pk, kind=IssueEvent.Kind.UPDATED, actor=actor,
        data={**data, "placed": placed, "point": [latitude, longitude]},
    )
    return issue


# Fields staff may edit directly on an issue; status and assignment have their own services.
EDITABLE_FIELDS = ("title", "summary", "category", "severity", "area", "department")


@transaction.atomic
def issue_update(*, issue_id: int, actor: AbstractBaseUser | None, **changes: object) -> Issue:
    """Change an issue's descriptive fields, recording old and new values in one event."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({field: "This field is not edited here." for field in unknown})
    issue = Issue.objects.select_for_update().get(pk=issue_id)
    recorded: dict[str, list[object]] = {}
    for field, new in changes.items():
        old = getattr(issue, field)
        if old != new:
            setattr(issue, field, new)
            recorded[field] = [_event_value(old), _event_value(new)]
    if not recorded:
        return issue
    routed = issue.category.department if issue.category is not None else None
    if "category" in recorded and "department" not in changes and routed is not None and routed != issue.department:
        # A new category routes the issue to that category's department, unless staff
        # chose the department themselves in the same edit.
        recorded["department"] = [_event_value(issue.department), _event_value(routed)]
        issue.department = routed
    issue.full_clean()
    issue.save(update_fields=[*recorded, "updated_at"])
    IssueEvent.objects.create(
        issue=issue,
        kind=IssueEvent.Kind.UPDATED,
        actor=actor,
        actor_label=actor.get_username() if actor else "",
        data={"changes": recorded},
    )
    return issue


def _event_value(value: object) -> object:
    """Model instances are recorded by their code (categories, areas) or primary key."""
    if hasattr(value, "code"):
        return value.code
    if hasattr(value, "pk"):
        return value.pk
    return value


# ---------------------------------------------------------------------------
# Merge, move and split. Issues hold their reports through the reverse relation
# `issue.reports` (this app never imports the reports app).
#
# Each merge or move is one operation: every issue it touches gets an event, and each of
# those events carries the whole operation under `data["undo"]` (its id, which report went
# from which issue to which, every issue's fields before and after), so staff can undo it
# from any of the issues' pages and the undo can tell whether anything moved on since.


def _issue_recount(issue: Issue) -> None:
    """Report count, centroid and latest report time from the reports linked now."""
    stats = issue.reports.aggregate(
        n=Count("id"), lat=Avg("latitude"), lon=Avg("longitude"), last=Max("submitted_at")
    )
    issue.report_count = stats["n"]
    if stats["lat"] is not None:
        issue.latitude, issue.longitude = stats["lat"], stats["lon"]
    if stats["last"] is not None:
        issue.last_report_at = stats["last"]
    issue.save(update_fields=["report_count", "latitude", "longitude", "last_report_at", "updated_at"])


# The fields a merge or move changes: what an undo checks and restores.
_SNAPSHOT_FIELDS = ("status", "severity", "report_count", "latitude", "longitude")
_SNAPSHOT_TIMES = ("last_report_at", "acknowledged_at", "resolved_at", "closed_at")


def _snapshot(issue: Issue) -> dict:
    """The fields a merge or move changes, as JSON (times in UTC, so two snapshots of
    the same state compare equal)."""
    return {
        **{field: getattr(issue, field) for field in _SNAPSHOT_FIELDS},
        **{
            field: getattr(issue, field).astimezone(dt_timezone.utc).isoformat() if getattr(issue, field) else None
            for field in _SNAPSHOT_TIMES
        },
    }


def _undo_record(
    *, before: dict[int, dict | None], after: dict[int, dict], reports: dict[int, tuple[int | None, int]]
) -> dict:
    """What `issue_event_undo` needs. `before` is None for an issue the operation opened."""
    return {
        "operation": uuid.uuid4().hex,
        "issues": {str(pk): {"before": before[pk], "after": after[pk]} for pk in sorted(after)},
        "reports": {str(pk): [source, target] for pk, (source, target) in sorted(reports.items())},
    }


def _issue_close_emptied(issue: Issue, now: datetime) -> None:
    """Close an issue whose reports went elsewhere (a merge, a move, an undo): closed,
    not deleted, so its trail stays; a resolution time it had is kept."""
    issue.status, issue.closed_at = IssueStatus.CLOSED, now
    issue.resolved_at = issue.resolved_at or now
    issue.save(update_fields=["status", "closed_at", "resolved_at", "updated_at"])


@transaction.atomic
def issue_merge(*, issue_ids: list[int], actor: AbstractBaseUser | None) -> Issue:
    """Merge issues into one: an open one if any, the most reported (then the oldest),
    keeps every report; open others are closed, pointing at it. Every trail records the
    reports moved and each issue as it was, for an undo."""
    issues = list(Issue.objects.select_for_update().filter(pk__in=issue_ids).order_by("pk"))
    if len(issues) < 2:
        raise ValidationError({"issues": "Select at least two issues to merge."})
    target = max(issues, key=lambda i: (i.status in OPEN_STATUSES, i.report_count, -i.created_at.timestamp(), -i.pk))
    before = {issue.pk: _snapshot(issue) for issue in issues}
    label = actor.get_username() if actor else ""
    now = timezone.now()
    moved: dict[int, list[int]] = {}
    for source in issues:
        if source.pk == target.pk:
            continue
        moved[source.pk] = list(source.reports.order_by("pk").values_list("pk", flat=True))
        source.reports.update(issue=target)
        if _SEVERITY_RANK.get(source.severity, 0) > _SEVERITY_RANK.get(target.severity, 0):
            target.severity = source.severity
        if source.status in OPEN_STATUSES:  # closed ones keep their own closing time
            _issue_close_emptied(source, now)
        _issue_recount(source)
    target.save(update_fields=["severity", "updated_at"])
    _issue_recount(target)
    undo = _undo_record(
        before=before,
        after={issue.pk: _snapshot(issue) for issue in issues},
        reports={pk: (source_pk, target.pk) for source_pk, pks in moved.items() for pk in pks},
    )
    for source in issues:
        if source.pk != target.pk:
            IssueEvent.objects.create(
                issue=source, kind=IssueEvent.Kind.MERGED, actor=actor, actor_label=label, created_at=now,
                data={"into": target.pk, "reports": moved[source.pk], "before": before[source.pk], "undo": undo},
            )
    IssueEvent.objects.create(
        issue=target, kind=IssueEvent.Kind.MERGED, actor=actor, actor_label=label, created_at=now,
        data={"from": sorted(moved), "reports": moved, "before": before[target.pk], "undo": undo},
    )
    return target


def issue_move_reports(*, reports: QuerySet, to_issue_id: int | None, actor: AbstractBaseUser | None) -> Issue:
    """Move reports (a queryset the caller gives: this app knows no report model) to
    another issue, or (to_issue_id None) split them out into a new issue made from the
    first of them. Every issue touched is recounted and its trail says so, with what an
    undo needs; an open issue left without reports is closed.

    The pipeline and report edits lock a report before its issue, a move the other way
    round (as merges do): the rare clash between them ends in a deadlock PostgreSQL
    breaks by failing one side. Then nothing was moved, and the caller is told so."""
    try:
        return _move_reports(reports=reports, to_issue_id=to_issue_id, actor=actor)
    except OperationalError as exc:
        if not isinstance(exc.__cause__, psycopg.errors.DeadlockDetected):
            raise
        raise ValidationError({"reports": "Those reports were being changed at the same moment: nothing was moved. "
                                          "Look again and repeat the move."}) from exc


@transaction.atomic
def _move_reports(*, reports: QuerySet, to_issue_id: int | None, actor: AbstractBaseUser | None) -> Issue:
    # Issues first, then their reports, in the order merges and undos take them, so a move
    # beside a merge or an undo of the same issues waits for it instead of deadlocking.
    # The reports are read twice: which ones and where they were, then locked by id; if
    # any moved in between, staff are asked to look again.
    seen = dict(reports.values_list("pk", "issue_id"))
    if not seen:
        raise ValidationError({"reports": "Select the reports to move."})
    sources = {issue_id for issue_id in seen.values() if issue_id}
    locked = {i.pk: i for i in Issue.objects.select_for_update().filter(pk__in=sources | {to_issue_id}).order_by("pk")}
    reports = list(reports.model.objects.filter(pk__in=seen).select_for_update(of=("self",))
                   .select_related("category").order_by("submitted_at", "pk"))
    if {r.pk: r.issue_id for r in reports} != seen:
        raise ValidationError({"reports": "Those reports changed issue meanwhile: look again and repeat the move."})
    before: dict[int, dict | None] = {pk: _snapshot(issue) for pk, issue in locked.items()}
    label = actor.get_username() if actor else ""
    if to_issue_id is None:
        first = reports[0]
        # Recounted below with the rest, like every issue the move touches.
        target = _issue_open(
            text=first.description, summary=first.summary, category=first.category, severity=first.severity,
            latitude=first.latitude, longitude=first.longitude, address_key=first.address_key,
            at=first.submitted_at, actor=actor, actor_label=label, report_count=0,
            data={"split_from": sorted(sources), "reports": [r.pk for r in reports]},
        )
        before[target.pk] = None  # it did not exist: an undo closes it
    else:
        if to_issue_id not in locked:
            raise ValidationError({"issue": f"There is no issue #{to_issue_id}."})
        target = locked[to_issue_id]
        if sources == {target.pk}:
            raise ValidationError({"issue": "Those reports are already on that issue."})
    came_from = {report.pk: report.issue_id for report in reports}
    for report in reports:
        report.issue = target
        # Staff placed it: the pipeline's reasons no longer apply (kept under "from").
        report.match = {"method": "moved", "by": label, "from": report.match}
        report.save(update_fields=["issue", "match"])
    now = timezone.now()
    touched = sorted({*locked.values(), target}, key=lambda i: i.pk)
    for issue in touched:
        _issue_recount(issue)
        if issue.report_count == 0 and issue.status in OPEN_STATUSES:
            _issue_close_emptied(issue, now)
    undo = _undo_record(
        before=before,
        after={issue.pk: _snapshot(issue) for issue in touched},
        reports={pk: (source, target.pk) for pk, source in came_from.items()},
    )
    for issue in touched:
        IssueEvent.objects.create(
            issue=issue, kind=IssueEvent.Kind.REPORTS_MOVED, actor=actor, actor_label=label, created_at=now,
            data={"reports": [r.pk for r in reports], "from": sorted(sources), "to": target.pk,
                  "before": before[issue.pk], "undo": undo},
        )
    target.refresh_from_db()
    return target


# Events that change which reports an issue holds: one of them after an operation, unless
# itself undone, means the operation's state has moved on.
_GROUPING_KINDS = (
    IssueEvent.Kind.REPORT_LINKED, IssueEvent.Kind.MERGED, IssueEvent.Kind.REPORTS_MOVED, IssueEvent.Kind.UNDONE,
)


def issue_event_undoable(event: IssueEvent) -> bool:
    """Whether an event is a merge or move recorded with what an undo needs (events from
    before undo existed are not)."""
    return event.kind in (IssueEvent.Kind.MERGED, IssueEvent.Kind.REPORTS_MOVED) and bool(
        (event.data or {}).get("undo")
    )


@transaction.atomic
def issue_event_undo(*, event_id: int, actor: AbstractBaseUser | None) -> IssueEvent:
    """Undo the merge or move an event records: every report goes back to the issue it
    came from and every issue gets back the fields it had (status, severity, report
    count, centroid, times); an issue the operation opened (a split) is left closed and
    empty, its trail intact. Each issue touched gets an `undone` event pointing at the
    undone one; the one on `event_id`'s issue is returned.

    Refused (ValidationError) when the event is not an undoable merge or move, when the
    operation was undone already, or when anything it touched has moved on since: a
    report moved or linked, an issue's status or counts changed. Later merges and moves
    that were themselves undone do not count, so operations undo in reverse order."""
    event = IssueEvent.objects.filter(pk=event_id).first()
    if event is None:
        raise ValidationError({"event": f"There is no event #{event_id}."})
    if event.kind not in (IssueEvent.Kind.MERGED, IssueEvent.Kind.REPORTS_MOVED):
        raise ValidationError({"event": "Only merges and moves of reports can be undone."})
    if not issue_event_undoable(event):
        raise ValidationError({"event": "This change was recorded before changes could be undone: move the reports back by hand."})
    record = event.data["undo"]
    operation = record["operation"]
    plan = {int(pk): states for pk, states in record["issues"].items()}
    moves = {int(pk): (source, target) for pk, (source, target) in record["reports"].items()}
    issues = {i.pk: i for i in Issue.objects.select_for_update().filter(pk__in=plan).order_by("pk")}
    Report = Issue._meta.get_field("reports").related_model
    reports = {r.pk: r for r in Report.objects.select_for_update(of=("self",)).filter(pk__in=moves).order_by("pk")}

    if IssueEvent.objects.filter(issue_id__in=plan, kind=IssueEvent.Kind.UNDONE, data__operation=operation).exists():
        raise ValidationError({"event": "This change was undone already."})
    problems = _undo_obstacles(event=event, operation=operation, plan=plan, issues=issues, moves=moves, reports=reports)
    if problems:
        raise ValidationError({"event": "It cannot be undone: things moved on since. " + " ".join(problems)})

    for pk, (source, _) in moves.items():
        report = reports[pk]
        report.issue_id = source
        if event.kind == IssueEvent.Kind.REPORTS_MOVED and (report.match or {}).get("method") == "moved":
            report.match = report.match.get("from")
    Report.objects.bulk_update(list(reports.values()), ["issue", "match"])

    label = actor.get_username() if actor else ""
    now = timezone.now()
    answer = None
    for pk, issue in sorted(issues.items()):
        restored = plan[pk]["before"]
        if restored is None:
            # Opened by the operation, empty now: closed, not deleted, so its trail stays.
            _issue_recount(issue)
            _issue_close_emptied(issue, now)
        else:
            for field in _SNAPSHOT_FIELDS:
                setattr(issue, field, restored[field])
            for field in _SNAPSHOT_TIMES:
                setattr(issue, field, datetime.fromisoformat(restored[field]) if restored[field] else None)
            issue.save(update_fields=[*_SNAPSHOT_FIELDS, *_SNAPSHOT_TIMES, "updated_at"])
        undone = IssueEvent.objects.create(
            issue=issue, kind=IssueEvent.Kind.UNDONE, actor=actor, actor_label=label, created_at=now,
            data={
                "undoes": event.pk, "undoes_kind": event.kind, "operation": operation,
                "reports": {str(r): [target, source] for r, (source, target) in moves.items()
                            if pk in (source, target)},
                "restored": restored,
            },
        )
        if pk == event.issue_id:
            answer = undone
    return answer


def _undo_obstacles(
    *, event: IssueEvent, operation: str, plan: dict[int, dict], issues: dict[int, Issue],
    moves: dict[int, tuple[int | None, int]], reports: dict[int, object],
) -> list[str]:
    """What changed since the operation, in words for staff; empty when nothing did."""
    problems = []
    for pk in sorted(set(plan) - set(issues)):
        problems.append(f"Issue #{pk} no longer exists.")
    for pk, issue in sorted(issues.items()):
        current = _snapshot(issue)
        changed = [field for field, value in plan[pk]["after"].items() if current.get(field) != value]
        if changed:
            problems.append(f"Issue #{pk} changed since ({', '.join(changed)}).")
    for pk, (_, target) in sorted(moves.items()):
        report = reports.get(pk)
        if report is None:
            problems.append(f"A report it moved (id {pk}) no longer exists.")
        elif report.issue_id != target:
            problems.append(f"Report {report} is on issue #{report.issue_id} now, not #{target}.")
    later = IssueEvent.objects.filter(issue_id__in=plan, pk__gt=event.pk, kind__in=_GROUPING_KINDS).order_by("pk")
    undone_since = {e.data.get("operation") for e in later if e.kind == IssueEvent.Kind.UNDONE}
    for other in later:
        if other.kind == IssueEvent.Kind.UNDONE:
            continue
        other_operation = ((other.data or {}).get("undo") or {}).get("operation")
        if other_operation == operation or (other_operation and other_operation in undone_since):
            continue
        problems.append(f"Issue #{other.issue_id}: {other.get_kind_display().lower()} on "
                        f"{other.created_at:%Y-%m-%d %H:%M} (undo that first, if it was a merge or move).")
    return list(dict.fromkeys(problems))
