"""Staff edits of single reports: correcting a category or severity, placing an
address-only report on the map, retrying failed ones. Each is recorded on the trail of
the report's issue where it changes what the issue knows."""

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from issues.models import Category, IssueEvent
from issues.services.workflow import issue_event_record, issue_place
from llm.services import training_example_record
from reports.addresses import standardise_address
from reports.models import Report
from reports.services.intake import report_validate
from reports.services.locations import location_place
from reports.services.pipeline import enqueue_processing


@transaction.atomic
def report_correct(
    *, report_id: int, category: Category | None, severity: str, actor: User | None = None
) -> Report:
    """Staff correct a report's category or severity. The correction is the report's truth
    from then on (and a labelled example for the classifier); it is recorded on the
    trail of the report's issue."""
    report = Report.objects.select_for_update(of=("self",)).select_related("category").get(pk=report_id)
    changes: dict[str, list[object]] = {}
    if category != report.category:
        changes["category"] = [
            report.category.code if report.category else None,
            category.code if category else None,
        ]
        report.category = category
        report.category_source = Report.CategorySource.STAFF
    if severity != report.severity:
        changes["severity"] = [report.severity or None, severity or None]
        report.severity = severity
    if not changes:
        return report
    report.save(update_fields=["category", "category_source", "severity"])
    training_example_record(
        ref=report.tracking_id,
        text=report.description,
        category=report.category.code if report.category else "",
        severity=report.severity,
    )
    if report.issue_id is not None:
        issue_event_record(
            issue_id=report.issue_id,
            kind=IssueEvent.Kind.REPORT_CORRECTED,
            actor=actor,
            data={"report": report.tracking_id, "changes": changes},
        )
    return report


@transaction.atomic
def report_place(*, report_id: int, latitude: float, longitude: float, actor: User | None = None) -> Report:
    """Staff put an address-only report on the map. The address learns its point, or is
    moved to it (so the next report of it is placed by itself), and an issue that had no
    point takes it."""
    errors, _ = report_validate(
        description="placed",
        latitude=latitude,
        longitude=longitude,
        address="",
        address_key="",
        email="",
        category_code=None,
        external_id=None,
    )
    if errors:
        raise ValidationError(errors)
    report = Report.objects.select_for_update(of=("self",)).get(pk=report_id)
    report.latitude, report.longitude, report.needs_placement = latitude, longitude, False
    report.save(update_fields=["latitude", "longitude", "needs_placement"])
    if report.address_key:
        # Staff know best: the address moves here even if it had a point (recorded).
        location_place(
            address_key=report.address_key,
            std=standardise_address(report.address),
            address=report.address,
            latitude=latitude,
            longitude=longitude,
            actor=actor,
        )
    if report.issue_id is not None:
        issue_place(
            issue_id=report.issue_id,
            latitude=latitude,
            longitude=longitude,
            actor=actor,
            data={"report": report.tracking_id},
        )
    return report


@transaction.atomic
def report_photos_approve(*, report_ids: list[int], approved: bool, actor: User | None = None) -> int:
    """Staff approve report photos for the public (Open311 `media_url`), or withdraw the
    approval. Recorded on the trail of each report's issue. Returns how many changed."""
    changed = list(
        Report.objects.select_for_update(of=("self",))
        .filter(pk__in=report_ids, photo_approved=not approved)
        .exclude(photo="")
        .order_by("pk")
        .values_list("pk", "tracking_id", "issue_id")
    )
    Report.objects.filter(pk__in=[pk for pk, _, _ in changed]).update(photo_approved=approved)
    for _pk, tracking_id, issue_id in changed:
        if issue_id is not None:
            issue_event_record(
                issue_id=issue_id,
                kind=IssueEvent.Kind.REPORT_CORRECTED,
                actor=actor,
                data={"report": tracking_id, "changes": {"photo_approved": [not approved, approved]}},
            )
    return len(changed)


def report_retry(*, report_ids: list[int]) -> int:
    """Staff asked to try failed reports again: back to `received` with fresh attempts."""
    with transaction.atomic():
        ids = list(
            Report.objects.filter(pk__in=report_ids, status=Report.Status.FAILED).values_list("pk", flat=True)
        )
        Report.objects.filter(pk__in=ids).update(
            status=Report.Status.RECEIVED,
            attempts=0,
            processing_started_at=None,
            enqueued_at=timezone.now(),
            enqueue_count=F("enqueue_count") + 1,
        )
        transaction.on_commit(lambda: enqueue_processing(ids))
    return len(ids)
