"""What merges, moves, splits and their undos change on the issues themselves. Those
operations move reports, so the reports app carries them out and calls these for every
write on an issue: its counts, its severity, its closing, the snapshot an undo compares
and restores.

Each operation's record (`data["undo"]` on the events it leaves) keeps every issue it
touched as `issue_snapshot` saw it before and after, so an undo can tell whether
anything moved on since and put back exactly what was there."""

from datetime import UTC, datetime

from issues.models import Issue, IssueStatus, Severity

# Severities from the least to the most urgent.
_SEVERITY_RANK = {s: i for i, s in enumerate(Severity.values)}

# The fields a merge or move changes: what an undo checks and restores.
SNAPSHOT_FIELDS = ("status", "severity", "report_count", "latitude", "longitude")
SNAPSHOT_TIMES = ("last_report_at", "acknowledged_at", "resolved_at", "closed_at")


def severity_rank(severity: str) -> int:
    """How urgent a severity is, for comparisons; an unknown or empty one ranks lowest."""
    return _SEVERITY_RANK.get(severity, 0)


def issue_recount(
    *,
    issue: Issue,
    report_count: int,
    latitude: float | None,
    longitude: float | None,
    last_report_at: datetime | None,
) -> None:
    """Store what the caller counted from the reports linked to the issue now (this app
    knows no report model): their number, their centroid and the latest one's time. A
    centroid or time of None (no located report, no report) leaves the issue's own."""
    issue.report_count = report_count
    if latitude is not None:
        issue.latitude, issue.longitude = latitude, longitude
    if last_report_at is not None:
        issue.last_report_at = last_report_at
    issue.save(update_fields=["report_count", "latitude", "longitude", "last_report_at", "updated_at"])


def issue_severity_raise(*, issue: Issue, severity: str) -> None:
    """Give the issue this severity if it is worse than its own (a merge: the merged
    issue is as urgent as the worst of them); never lowers it."""
    if severity_rank(severity) > severity_rank(issue.severity):
        issue.severity = severity
    issue.save(update_fields=["severity", "updated_at"])


def issue_close_emptied(*, issue: Issue, at: datetime) -> None:
    """Close an issue whose reports went elsewhere (a merge, a move, an undo): closed,
    not deleted, so its trail stays; a resolution time it had is kept."""
    issue.status, issue.closed_at = IssueStatus.CLOSED, at
    issue.resolved_at = issue.resolved_at or at
    issue.save(update_fields=["status", "closed_at", "resolved_at", "updated_at"])


def issue_snapshot(*, issue: Issue) -> dict:
    """The fields a merge or move changes, as JSON (times in UTC, so two snapshots of
    the same state compare equal)."""
    return {
        **{field: getattr(issue, field) for field in SNAPSHOT_FIELDS},
        **{
            field: getattr(issue, field).astimezone(UTC).isoformat() if getattr(issue, field) else None
            for field in SNAPSHOT_TIMES
        },
    }


def issue_snapshot_restore(*, issue: Issue, snapshot: dict) -> None:
    """Give the issue back the fields `issue_snapshot` recorded (an undo)."""
    for field in SNAPSHOT_FIELDS:
        setattr(issue, field, snapshot[field])
    for field in SNAPSHOT_TIMES:
        setattr(issue, field, datetime.fromisoformat(snapshot[field]) if snapshot[field] else None)
    issue.save(update_fields=[*SNAPSHOT_FIELDS, *SNAPSHOT_TIMES, "updated_at"])
