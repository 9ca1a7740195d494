"""Reads on reports."""

import uuid
from typing import TypeAlias, TypedDict, TypeVar

from django.db.models import OuterRef, Prefetch, QuerySet, Subquery
from django_stubs_ext import WithAnnotations

from issues.models import IssueEvent, IssueNote, IssueStatus
from reports.models import TRACKING_ALPHABET, Location, Report

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


def report_by_public_id(public_id: uuid.UUID) -> Report | None:
    return Report.objects.filter(public_id=public_id).first()


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


class _StatusNote(TypedDict):
    status_note: str | None  # the body of the issue's latest public note


# A report as reports_for_open311 reads it. Quoted: on Python 3.11 the alias cannot be
# subscripted with two arguments at run time.
Open311Report: TypeAlias = "WithAnnotations[Report, _StatusNote]"


def reports_for_open311() -> QuerySet[Open311Report]:
    """Reports with what an Open311 service request shows, in one query: the category,
    the issue with its department and SLA state, and the issue's latest public note
    (never an internal one)."""
    latest_public_note = (
        IssueNote.objects.filter(issue_id=OuterRef("issue_id"), visibility=IssueNote.Visibility.PUBLIC)
        .order_by("-created_at", "-id")
        .values("body")[:1]
    )
    return Report.objects.select_related(
        "category__department",
        "issue__department",
        "issue__category",
        "issue__sla",
    ).annotate(status_note=Subquery(latest_public_note))


_ReportT = TypeVar("_ReportT", bound=Report)

# Where with_public_trail leaves an issue's public trail (Prefetch's to_attr: lists set
# on each issue, which the model cannot declare) for report_public_trail to read.
_STATUS_EVENTS, _PUBLIC_NOTES = "public_status_events", "public_notes"


def with_public_trail(reports: QuerySet[_ReportT]) -> QuerySet[_ReportT]:
    """Prefetch what report_public_trail reads, two queries for a whole page."""
    return reports.prefetch_related(
        Prefetch(
            "issue__events",
            queryset=IssueEvent.objects.filter(kind=IssueEvent.Kind.STATUS_CHANGED).order_by(
                "created_at", "id"
            ),
            to_attr=_STATUS_EVENTS,
        ),
        Prefetch(
            "issue__notes",
            queryset=IssueNote.objects.filter(visibility=IssueNote.Visibility.PUBLIC).order_by(
                "created_at", "id"
            ),
            to_attr=_PUBLIC_NOTES,
        ),
    )


def report_public_trail(report: Report) -> list[dict]:
    """A report's public history, oldest first, as Open311's `notes` extension shows it:
    submitted, each status change of its issue, and each public note (never an internal
    one). The report must come through with_public_trail."""
    trail: list[dict] = [{"datetime": report.submitted_at, "type": "submitted", "description": "Submitted"}]
    issue = report.issue
    if issue is not None:
        events: list[IssueEvent] = getattr(issue, _STATUS_EVENTS)
        notes: list[IssueNote] = getattr(issue, _PUBLIC_NOTES)
        for event in events:
            trail.append(
                {
                    "datetime": event.created_at,
                    "type": event.data["to"],
                    "description": IssueStatus(event.data["to"]).label,
                }
            )
        for note in notes:
            trail.append({"datetime": note.created_at, "type": "note", "description": note.body})
    return sorted(trail, key=lambda entry: entry["datetime"])


def location_by_id(location_id: int) -> Location | None:
    return Location.objects.filter(pk=location_id).first()
