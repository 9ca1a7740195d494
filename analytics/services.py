"""Writes on SLA configuration."""
from decimal import Decimal

from django.db import transaction

from analytics.models import SlaPolicy
from issues.models import Category, Severity

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


@transaction.atomic
def sla_policies_install_defaults(*, tenant: object) -> int:
    """Give a new tenant default SLA targets in the current schema. Idempotent."""
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
    created = SlaPolicy.objects.bulk_create(
        p for p in wanted if (p.category_id, p.severity) not in existing
    )
    return len(created)
