"""Residents' data: what the tenant keeps of the people who report, and for how long.

Retention: once an issue has been closed for the tenant's retention period (months,
default 12), its reports lose their reporter's email address and photo; the reports'
text, the issue and its public history stay. Erasure: staff remove one reporter (by email)
from every report of the tenant at once: the address and the photos go, the text stays
unless staff choose to redact it, and the record kept says that it happened, not what
was erased. Photo files are deleted once the database change has committed, so a rolled
back change never leaves a report pointing at a missing file."""

import calendar
import logging
from collections import defaultdict
from datetime import datetime

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from issues.models import IssueStatus
from issues.services.redaction import REDACTED_TEXT, issue_reporter_erased
from llm.services import training_examples_forget
from reports.models import Erasure, Notification, Report
from tenants.selectors import current_tenant

logger = logging.getLogger(__name__)

RETENTION_BATCH = 500


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier (the month's last day when
    it is shorter)."""
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    month += 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def _delete_files_on_commit(names: list[str]) -> None:
    def delete() -> None:
        for name in names:
            try:
                default_storage.delete(name)
            except OSError as exc:  # a file already gone, or a disk error: the row is cleared either way
                logger.warning("photo not deleted", extra={"photo": name, "error": repr(exc)})

    if names:
        transaction.on_commit(delete)


def retention_sweep(*, now: datetime | None = None, batch: int = RETENTION_BATCH) -> dict[str, int]:
    """Clear the reporter's email address and photo from the reports of issues closed
    longer ago than the tenant's retention period, a batch (one transaction) at a time,
    logging progress. Idempotent: a cleared report is not selected again."""
    cutoff = months_before(now or timezone.now(), current_tenant().resident_data_retention_months)
    due = (
        Report.objects.filter(issue__status=IssueStatus.CLOSED, issue__closed_at__lt=cutoff)
        .exclude(email="", photo="")
        .order_by("pk")
    )
    total = due.count()
    done = {"reports": 0, "photos": 0, "notifications": 0}
    logger.info("resident data retention started", extra={"due": total, "cutoff": cutoff.isoformat()})
    after = 0
    while True:
        with transaction.atomic():
            rows = list(
                due.filter(pk__gt=after).select_for_update(of=("self",)).values_list("pk", "photo")[:batch]
            )
            if not rows:
                break
            after = rows[-1][0]
            photos = [name for _, name in rows if name]
            Report.objects.filter(pk__in=[pk for pk, _ in rows]).update(
                email="", notify=False, photo="", photo_bytes=0
            )
            _delete_files_on_commit(photos)
        done["reports"] += len(rows)
        done["photos"] += len(photos)
        logger.info("resident data retention progress", extra={**done, "due": total})
    # Which address was told about which event: kept no longer than the reports' addresses.
    done["notifications"], _ = Notification.objects.filter(sent_at__lt=cutoff).delete()
    logger.info("resident data retention finished", extra=done)
    return done


@transaction.atomic
def reporter_erase(*, email: str, redact_text: bool, actor: User | None) -> Erasure:
    """Erase one reporter, by email, from every report of the current tenant: the address
    (and the notifications sent to it) and their photos go; their reports' text stays
    unless `redact_text`. Each issue they reported on records that an erasure happened;
    an Erasure row records it for the tenant. Raises ValidationError for a bad address."""
    email = email.strip()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise ValidationError({"email": ["Enter the reporter's email address."]}) from exc
    reports = list(
        Report.objects.select_for_update(of=("self",))
        .filter(email__iexact=email)
        .order_by("pk")
        .only("pk", "issue_id", "photo", "description", "summary", "tracking_id")
    )
    photos = [report.photo.name for report in reports if report.photo]
    changes: dict[str, object] = {"email": "", "notify": False, "photo": "", "photo_bytes": 0}
    if redact_text:
        changes.update(description=REDACTED_TEXT, summary="", attributes={})
        training_examples_forget(refs=[report.tracking_id for report in reports])
    Report.objects.filter(pk__in=[report.pk for report in reports]).update(**changes)
    Notification.objects.filter(email__iexact=email).delete()
    by_issue: dict[int, list[Report]] = defaultdict(list)
    for report in reports:
        if report.issue_id is not None:
            by_issue[report.issue_id].append(report)
    for issue_id in sorted(by_issue):  # issues locked in one order: no deadlock with another erasure
        issue_reporter_erased(
            issue_id=issue_id,
            reports=len(by_issue[issue_id]),
            redacted=[(r.description, r.summary) for r in by_issue[issue_id]] if redact_text else [],
            actor=actor,
        )
    _delete_files_on_commit(photos)
    erasure = Erasure.objects.create(
        actor=actor, reports=len(reports), photos=len(photos), text_redacted=redact_text
    )
    logger.info(
        "reporter erased", extra={"reports": len(reports), "photos": len(photos), "issues": len(by_issue)}
    )
    return erasure
