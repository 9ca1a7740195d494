"""Reads for the public view of a tenant's issues ("already reported near here?", the
public issues list, map and page): whether the tenant publishes them at all, and what
of its reports may be shown beside them (photos staff approved, nothing else).

A tenant publishes its issues where it publishes its requests through Open311
(Tenant.open311_public_reads: cities by default, other kinds when the platform admin
switches it on, docs/security.md); points of a tenant that is not a city are rounded."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from issues.models import Issue, IssueEvent, IssueNote, IssueStatus
from reports.models import Report
from tenants.models import Tenant
from tenants.selectors import current_tenant

# The most approved photos one public issue page shows.
ISSUE_PHOTOS_LIMIT = 6


@dataclass(frozen=True)
class Publication:
    """What the tenant being served shows of its issues to anyone."""

    public: bool
    rounded: bool


def publication() -> Publication:
    tenant = current_tenant()
    return Publication(public=tenant.open311_public_reads, rounded=tenant.kind != Tenant.Kind.CITY)


def approved_photo_ids(issue_ids: Iterable[int]) -> dict[int, uuid.UUID]:
    """Per issue, the public id of its latest report whose photo staff approved (served at
    /photos/<public id>); issues without one are left out. One query (report_issue_time)."""
    ids = list(issue_ids)
    if not ids:
        return {}
    rows = (
        Report.objects.filter(issue_id__in=ids, photo_approved=True)
        .exclude(photo="")
        .order_by("issue_id", "-submitted_at", "-id")
        .distinct("issue_id")
        .values_list("issue_id", "public_id")
    )
    return {issue_id: public_id for issue_id, public_id in rows if issue_id is not None}


def issue_public(issue_id: int) -> Issue | None:
    return Issue.objects.select_related("category", "area").filter(pk=issue_id).first()


def issue_public_photos(issue_id: int) -> list[uuid.UUID]:
    """Public ids of the issue's reports whose photo staff approved, newest first."""
    return list(
        Report.objects.filter(issue_id=issue_id, photo_approved=True)
        .exclude(photo="")
        .order_by("-submitted_at", "-id")
        .values_list("public_id", flat=True)[:ISSUE_PHOTOS_LIMIT]
    )


@dataclass(frozen=True)
class TrailEntry:
    at: datetime
    kind: str  # "reported", "status" or "note"
    text: str


def issue_public_trail(issue: Issue) -> list[TrailEntry]:
    """The issue's public history, oldest first: when it was first reported, each status
    change and each public note. Who acted, internal notes and everything about the
    reporters stay inside."""
    trail = [TrailEntry(issue.created_at, "reported", "")]
    for at, data in (
        IssueEvent.objects.filter(issue_id=issue.pk, kind=IssueEvent.Kind.STATUS_CHANGED)
        .order_by("created_at", "id")
        .values_list("created_at", "data")
    ):
        trail.append(TrailEntry(at, "status", str(IssueStatus(data["to"]).label)))
    for at, body in (
        IssueNote.objects.filter(issue_id=issue.pk, visibility=IssueNote.Visibility.PUBLIC)
        .order_by("created_at", "id")
        .values_list("created_at", "body")
    ):
        trail.append(TrailEntry(at, "note", body))
    return sorted(trail, key=lambda entry: entry.at)
