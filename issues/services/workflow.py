"""The workflow of an issue: status transitions, assignment, notes, staff edits, placing
an issue on the map, and its trail. `issue_event_record` is the one place an IssueEvent
row is written; every other write here and elsewhere goes through it."""

from datetime import datetime

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from issues.models import Issue, IssueEvent, IssueNote, IssueStatus
from issues.selectors import area_for_point
from issues.signals import issue_public_change, issue_public_change_recorded

TRANSITIONS: dict[str, frozenset[str]] = {
    IssueStatus.OPEN: frozenset(
        {IssueStatus.ACKNOWLEDGED, IssueStatus.IN_PROGRESS, IssueStatus.RESOLVED, IssueStatus.CLOSED}
    ),
    IssueStatus.ACKNOWLEDGED: frozenset({IssueStatus.IN_PROGRESS, IssueStatus.RESOLVED, IssueStatus.CLOSED}),
    IssueStatus.IN_PROGRESS: frozenset({IssueStatus.ACKNOWLEDGED, IssueStatus.RESOLVED, IssueStatus.CLOSED}),
    # Reopening: a resolved or closed issue goes back to open.
    IssueStatus.RESOLVED: frozenset({IssueStatus.CLOSED, IssueStatus.OPEN}),
    IssueStatus.CLOSED: frozenset({IssueStatus.OPEN}),
}


class TransitionError(ValidationError):
    pass


def issue_event_record(
    *,
    issue_id: int,
    kind: str,
    actor: User | None = None,
    actor_label: str = "",
    data: dict,
    at: datetime | None = None,
) -> IssueEvent:
    """Add to an issue's trail what happened to it: here (a status change, an edit), in
    grouping (opened, a report linked) or elsewhere (a report corrected or moved, a clock
    paused); `at` when it happened earlier than now. Without a label, the actor's user
    name is recorded as who acted."""
    return IssueEvent.objects.create(
        issue_id=issue_id,
        kind=kind,
        actor=actor,
        actor_label=actor_label or (actor.get_username() if actor else ""),
        data=data,
        created_at=at or timezone.now(),
    )


@transaction.atomic
def issue_transition(
    *,
    issue_id: int,
    to_status: str,
    actor: User | None = None,
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
        allowed = ", ".join(sorted(str(IssueStatus(s).label) for s in TRANSITIONS[current]))
        raise TransitionError(
            {
                "status": f"An issue that is {IssueStatus(current).label.lower()} cannot become "
                f"{IssueStatus(to_status).label.lower()}; it can become: {allowed}."
            }
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
    event = issue_event_record(
        issue_id=issue.pk,
        kind=IssueEvent.Kind.STATUS_CHANGED,
        actor=actor,
        actor_label=actor_label,
        at=at,
        data={"from": current, "to": to_status, **({"note": note} if note else {})},
    )
    _announce(event)
    return issue


@transaction.atomic
def issue_assign(
    *,
    issue_id: int,
    assignee: User | None,
    actor: User | None = None,
    actor_label: str = "",
) -> Issue:
    issue = Issue.objects.select_for_update().get(pk=issue_id)
    previous = issue.assignee_id
    issue.assignee = assignee
    issue.save(update_fields=["assignee", "updated_at"])
    issue_event_record(
        issue_id=issue.pk,
        kind=IssueEvent.Kind.ASSIGNED,
        actor=actor,
        actor_label=actor_label,
        data={"from": previous, "to": assignee.pk if assignee else None},
    )
    return issue


@transaction.atomic
def issue_note_add(
    *,
    issue_id: int,
    body: str,
    visibility: str,
    author: User | None,
    actor_label: str = "",
) -> IssueNote:
    """Add a public or internal note, and record it on the trail."""
    if not body.strip():
        raise ValidationError({"body": "Write something in the note."})
    if visibility not in IssueNote.Visibility.values:
        raise ValidationError({"visibility": f"Choose {' or '.join(IssueNote.Visibility.values)}."})
    note = IssueNote.objects.create(issue_id=issue_id, body=body, visibility=visibility, author=author)
    event = issue_event_record(
        issue_id=issue_id,
        kind=IssueEvent.Kind.NOTE_ADDED,
        actor=author,
        actor_label=actor_label,
        data={"note": note.pk, "visibility": visibility},
    )
    if visibility == IssueNote.Visibility.PUBLIC:
        _announce(event)
    return note


def _announce(event: IssueEvent) -> None:
    """Tell listeners (resident notifications) once the change is committed. The pending
    marker listeners write commits with the change: a message lost after the commit is sent
    by the sweep."""
    issue_public_change_recorded.send(sender=IssueEvent, event_id=event.pk)
    transaction.on_commit(lambda: issue_public_change.send(sender=IssueEvent, event_id=event.pk))


@transaction.atomic
def issue_place(*, issue_id: int, latitude: float, longitude: float, actor: User | None, data: dict) -> Issue:
    """Give an issue that had no point (address-only reports) the point staff found; an
    issue that has one keeps it. Recorded either way."""
    issue = Issue.objects.select_for_update().get(pk=issue_id)
    placed = issue.latitude is None
    if placed:
        issue.latitude, issue.longitude, issue.address_key = latitude, longitude, ""
        issue.area = area_for_point(latitude, longitude)
        issue.save(update_fields=["latitude", "longitude", "address_key", "area", "updated_at"])
    issue_event_record(
        issue_id=issue.pk,
        kind=IssueEvent.Kind.UPDATED,
        actor=actor,
        data={**data, "placed": placed, "point": [latitude, longitude]},
    )
    return issue


# Fields staff may edit directly on an issue; status and assignment have their own services.
EDITABLE_FIELDS = ("title", "summary", "category", "severity", "area", "department")


@transaction.atomic
def issue_update(*, issue_id: int, actor: User | None, **changes: object) -> Issue:
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
    if (
        "category" in recorded
        and "department" not in changes
        and routed is not None
        and routed != issue.department
    ):
        # A new category routes the issue to that category's department, unless staff
        # chose the department themselves in the same edit.
        recorded["department"] = [_event_value(issue.department), _event_value(routed)]
        issue.department = routed
    issue.full_clean()
    issue.save(update_fields=[*recorded, "updated_at"])
    issue_event_record(
        issue_id=issue.pk, kind=IssueEvent.Kind.UPDATED, actor=actor, data={"changes": recorded}
    )
    return issue


def _event_value(value: object) -> object:
    """Model instances are recorded by their code (categories, areas) or primary key."""
    if hasattr(value, "code"):
        return value.code
    if hasattr(value, "pk"):
        return value.pk
    return value
