"""Writes of rules and flags: the default rules, versioned edits, and the reconcile that
turns what the rules' SQL finds (analytics/rules/loader.py) into flags."""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from analytics.locks import pass_lock
from analytics.rules.definitions import RULE_DEFINITIONS
from analytics.rules.loader import rule_firing_sql
from analytics.rules.models import Rule, RuleVersion

logger = logging.getLogger(__name__)


def rules_install_defaults() -> int:
    """Install each rule the SQL files know, at version 1 with its default thresholds.
    Idempotent; returns how many were created."""
    existing = set(Rule.objects.values_list("code", flat=True))
    created = 0
    for code, definition in RULE_DEFINITIONS.items():
        if code in existing:
            continue
        params = {name: default for name, (default, _) in definition["params"].items()}
        rule = Rule.objects.create(
            code=code, description=definition["description"], concern=definition["concern"], params=params
        )
        RuleVersion.objects.create(rule=rule, version=1, params=params, weight=rule.weight, active=True)
        created += 1
    return created


@transaction.atomic
def rule_revise(*, rule_id: int, actor: User | None = None, **changes: object) -> Rule:
    """Change what a rule checks (params, weight, active) as its next version, kept in
    RuleVersion; flags already raised keep the version that raised them. A description
    alone changes no version."""
    allowed = {"params", "weight", "active", "description"}
    if set(changes) - allowed:
        raise ValidationError(f"Only {', '.join(sorted(allowed))} can change.")
    rule = Rule.objects.select_for_update().get(pk=rule_id)
    before = (rule.params, rule.weight, rule.active)
    for field, value in changes.items():
        setattr(rule, field, value)
    rule.full_clean()
    if (rule.params, rule.weight, rule.active) != before:
        rule.version += 1
        rule.updated_at = timezone.now()
        RuleVersion.objects.create(
            rule=rule,
            version=rule.version,
            params=rule.params,
            weight=rule.weight,
            active=rule.active,
            created_by=actor,
        )
    rule.save()
    return rule


@dataclass(frozen=True)
class RulesResult:
    raised: int
    kept: int
    cleared: int


def rules_evaluate(*, now: datetime | None = None) -> RulesResult:
    """Evaluate every active rule's query once and reconcile the flags: a subject still
    firing at the same rule version keeps its flag (count refreshed), a new one raises a
    flag, and a flag whose rule no longer fires (or changed version) is cleared."""
    now = now or timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        pass_lock("rules")
        cursor.execute(
            "CREATE TEMPORARY TABLE rule_firing ON COMMIT DROP AS "
            f"SELECT f.*, r.version, r.params, r.weight FROM (\n{rule_firing_sql()}\n) f "
            "JOIN analytics_rule r ON r.id = f.rule_id"
        )
        cursor.execute(
            "UPDATE analytics_flag fl SET cleared_at = %(now)s WHERE fl.cleared_at IS NULL AND NOT EXISTS ("
            "  SELECT 1 FROM rule_firing f WHERE f.rule_id = fl.rule_id AND f.subject = fl.subject"
            "  AND f.version = fl.rule_version)",
            {"now": now},
        )
        cleared = cursor.rowcount
        cursor.execute(
            "UPDATE analytics_flag fl SET support = f.support, detail = f.detail, last_seen_at = %(now)s "
            "FROM rule_firing f WHERE fl.cleared_at IS NULL AND f.rule_id = fl.rule_id AND f.subject = fl.subject",
            {"now": now},
        )
        kept = cursor.rowcount
        cursor.execute(
            "INSERT INTO analytics_flag (rule_id, rule_version, params, weight, subject, area_id, category_id, "
            "  issue_id, support, detail, first_seen_at, last_seen_at) "
            "SELECT f.rule_id, f.version, f.params, f.weight, f.subject, f.area_id, f.category_id, f.issue_id, "
            "  f.support, f.detail, %(now)s, %(now)s FROM rule_firing f "
            "WHERE NOT EXISTS (SELECT 1 FROM analytics_flag fl WHERE fl.cleared_at IS NULL "
            "  AND fl.rule_id = f.rule_id AND fl.subject = f.subject)",
            {"now": now},
        )
        raised = cursor.rowcount
        # Dropped now, not only at commit: an enclosing transaction may evaluate again.
        cursor.execute("DROP TABLE rule_firing")
    logger.info("rules evaluated", extra={"raised": raised, "kept": kept, "cleared": cleared})
    return RulesResult(raised, kept, cleared)
