"""Tell residents what happened to the issue their report joined: once per change and
address, with a link to the tracking page and a one-click unsubscribe.

Double opt-in: a report's email gets one message asking to confirm it (a link to
/track/<id>/confirm/<token>); updates go only to confirmed addresses. Both kinds of mail
have a pending marker written with the change itself (a PendingNotification; a
report's empty `confirmation_sent_at`), so the sweep sends whatever a lost message left
behind, however long ago."""

import logging
import smtplib
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _

from civicpulse.core.tenancy import current_schema
from issues.models import IssueEvent, IssueNote, IssueStatus
from reports.models import Notification, PendingNotification, Report
from tenants.selectors import current_tenant

logger = logging.getLogger(__name__)


def unsubscribe_token(tracking_id: str) -> str:
    return salted_hmac("civicpulse.unsubscribe", f"{current_schema()}:{tracking_id}").hexdigest()[:32]


def confirmation_token(tracking_id: str, email: str) -> str:
    # Bound to the address too: a link sent to one address confirms no other.
    value = f"{current_schema()}:{tracking_id}:{email.lower()}"
    return salted_hmac("civicpulse.confirm-email", value).hexdigest()[:32]


def public_url(path: str) -> str:
    host = current_tenant().get_primary_domain().domain
    return settings.PUBLIC_URL_TEMPLATE.format(host=host) + path


def email_language(report_language: str) -> str:
    """The language of a resident's emails: their report's (the one its form spoke), else
    the tenant's default."""
    return report_language or current_tenant().default_language


def _message(event: IssueEvent) -> str | None:
    """The email's text in the active language; None when residents are not told."""
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
        PendingNotification.objects.filter(event_id=event.pk).delete()
        return 0
    bodies = {translation.get_language(): body}  # one text per language, not per address
    # Each address hears about it once, through its first report, in that report's language.
    reporters: dict[str, tuple[str, str]] = {}
    for email, tracking_id, language in (
        Report.objects.filter(issue_id=event.issue_id, notify=True, email_confirmed=True)
        .exclude(email="")
        .order_by("submitted_at")
        .values_list("email", "tracking_id", "language")
    ):
        reporters.setdefault(email.lower(), (tracking_id, language))
    sent = 0
    for email, (tracking_id, language) in reporters.items():
        track = public_url(f"/track/{tracking_id}/")
        stop = public_url(f"/track/{tracking_id}/unsubscribe/{unsubscribe_token(tracking_id)}")
        language = email_language(language)
        try:
            with transaction.atomic(), translation.override(language):
                if language not in bodies:
                    bodies[language] = _message(event) or ""
                # Claim first: if the mail cannot be sent, the claim rolls back and a retry
                # sends it; once sent and committed, it is never sent again.
                Notification.objects.create(event_id=event.pk, email=email)
                send_mail(
                    subject=_("Update on your report %(id)s") % {"id": tracking_id},
                    message=_("%(body)s\n\nFollow it here: %(track)s\n\nStop these emails: %(stop)s\n")
                    % {"body": bodies[language], "track": track, "stop": stop},
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
    # Everyone was told (or refused for good): nothing is pending for this change.
    PendingNotification.objects.filter(event_id=event.pk).delete()
    logger.info("residents notified", extra={"event_id": event.pk, "sent": sent})
    return sent


def confirmation_send(*, report_id: int) -> bool:
    """Ask the report's email address to confirm it wants updates. Sent once: claimed by
    a conditional UPDATE, released again if the mail cannot be sent."""
    with transaction.atomic():
        claimed = (
            Report.objects.filter(pk=report_id, email_confirmed=False, confirmation_sent_at__isnull=True)
            .exclude(email="")
            .update(confirmation_sent_at=timezone.now())
        )
        if not claimed:
            return False
        report = Report.objects.only("tracking_id", "email", "language").get(pk=report_id)
        link = public_url(
            f"/track/{report.tracking_id}/confirm/{confirmation_token(report.tracking_id, report.email)}"
        )
        try:
            with translation.override(email_language(report.language)):
                send_mail(
                    subject=_("Confirm updates on your report %(id)s") % {"id": report.tracking_id},
                    message=_(
                        "Someone (we hope you) reported a problem and asked for updates at this address.\n\n"
                        "To receive them, confirm here: %(link)s\n\n"
                        "If it was not you, ignore this message: you will hear nothing more."
                    )
                    % {"link": link},
                    from_email=settings.DEFAULT_FROM_EMAIL,
                    recipient_list=[report.email],
                )
        except smtplib.SMTPRecipientsRefused:
            logger.warning("confirmation address refused", extra={"report_id": report_id})
    return True


def confirmation_enqueue(*, report_id: int) -> None:
    """Queue the confirmation email (after commit). Redis down: the sweep sends it later."""
    from reports.tasks import send_confirmation  # the tasks module imports this one

    try:
        send_confirmation.apply_async(args=(report_id,), retry=False)
    except Exception as exc:
        logger.warning("could not queue confirmation", extra={"report_id": report_id, "error": repr(exc)})


def report_confirm_email(*, tracking_id: str, token: str) -> bool:
    """The link of the confirmation email was followed (and its button pressed)."""
    report = Report.objects.filter(tracking_id=tracking_id).exclude(email="").first()
    if report is None or not constant_time_compare(token, confirmation_token(tracking_id, report.email)):
        return False
    Report.objects.filter(pk=report.pk).update(email_confirmed=True)
    return True


def confirmation_token_valid(*, tracking_id: str, token: str) -> bool:
    email = Report.objects.filter(tracking_id=tracking_id).values_list("email", flat=True).first()
    return bool(email) and constant_time_compare(token, confirmation_token(tracking_id, email or ""))


def notify_sweep(*, settle: timedelta = timedelta(minutes=1), batch: int = 500) -> int:
    """Catch up on what is still pending, however old: changes whose notification was
    never queued (Redis down at the moment of the change) or never finished, and
    confirmation emails never sent. Sending is idempotent per address. Returns emails
    sent (confirmations included). `settle` leaves the queued messages their chance."""
    before = timezone.now() - settle
    events = PendingNotification.objects.filter(created_at__lte=before).order_by("created_at")
    sent = sum(
        notify_issue_event(event_id=event_id)
        for event_id in events.values_list("event_id", flat=True)[:batch]
    )
    waiting = (
        Report.objects.filter(
            email_confirmed=False, confirmation_sent_at__isnull=True, submitted_at__lte=before
        )
        .exclude(email="")
        .values_list("pk", flat=True)[:batch]
    )
    return sent + sum(confirmation_send(report_id=report_id) for report_id in waiting)


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
