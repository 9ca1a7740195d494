"""Writes on the taxonomy and on issues: grouping reports into issues, the workflow."""
import zlib
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Avg, Count, Max, QuerySet
from django.utils import timezone

from issues.defaults import CATEGORIES_BY_KIND, DEPARTMENTS_BY_KIND
from issues.geo import cells_within
from issues.models import (
    OPEN_STATUSES,
    Area,
    Category,
    Department,
    Issue,
    IssueEvent,
    IssueNote,
    IssueStatus,
    Severity,
)
from issues.selectors import Candidate, area_for_point, category_compatible_ids, issue_candidates
from issues.signals import issue_public_change


@transaction.atomic
def taxonomy_install_defaults(*, tenant: object) -> int:
    """Give a new tenant the categories of its kind, in the current schema. Idempotent:
    categories that exist (by code) are left as staff edited them. Returns how many
    were created."""
    defaults = CATEGORIES_BY_KIND.get(getattr(tenant, "kind", ""), CATEGORIES_BY_KIND["facility"])
    existing = set(Category.objects.values_list("code", flat=True))
    created = Category.objects.bulk_create(
        Category(
            code=d.code,
            name=d.name,
            description=d.description,
            keywords=list(d.keywords),
            default_severity=d.severity,
        )
        for d in defaults
        if d.code not in existing
    )
    _departments_install_defaults(getattr(tenant, "kind", ""))
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
) -> GroupingResult:
    """Link a report (given by its fields; this app knows nothing of reports) to the best
    matching open issue, or open a new issue for it. The returned `match` says why."""
    radius = category.group_radius_m if category else 50
    window = category.group_window_hours if category else 168
    min_similarity = category.group_min_similarity if category else 0.1
    _lock_neighbourhood(latitude=latitude, longitude=longitude, address_key=address_key, radius_m=radius)
    candidates = issue_candidates(
        latitude=latitude,
        longitude=longitude,
        address_key=address_key,
        at=at,
        text=text,
        category_ids=category_compatible_ids(category),
        radius_m=radius,
        window_hours=window,
        min_similarity=min_similarity,
    )
    thresholds = {"radius_m": radius, "window_hours": window, "min_similarity": min_similarity}
    best = _best(candidates, radius, window)
    issue = None
    if best is not None:
        match = {
            "method": "geo" if latitude is not None else "address",
            "distance_m": None if best.distance_m is None else round(best.distance_m, 1),
            "time_gap_s": round(best.time_gap_s),
            "similarity": round(best.similarity, 3),
            "score": round(_score(best, radius, window), 3),
            "candidates": len(candidates),
            "thresholds": thresholds,
        }
        issue = _issue_attach(
            issue_id=best.issue_id, latitude=latitude, longitude=longitude, severity=severity, at=at,
            actor_label=actor_label, data={"report": report_ref, **match},
        )
    if issue is None:  # nothing matched, or staff closed the match since the candidate query
        issue = _issue_open(
            text=text, summary=summary, category=category, severity=severity, latitude=latitude,
            longitude=longitude, address_key=address_key, at=at, actor_label=actor_label,
            data={"report": report_ref},
        )
        return GroupingResult(issue, True, {"method": "new", "candidates": len(candidates), "thresholds": thresholds})
    return GroupingResult(issue, False, match)


def _score(c: Candidate, radius: float, window: int) -> float:
    """Similarity counts most, then closeness in space and in time (each 0..1)."""
    closeness = 1.0 - (c.distance_m or 0.0) / radius if radius else 1.0
    recency = max(0.0, 1.0 - c.time_gap_s / (window * 3600)) if window else 1.0
    return 0.5 * c.similarity + 0.3 * closeness + 0.2 * recency


def _best(candidates: list[Candidate], radius: float, window: int) -> Candidate | None:
    return max(candidates, key=lambda c: _score(c, radius, window), default=None)


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
def issue_assign(*, issue_id: int, assignee: AbstractBaseUser | None, actor: AbstractBaseUser | None = None) -> Issue:
    issue = Issue.objects.select_for_update().get(pk=issue_id)
    previous = issue.assignee_id
    issue.assignee = assignee
    issue.save(update_fields=["assignee", "updated_at"])
    IssueEvent.objects.create(
        issue=issue,
        kind=IssueEvent.Kind.ASSIGNED,
        actor=actor,
        actor_label=actor.get_username() if actor else "",
        data={"from": previous, "to": assignee.pk if assignee else None},
    )
    return issue




def issue_event_record(
    *, issue_id: int, kind: str, actor: AbstractBaseUser | None = None, actor_label: str = "", data: dict
) -> IssueEvent:
    """Add to an issue's trail what happened to it from elsewhere (a report corrected)."""
    return IssueEvent.objects.create(
        issue_id=issue_id, kind=kind, actor=actor,
        actor_label=actor_label or (actor.get_username() if actor else ""), data=data,
    )


@transaction.atomic
def issue_note_add(*, issue_id: int, body: str, visibility: str, author: AbstractBaseUser | None) -> IssueNote:
    """Add a public or internal note, and record it on the trail."""
    if not body.strip():
        raise ValidationError({"body": "Write something in the note."})
    if visibility not in IssueNote.Visibility.values:
        raise ValidationError({"visibility": f"Choose {' or '.join(IssueNote.Visibility.values)}."})
    note = IssueNote.objects.create(issue_id=issue_id, body=body, visibility=visibility, author=author)
    event = issue_event_record(
        issue_id=issue_id, kind=IssueEvent.Kind.NOTE_ADDED, actor=author,
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


def _snapshot(issue: Issue) -> dict:
    """The fields a merge or move changes, as they were: what an undo restores."""
    return {
        "status": issue.status, "report_count": issue.report_count, "latitude": issue.latitude,
        "longitude": issue.longitude, "severity": issue.severity, "closed_at": issue.closed_at.isoformat() if issue.closed_at else None,
    }


@transaction.atomic
def issue_merge(*, issue_ids: list[int], actor: AbstractBaseUser | None) -> Issue:
    """Merge issues into one: an open one if any, the most reported (then the oldest),
    keeps every report; open others are closed, pointing at it. Both trails record the
    reports moved and each issue as it was, for an undo."""
    issues = list(Issue.objects.select_for_update().filter(pk__in=issue_ids).order_by("pk"))
    if len(issues) < 2:
        raise ValidationError({"issues": "Select at least two issues to merge."})
    target = max(issues, key=lambda i: (i.status in OPEN_STATUSES, i.report_count, -i.created_at.timestamp(), -i.pk))
    target_before = _snapshot(target)
    label = actor.get_username() if actor else ""
    now = timezone.now()
    moved: dict[int, list[int]] = {}
    for source in issues:
        if source.pk == target.pk:
            continue
        before = _snapshot(source)
        moved[source.pk] = list(source.reports.values_list("pk", flat=True))
        source.reports.update(issue=target)
        if _SEVERITY_RANK.get(source.severity, 0) > _SEVERITY_RANK.get(target.severity, 0):
            target.severity = source.severity
        if source.status in OPEN_STATUSES:  # closed ones keep their own closing time
            source.status = IssueStatus.CLOSED
            source.closed_at = now
            source.resolved_at = source.resolved_at or now
            source.save(update_fields=["status", "closed_at", "resolved_at", "updated_at"])
        _issue_recount(source)
        IssueEvent.objects.create(
            issue=source, kind=IssueEvent.Kind.MERGED, actor=actor, actor_label=label,
            data={"into": target.pk, "reports": moved[source.pk], "before": before},
        )
    target.save(update_fields=["severity", "updated_at"])
    _issue_recount(target)
    IssueEvent.objects.create(
        issue=target, kind=IssueEvent.Kind.MERGED, actor=actor, actor_label=label,
        data={"from": sorted(moved), "reports": moved, "before": target_before},
    )
    return target


@transaction.atomic
def issue_move_reports(*, reports: QuerySet, to_issue_id: int | None, actor: AbstractBaseUser | None) -> Issue:
    """Move reports (a queryset the caller gives: this app knows no report model) to
    another issue, or (to_issue_id None) split them out into a new issue made from the
    first of them. Every issue touched is recounted and its trail says so; an open issue
    left without reports is closed."""
    reports = list(reports.select_for_update(of=("self",)).select_related("category").order_by("submitted_at", "pk"))
    if not reports:
        raise ValidationError({"reports": "Select the reports to move."})
    sources = {r.issue_id for r in reports if r.issue_id}
    # Every existing issue involved is locked at once, in pk order, as merges lock them.
    locked = {i.pk: i for i in Issue.objects.select_for_update().filter(pk__in=sources | {to_issue_id}).order_by("pk")}
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
    else:
        if to_issue_id not in locked:
            raise ValidationError({"issue": f"There is no issue #{to_issue_id}."})
        target = locked[to_issue_id]
        if sources == {target.pk}:
            raise ValidationError({"issue": "Those reports are already on that issue."})
    for report in reports:
        report.issue = target
        # Staff placed it: the pipeline's reasons no longer apply.
        report.match = {"method": "moved", "by": label, "from": report.match}
        report.save(update_fields=["issue", "match"])
    now = timezone.now()
    for issue in sorted({*locked.values(), target}, key=lambda i: i.pk):
        before = _snapshot(issue)
        _issue_recount(issue)
        if issue.report_count == 0 and issue.status in OPEN_STATUSES:
            issue.status, issue.closed_at = IssueStatus.CLOSED, now
            issue.resolved_at = issue.resolved_at or now
            issue.save(update_fields=["status", "closed_at", "resolved_at", "updated_at"])
        IssueEvent.objects.create(
            issue=issue, kind=IssueEvent.Kind.REPORTS_MOVED, actor=actor, actor_label=label,
            data={"reports": [r.pk for r in reports], "from": sorted(sources), "to": target.pk, "before": before},
        )
    target.refresh_from_db()
    return target
