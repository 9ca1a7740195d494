"""Writes of SLA pauses: the reasons a clock may stop, and pausing and resuming an open
issue's clocks, each recorded on the issue's trail."""

from datetime import datetime

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from analytics.sla.models import IssuePause, PauseReason
from issues.models import OPEN_STATUSES, Issue, IssueEvent
from issues.services.workflow import issue_event_record

DEFAULT_PAUSE_REASONS: dict[str, str] = {
    "contractor": "Waiting on a contractor",
    "parts": "Waiting on parts",
    "weather": "Waiting on the weather",
    "resident": "Waiting on the resident",
}


def pause_reasons_install_defaults() -> None:
    existing = set(PauseReason.objects.values_list("code", flat=True))
    PauseReason.objects.bulk_create(
        PauseReason(code=code, name=name)
        for code, name in DEFAULT_PAUSE_REASONS.items()
        if code not in existing
    )


@transaction.atomic
def issue_pause(
    *,
    issue_id: int,
    reason: PauseReason,
    actor: User | None = None,
    note: str = "",
    at: datetime | None = None,
) -> IssuePause:
    """Stop an open issue's SLA clocks while it waits on something outside the tenant's
    control, and record it on the issue's trail."""
    at = at or timezone.now()
    issue = Issue.objects.select_for_update().get(pk=issue_id)
    if issue.status not in OPEN_STATUSES:
        raise ValidationError("Only an open issue's clock can be paused.")
    if not reason.active:
        raise ValidationError({"reason": "This pause reason is no longer in use."})
    if IssuePause.objects.filter(issue_id=issue_id, ended_at=None).exists():
        raise ValidationError("The issue's clock is paused already.")
    pause = IssuePause.objects.create(issue=issue, reason=reason, started_at=at, note=note, started_by=actor)
    issue_event_record(
        issue_id=issue_id,
        kind=IssueEvent.Kind.PAUSED,
        actor=actor,
        at=at,
        data={"pause": pause.pk, "reason": reason.code, **({"note": note} if note else {})},
    )
    return pause


@transaction.atomic
def issue_resume(*, issue_id: int, actor: User | None = None, at: datetime | None = None) -> IssuePause:
    """Start the clocks again. Resolving or closing an issue does not end a pause by
    itself: the paused stretch is clipped at resolution when measured."""
    at = at or timezone.now()
    pause = IssuePause.objects.select_for_update().filter(issue_id=issue_id, ended_at=None).first()
    if pause is None:
        raise ValidationError("The issue's clock is not paused.")
    if at < pause.started_at:
        raise ValidationError("A pause cannot end before it started.")
    pause.ended_at = at
    pause.ended_by = actor
    pause.save(update_fields=["ended_at", "ended_by"])
    issue_event_record(
        issue_id=issue_id,
        kind=IssueEvent.Kind.RESUMED,
        actor=actor,
        at=at,
        data={
            "pause": pause.pk,
            "reason": pause.reason.code,
            "paused_seconds": round((pause.ended_at - pause.started_at).total_seconds()),
        },
    )
    return pause
