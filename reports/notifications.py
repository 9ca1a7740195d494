"""Tell residents what happened to the issue their report joined: once per change and
address, with a link to the tracking page and a one-click unsubscribe."""

import logging
import smtplib
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from civicpulse.core.tenancy import current_schema
from issues.models import IssueEvent, IssueNote, IssueStatus
from reports.models import Notification, Report
from tenants.selectors import current_tenant

logger = logging.getLogger(__name__)


def unsubscribe_token(tracking_id: str) -> str:
    return salted_hmac("civicpulse.unsubscribe", f"{current_schema()}:{tracking_id}").hexdigest()[:32]


def public_url(path: str) -> str:
    host = current_tenant().get_primary_domain().domain
    return settings.PUBLIC_URL_TEMPLATE.format(host=host) + path


def _message(event: IssueEvent) -> str | None:
    if event.kind == IssueEvent.Kind.STATUS_CHANGED:
        status = IssueStatus(event.data["to"]).label.lower()
        return _("The problem you reported is now %(status)s.") % {"status": status}
    if (
        event.kind == IssueEvent.Kind.NOTE_ADDED
        and event.data.get("visibility") == IssueNote.Visibility.PUBLIC
    ):
        note = IssueNote.objects.filter(pk=event.data["note"]).values_list("body", flat=True).first()
        return _("An update on the problem you reported:") + f"\n\n{note}" if note else None
    return None  # internal notes and everything else stay inside


def notify_issue_event(*, event_id: int) -> int:
    """Email every subscribed reporter of the event's issue, once per address. Returns
    how many emails were sent. Safe to run again: addresses already told are skipped."""
    event = IssueEvent.objects.select_related("issue").filter(pk=event_id).first()
    if event is None:
        return 0
    body = _message(event)
    if body is None:
        return 0
    reporters: dict[str, str] = {}
    for email, tracking_id in (
        Report.objects.filter(issue_id=event.issue_id, notify=True)
        .exclude(email="")
        .order_by("submitted_at")
        .values_list("email", "tracking_id")
    ):
        reporters.setdefault(email.lower(), tracking_id)
    sent = 0
    for email, tracking_id in reporters.items():
        track = public_url(f"/track/{tracking_id}/")
        stop = public_url(f"/track/{tracking_id}/unsubscribe/{unsubscribe_token(tracking_id)}")
        try:
            with transaction.atomic():
                # Claim first: if the mail cannot be sent, the claim rolls back and a retry
                # sends it; once sent and committed, it is never sent again.
                Notification.objects.create(event_id=event.pk, email=email)
                send_mail(
                    subject=_("Update on your report %(id)s") % {"id": tracking_id},
                    message=f"{body}\n\n{_('Follow it here:')} {track}\n\n{_('Stop these emails:')} {stop}\n",
                    from_email=settings.DEFAULT_FROM_EMAIL,
                    recipient_list=[email],
                )
            sent += 1
        except IntegrityError:
            continue  # told already
        except smtplib.SMTPRecipientsRefused:
            # This address is refused for good; the others must still be told. (Other
            # SMTP failures raise, and the task retries: sent mail is not sent twice.)
            logger.warning("notification address refused", extra={"event_id": event.pk})
            continue
    logger.info("residents notified", extra={"event_id": event.pk, "sent": sent})
    return sent


def notify_sweep(*, since: timedelta = timedelta(hours=2), settle: timedelta = timedelta(minutes=1)) -> int:
    """Catch up on changes whose notification was never queued (Redis down at the
    moment of the change) or never finished. Sending is idempotent per address, so
    going over recent changes again only sends what is missing. Returns emails sent."""
    now = timezone.now()
    events = IssueEvent.objects.filter(
        created_at__gte=now - since,
        created_at__lte=now - settle,
        kind__in=[IssueEvent.Kind.STATUS_CHANGED, IssueEvent.Kind.NOTE_ADDED],
    ).values_list("pk", flat=True)
    return sum(notify_issue_event(event_id=event_id) for event_id in events)


def unsubscribe_token_valid(*, tracking_id: str, token: str) -> bool:
    return constant_time_compare(token, unsubscribe_token(tracking_id))


def report_unsubscribe(*, tracking_id: str, token: str) -> bool:
    """Stop update emails to this report's address about its issue."""
    if not unsubscribe_token_valid(tracking_id=tracking_id, token=token):
        return False
    report = Report.objects.filter(tracking_id=tracking_id).first()
    if report is None:
        return False
    same_reporter = Report.objects.filter(email__iexact=report.email)
    (
        same_reporter.filter(issue_id=report.issue_id)
        if report.issue_id
        else same_reporter.filter(pk=report.pk)
    ).update(notify=False)
    return True
