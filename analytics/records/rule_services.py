"""Writes of the property rules' configuration: the defaults a city tenant gets, versioned
rule edits (as analytics/rules does for the issue rules) and the tier bounds."""

from decimal import Decimal

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from analytics.records.rule_defaults import PROPERTY_RULES, TIER_BOUNDS
from analytics.records.rule_models import PropertyRule, PropertyRuleVersion, PropertyTierBound

# What an edit may change; all but the description make a new version.
_VERSIONED = ("threshold", "years", "severity", "active")


def property_rules_install_defaults() -> int:
    """Install each of the fifteen rules missing, at version 1, and the tier bounds
    missing. Idempotent; returns how many rules were created."""
    existing = set(PropertyRule.objects.values_list("code", flat=True))
    created = 0
    for code, default in PROPERTY_RULES.items():
        if code in existing:
            continue
        rule = PropertyRule.objects.create(
            code=code,
            category=default.category,
            description=default.description,
            threshold=default.threshold,
            years=default.years,
            severity=default.severity,
        )
        PropertyRuleVersion.objects.create(
            rule=rule,
            version=1,
            threshold=rule.threshold,
            years=rule.years,
            severity=rule.severity,
            active=True,
        )
        created += 1
    for tier, bound in TIER_BOUNDS.items():
        PropertyTierBound.objects.get_or_create(tier=tier, defaults={"min_score": bound})
    return created


@transaction.atomic
def property_rule_revise(*, rule_id: int, actor: User | None = None, **changes: object) -> PropertyRule:
    """Change a rule's threshold, years, severity or activity as its next version (kept
    in PropertyRuleVersion); the views read the new values at once. A description alone
    changes no version."""
    allowed = {*_VERSIONED, "description"}
    if set(changes) - allowed:
        raise ValidationError(f"Only {', '.join(sorted(allowed))} can change.")
    rule = PropertyRule.objects.select_for_update().get(pk=rule_id)
    if "threshold" in changes and changes["threshold"] is not None:
        changes["threshold"] = Decimal(str(changes["threshold"]))
    before = tuple(getattr(rule, f) for f in _VERSIONED)
    for field, value in changes.items():
        setattr(rule, field, value)
    rule.full_clean()
    if tuple(getattr(rule, f) for f in _VERSIONED) != before:
        rule.version += 1
        rule.updated_at = timezone.now()
        PropertyRuleVersion.objects.create(
            rule=rule,
            version=rule.version,
            threshold=rule.threshold,
            years=rule.years,
            severity=rule.severity,
            active=rule.active,
            created_by=actor,
        )
    rule.save()
    return rule


def property_tier_bounds_check(*, bounds: dict[str, int]) -> None:
    """Refuse `bounds` (merged over the stored ones) unless LOW starts at 0 and each next
    tier higher."""
    merged = {**dict(PropertyTierBound.objects.values_list("tier", "min_score")), **bounds}
    order = [merged[t] for t in TIER_BOUNDS]
    if order[0] != 0 or any(b <= a for a, b in zip(order, order[1:], strict=False)):
        raise ValidationError("LOW starts at 0 and each tier starts above the one before.")


@transaction.atomic
def property_tier_bounds_set(*, bounds: dict[str, int]) -> None:
    """Set the score at which each tier starts: LOW at 0, each next tier higher."""
    property_tier_bounds_check(bounds=bounds)
    for tier, bound in bounds.items():
        PropertyTierBound.objects.update_or_create(
            tier=tier, defaults={"min_score": bound, "updated_at": timezone.now()}
        )
