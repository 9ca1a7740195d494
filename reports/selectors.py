"""Reads on reports and API keys."""
from issues.models import IssueEvent, IssueNote, IssueStatus
from reports.models import TRACKING_ALPHABET, ApiKey, Report
from reports.services import api_key_digest

# Crockford decoding: what people mistype for what they meant.
_LOOKALIKES = str.maketrans({"I": "1", "L": "1", "O": "0", "U": "V"})


def normalise_tracking_id(value: str) -> str:
    cleaned = value.upper().replace("-", "").replace(" ", "").translate(_LOOKALIKES)
    return cleaned if cleaned and all(ch in TRACKING_ALPHABET for ch in cleaned) else ""


def report_by_tracking_id(tracking_id: str) -> Report | None:
    normalised = normalise_tracking_id(tracking_id)
    if not normalised:
        return None
    return Report.objects.select_related("category", "issue").filter(tracking_id=normalised).first()


def api_key_for(key: str) -> ApiKey | None:
    """The active key with this value, if any."""
    return ApiKey.objects.filter(digest=api_key_digest(key), revoked_at=None).first()


def report_public_history(report: Report) -> dict:
    """What a resident may see of the issue their report joined: its status changes over
    time and how many others reported the same. Nothing staff-only."""
    issue = report.issue
    if issue is None:
        return {"issue": None, "history": [], "notes": [], "others": 0}
    history = [
        {"at": event.created_at, "status": IssueStatus(event.data["to"]).label}
        for event in issue.events.filter(kind=IssueEvent.Kind.STATUS_CHANGED).order_by("created_at", "id")
    ]
    notes = list(issue.notes.filter(visibility=IssueNote.Visibility.PUBLIC).order_by("created_at", "id"))
    return {"issue": issue, "history": history, "notes": notes, "others": max(issue.report_count - 1, 0)}
