"""Writes of SLA policies: the defaults a tenant starts with, and versioned edits (an edit
supersedes the current version, so a metric keeps the targets it was measured with)."""

import logging
from datetime import datetime
from decimal import Decimal

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from analytics.sla.models import SlaClock, SlaPolicy
from issues.models import Category, Severity

logger = logging.getLogger(__name__)

# Tenant-wide targets (acknowledge, resolve) in hours, by severity.
DEFAULT_TARGETS: dict[str, tuple[int, int]] = {
    Severity.CRITICAL: (1, 24),
    Severity.HIGH: (4, 72),
    Severity.MEDIUM: (24, 168),
    Severity.LOW: (48, 336),
}
# Categories where a failure is dangerous get tighter targets when they are critical.
URGENT_CATEGORY_TARGETS: dict[str, tuple[int, int]] = {
    "traffic_signals": (1, 4),
    "water_sewer": (1, 8),
    "elevators": (1, 8),
    "safety_hazard": (1, 4),
}


def sla_policies_install_defaults() -> int:
    """The default targets of every severity, and the tighter ones of urgent categories
    the tenant has, in the current schema. Idempotent; returns how many were created."""
    wanted: list[SlaPolicy] = [
        SlaPolicy(severity=sev, acknowledge_hours=Decimal(ack), resolve_hours=Decimal(res))
        for sev, (ack, res) in DEFAULT_TARGETS.items()
    ]
    for category in Category.objects.filter(code__in=URGENT_CATEGORY_TARGETS):
        ack, res = URGENT_CATEGORY_TARGETS[category.code]
        wanted.append(
            SlaPolicy(
                category=category,
                severity=Severity.CRITICAL,
                acknowledge_hours=Decimal(ack),
                resolve_hours=Decimal(res),
            )
        )
    existing = set(SlaPolicy.objects.values_list("category_id", "severity"))
    created = SlaPolicy.objects.bulk_create(p for p in wanted if (p.category_id, p.severity) not in existing)
    return len(created)


@transaction.atomic
def sla_policy_revise(
    *, policy_id: int, actor: User | None = None, at: datetime | None = None, **changes: object
) -> SlaPolicy:
    """Edit a policy by superseding it with its next version: metrics measured with the
    old one keep it. Issues created from now on are measured with the new version."""
    at = at or timezone.now()
    old = SlaPolicy.objects.select_for_update().get(pk=policy_id)
    if old.superseded_at is not None:
        raise ValidationError("This version has been superseded already; edit the current one.")
    allowed = {"acknowledge_hours", "resolve_hours", "clock"}
    if set(changes) - allowed:
        raise ValidationError(f"Only {', '.join(sorted(allowed))} can change; a new scope is a new policy.")
    new = SlaPolicy(
        category_id=old.category_id,
        severity=old.severity,
        acknowledge_hours=old.acknowledge_hours,
        resolve_hours=old.resolve_hours,
        clock=old.clock,
        version=old.version + 1,
        effective_from=at,
        created_by=actor,
    )
    for field, value in changes.items():
        setattr(new, field, value)
    if all(getattr(new, f) == getattr(old, f) for f in allowed):
        return old  # nothing changed: no version without a difference
    new.full_clean(exclude=["category"], validate_constraints=False)
    old.superseded_at = at
    old.save(update_fields=["superseded_at"])
    new.save()
    logger.info("sla policy revised", extra={"policy": old.pk, "new_policy": new.pk, "version": new.version})
    return new


@transaction.atomic
def sla_policy_create(
    *,
    category: Category | None,
    severity: str,
    acknowledge_hours: Decimal,
    resolve_hours: Decimal,
    clock: str = SlaClock.BUSINESS,
    actor: User | None = None,
) -> SlaPolicy:
    """A policy for a scope that has none: version 1, in effect for issues created from now."""
    policy = SlaPolicy(
        category=category,
        severity=severity,
        acknowledge_hours=acknowledge_hours,
        resolve_hours=resolve_hours,
        clock=clock,
        effective_from=timezone.now(),
        created_by=actor,
    )
    policy.full_clean()
    policy.save()
    return policy
