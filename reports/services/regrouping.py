"""Regrouping reports between issues, by staff: merging issues, moving reports to another
issue or splitting them out into a new one, and undoing any of those. They move Report
rows, so they live here; every write on an issue goes through issues' services
(issues.services.operations and the trail's issue_event_record).

Each merge or move is one operation: every issue it touches gets an event, and each of
those events carries the whole operation under `data["undo"]` (its id, which report went
from which issue to which, every issue's fields before and after), so staff can undo it
from any of the issues' pages and the undo can tell whether anything moved on since."""

import uuid
from collections.abc import Mapping

import psycopg
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import OperationalError, transaction
from django.db.models import Avg, Count, Max, QuerySet
from django.utils import timezone

from issues.models import OPEN_STATUSES, Issue, IssueEvent
from issues.services.grouping import issue_open
from issues.services.operations import (
    issue_close_emptied,
    issue_recount,
    issue_severity_raise,
    issue_snapshot,
    issue_snapshot_restore,
    severity_rank,
)
from issues.services.workflow import issue_event_record
from reports.models import Report


def _issue_recount(issue: Issue) -> None:
    """Report count, centroid and latest report time from the reports linked now."""
    stats = Report.objects.filter(issue=issue).aggregate(
        n=Count("id"), lat=Avg("latitude"), lon=Avg("longitude"), last=Max("submitted_at")
    )
    issue_recount(
        issue=issue,
        report_count=stats["n"],
        latitude=stats["lat"],
        longitude=stats["lon"],
        last_report_at=stats["last"],
    )


def _undo_record(
    *,
    before: Mapping[int, dict | None],
    after: Mapping[int, dict],
    reports: Mapping[int, tuple[int | None, int]],
) -> dict:
    """What `issue_event_undo` needs. `before` is None for an issue the operation opened."""
    return {
        "operation": uuid.uuid4().hex,
        "issues": {str(pk): {"before": before[pk], "after": after[pk]} for pk in sorted(after)},
        "reports": {str(pk): [source, target] for pk, (source, target) in sorted(reports.items())},
    }


@transaction.atomic
def issue_merge(*, issue_ids: list[int], actor: User | None) -> Issue:
    """Merge issues into one: an open one if any, the most reported (then the oldest),
    keeps every report; open others are closed, pointing at it. Every trail records the
    reports moved and each issue as it was, for an undo."""
    issues = list(Issue.objects.select_for_update().filter(pk__in=issue_ids).order_by("pk"))
    if len(issues) < 2:
        raise ValidationError({"issues": "Select at least two issues to merge."})
    target = max(
        issues, key=lambda i: (i.status in OPEN_STATUSES, i.report_count, -i.created_at.timestamp(), -i.pk)
    )
    sources = [issue for issue in issues if issue.pk != target.pk]
    before = {issue.pk: issue_snapshot(issue=issue) for issue in issues}
    label = actor.get_username() if actor else ""
    now = timezone.now()
    moved: dict[int, list[int]] = {}
    for source in sources:
        moved[source.pk] = list(
            Report.objects.filter(issue=source).order_by("pk").values_list("pk", flat=True)
        )
        Report.objects.filter(issue=source).update(issue=target)
        if source.status in OPEN_STATUSES:  # closed ones keep their own closing time
            issue_close_emptied(issue=source, at=now)
        _issue_recount(source)
    # The merged issue is as urgent as the worst of them.
    issue_severity_raise(issue=target, severity=max((s.severity for s in sources), key=severity_rank))
    _issue_recount(target)
    undo = _undo_record(
        before=before,
        after={issue.pk: issue_snapshot(issue=issue) for issue in issues},
        reports={pk: (source_pk, target.pk) for source_pk, pks in moved.items() for pk in pks},
    )
    for source in sources:
        issue_event_record(
            issue_id=source.pk,
            kind=IssueEvent.Kind.MERGED,
            actor=actor,
            actor_label=label,
            at=now,
            data={"into": target.pk, "reports": moved[source.pk], "before": before[source.pk], "undo": undo},
        )
    issue_event_record(
        issue_id=target.pk,
        kind=IssueEvent.Kind.MERGED,
        actor=actor,
        actor_label=label,
        at=now,
        data={"from": sorted(moved), "reports": moved, "before": before[target.pk], "undo": undo},
    )
    return target


def issue_move_reports(*, reports: QuerySet[Report], to_issue_id: int | None, actor: User | None) -> Issue:
    """Move reports to another issue, or (to_issue_id None) split them out into a new
    issue made from the first of them. Every issue touched is recounted and its trail
    says so, with what an undo needs; an open issue left without reports is closed.

    The pipeline and report edits lock a report before its issue, a move the other way
    round (as merges do): the rare clash between them ends in a deadlock PostgreSQL
    breaks by failing one side. Then nothing was moved, and the caller is told so."""
    try:
        return _move_reports(reports=reports, to_issue_id=to_issue_id, actor=actor)
    except OperationalError as exc:
        if not isinstance(exc.__cause__, psycopg.errors.DeadlockDetected):
            raise
        raise ValidationError(
            {
                "reports": "Those reports were being changed at the same moment: nothing was moved. "
                "Look again and repeat the move."
            }
        ) from exc


@transaction.atomic
def _move_reports(*, reports: QuerySet[Report], to_issue_id: int | None, actor: User | None) -> Issue:
    # Issues first, then their reports, in the order merges and undos take them, so a move
    # beside a merge or an undo of the same issues waits for it instead of deadlocking.
    # The reports are read twice: which ones and where they were, then locked by id; if
    # any moved in between, staff are asked to look again.
    seen = dict(reports.values_list("pk", "issue_id"))
    if not seen:
        raise ValidationError({"reports": "Select the reports to move."})
    sources = {issue_id for issue_id in seen.values() if issue_id}
    locked = {
        i.pk: i
        for i in Issue.objects.select_for_update().filter(pk__in=sources | {to_issue_id}).order_by("pk")
    }
    rows = list(
        Report.objects.filter(pk__in=seen)
        .select_for_update(of=("self",))
        .select_related("category")
        .order_by("submitted_at", "pk")
    )
    if {r.pk: r.issue_id for r in rows} != seen:
        raise ValidationError(
            {"reports": "Those reports changed issue meanwhile: look again and repeat the move."}
        )
    before: dict[int, dict | None] = {pk: issue_snapshot(issue=issue) for pk, issue in locked.items()}
    label = actor.get_username() if actor else ""
    if to_issue_id is None:
        first = rows[0]
        # Recounted below with the rest, like every issue the move touches.
        target = issue_open(
            text=first.description,
            summary=first.summary,
            category=first.category,
            severity=first.severity,
            latitude=first.latitude,
            longitude=first.longitude,
            address_key=first.address_key,
            at=first.submitted_at,
            actor=actor,
            actor_label=label,
            report_count=0,
            data={"split_from": sorted(sources), "reports": [r.pk for r in rows]},
        )
        before[target.pk] = None  # it did not exist: an undo closes it
    else:
        if to_issue_id not in locked:
            raise ValidationError({"issue": f"There is no issue #{to_issue_id}."})
        target = locked[to_issue_id]
        if sources == {target.pk}:
            raise ValidationError({"issue": "Those reports are already on that issue."})
    came_from = {report.pk: report.issue_id for report in rows}
    for report in rows:
        report.issue = target
        # Staff placed it: the pipeline's reasons no longer apply (kept under "from").
        report.match = {"method": "moved", "by": label, "from": report.match}
        report.save(update_fields=["issue", "match"])
    now = timezone.now()
    touched = sorted({*locked.values(), target}, key=lambda i: i.pk)
    for issue in touched:
        _issue_recount(issue)
        if issue.report_count == 0 and issue.status in OPEN_STATUSES:
            issue_close_emptied(issue=issue, at=now)
    undo = _undo_record(
        before=before,
        after={issue.pk: issue_snapshot(issue=issue) for issue in touched},
        reports={pk: (source, target.pk) for pk, source in came_from.items()},
    )
    for issue in touched:
        issue_event_record(
            issue_id=issue.pk,
            kind=IssueEvent.Kind.REPORTS_MOVED,
            actor=actor,
            actor_label=label,
            at=now,
            data={
                "reports": [r.pk for r in rows],
                "from": sorted(sources),
                "to": target.pk,
                "before": before[issue.pk],
                "undo": undo,
            },
        )
    target.refresh_from_db()
    return target


# Events that change which reports an issue holds: one of them after an operation, unless
# itself undone, means the operation's state has moved on.
_GROUPING_KINDS = (
    IssueEvent.Kind.REPORT_LINKED,
    IssueEvent.Kind.MERGED,
    IssueEvent.Kind.REPORTS_MOVED,
    IssueEvent.Kind.UNDONE,
)


def issue_event_undoable(event: IssueEvent) -> bool:
    """Whether an event is a merge or move recorded with what an undo needs (events from
    before undo existed are not)."""
    return event.kind in (IssueEvent.Kind.MERGED, IssueEvent.Kind.REPORTS_MOVED) and bool(
        (event.data or {}).get("undo")
    )


@transaction.atomic
def issue_event_undo(*, event_id: int, actor: User | None) -> IssueEvent | None:
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
        raise ValidationError(
            {
                "event": "This change was recorded before changes could be undone: move the reports back by hand."
            }
        )
    record = event.data["undo"]
    operation = record["operation"]
    plan = {int(pk): states for pk, states in record["issues"].items()}
    moves = {int(pk): (source, target) for pk, (source, target) in record["reports"].items()}
    issues = {i.pk: i for i in Issue.objects.select_for_update().filter(pk__in=plan).order_by("pk")}
    reports = {
        r.pk: r for r in Report.objects.select_for_update(of=("self",)).filter(pk__in=moves).order_by("pk")
    }

    if IssueEvent.objects.filter(
        issue_id__in=plan, kind=IssueEvent.Kind.UNDONE, data__operation=operation
    ).exists():
        raise ValidationError({"event": "This change was undone already."})
    problems = _undo_obstacles(
        event=event, operation=operation, plan=plan, issues=issues, moves=moves, reports=reports
    )
    if problems:
        raise ValidationError({"event": "It cannot be undone: things moved on since. " + " ".join(problems)})

    for pk, (source, _) in moves.items():
        report = reports[pk]
        report.issue_id = source
        match = report.match or {}
        if event.kind == IssueEvent.Kind.REPORTS_MOVED and match.get("method") == "moved":
            report.match = match.get("from")
    Report.objects.bulk_update(list(reports.values()), ["issue", "match"])

    label = actor.get_username() if actor else ""
    now = timezone.now()
    answer = None
    for pk, issue in sorted(issues.items()):
        restored = plan[pk]["before"]
        if restored is None:
            # Opened by the operation, empty now: closed, not deleted, so its trail stays.
            _issue_recount(issue)
            issue_close_emptied(issue=issue, at=now)
        else:
            issue_snapshot_restore(issue=issue, snapshot=restored)
        undone = issue_event_record(
            issue_id=issue.pk,
            kind=IssueEvent.Kind.UNDONE,
            actor=actor,
            actor_label=label,
            at=now,
            data={
                "undoes": event.pk,
                "undoes_kind": event.kind,
                "operation": operation,
                "reports": {
                    str(r): [target, source]
                    for r, (source, target) in moves.items()
                    if pk in (source, target)
                },
                "restored": restored,
            },
        )
        if pk == event.issue_id:
            answer = undone
    return answer


def _undo_obstacles(
    *,
    event: IssueEvent,
    operation: str,
    plan: dict[int, dict],
    issues: dict[int, Issue],
    moves: dict[int, tuple[int | None, int]],
    reports: dict[int, Report],
) -> list[str]:
    """What changed since the operation, in words for staff; empty when nothing did."""
    problems = []
    for pk in sorted(set(plan) - set(issues)):
        problems.append(f"Issue #{pk} no longer exists.")
    for pk, issue in sorted(issues.items()):
        current = issue_snapshot(issue=issue)
        changed = [field for field, value in plan[pk]["after"].items() if current.get(field) != value]
        if changed:
            problems.append(f"Issue #{pk} changed since ({', '.join(changed)}).")
    for pk, (_, target) in sorted(moves.items()):
        report = reports.get(pk)
        if report is None:
            problems.append(f"A report it moved (id {pk}) no longer exists.")
        elif report.issue_id != target:
            problems.append(f"Report {report} is on issue #{report.issue_id} now, not #{target}.")
    later = IssueEvent.objects.filter(issue_id__in=plan, pk__gt=event.pk, kind__in=_GROUPING_KINDS).order_by(
        "pk"
    )
    undone_since = {e.data.get("operation") for e in later if e.kind == IssueEvent.Kind.UNDONE}
    for other in later:
        if other.kind == IssueEvent.Kind.UNDONE:
            continue
        other_operation = ((other.data or {}).get("undo") or {}).get("operation")
        if other_operation == operation or (other_operation and other_operation in undone_since):
            continue
        problems.append(
            f"Issue #{other.issue_id}: {other.get_kind_display().lower()} on "
            f"{other.created_at:%Y-%m-%d %H:%M} (undo that first, if it was a merge or move)."
        )
    return list(dict.fromkeys(problems))
