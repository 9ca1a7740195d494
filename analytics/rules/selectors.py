"""Reads of the flags the rules raised."""

from django.db.models import Count, Q, QuerySet

from analytics.rules.models import Flag


def flags_active(*, area_id: int | None = None, category_id: int | None = None) -> QuerySet[Flag]:
    flags = Flag.objects.filter(cleared_at=None).select_related(
        "rule", "area", "category", "issue", "issue__area", "issue__category"
    )
    if area_id:
        flags = flags.filter(Q(area_id=area_id) | Q(issue__area_id=area_id))
    if category_id:
        flags = flags.filter(Q(category_id=category_id) | Q(issue__category_id=category_id))
    return flags.order_by("rule__code", "-support", "id")


def flags_listed(*, active: bool, rule: str | None = None) -> QuerySet[Flag]:
    """Active (or cleared) flags, of one rule when named, newest first."""
    flags = Flag.objects.select_related("rule", "area", "category").filter(cleared_at__isnull=active)
    if rule:
        flags = flags.filter(rule__code=rule)
    return flags.order_by("-last_seen_at", "-id")


def flags_count_by_rule(
    *, area_id: int | None = None, category_id: int | None = None
) -> list[tuple[str, int]]:
    rows = (
        flags_active(area_id=area_id, category_id=category_id)
        .order_by()
        .values("rule__code")
        .annotate(n=Count("id"))
    )
    return sorted(((r["rule__code"], r["n"]) for r in rows), key=lambda r: r[0])
