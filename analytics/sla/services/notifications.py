"""Telling people about SLA thresholds crossed (75 % and breach): queued after an
evaluation pass commits, sent one email per recipient and pass."""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from analytics.sla.models import SlaCrossing

logger = logging.getLogger(__name__)


def sla_notifications_queue() -> None:
    """Queue the sending task (after commit); a broker that is down only delays it."""
    from analytics.sla.tasks import notify_sla  # the tasks module imports the services

    try:
        notify_sla.apply_async(retry=False)
    except Exception as exc:  # broker down: the next pass queues the pending ones again
        logger.warning("could not queue sla notifications", extra={"error": repr(exc)})


def sla_notify_pending() -> int:
    """Email each recipient the thresholds its issues crossed (75 % and breach), one
    email per recipient and pass. Each recipient is claimed, sent and stamped in its own
    transaction: a failed send rolls back only that recipient's claim (the task retries
    it), and a recipient already sent to is never sent to again. Only the crossing rows
    are locked, never the issues, so the pipeline and staff are not held up by the mail
    server."""
    sent = 0
    recipients = list(
        SlaCrossing.objects.filter(notified_at=None)
        .exclude(recipient="")
        .order_by("recipient")
        .values_list("recipient", flat=True)
        .distinct()
    )
    for recipient in recipients:
        with transaction.atomic():
            items = list(
                SlaCrossing.objects.select_for_update(of=("self",), skip_locked=True)
                .filter(notified_at=None, recipient=recipient)
                .select_related("issue")
                .order_by("issue_id", "target", "threshold")
            )
            if not items:
                continue  # another worker has it
            lines = [
                f"- #{c.issue_id} {c.issue.title}: {c.get_target_display().lower()} "
                f"{'target breached' if c.threshold == 100 else f'{c.threshold}% of the target used'}"
                for c in items
            ]
            breached = sum(c.threshold == 100 for c in items)
            subject = (
                f"SLA: {breached} issue(s) breached" if breached else f"SLA: {len(items)} issue(s) at risk"
            )
            send_mail(
                subject=subject,
                message="These issues need attention:\n\n" + "\n".join(lines) + "\n",
                from_email=settings.DEFAULT_FROM_EMAIL,
                recipient_list=[recipient],
            )
            SlaCrossing.objects.filter(pk__in=[c.pk for c in items]).update(notified_at=timezone.now())
            sent += 1
    return sent
