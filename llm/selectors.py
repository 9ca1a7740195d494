"""Reads on the classification app."""

from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Avg, Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from llm.models import ModelCall
from tenants.selectors import current_timezone_name


@dataclass(frozen=True)
class DailyCalls:
    day: date
    calls: int
    ok: int
    failed: int
    avg_latency_ms: int
    prompt_tokens: int
    completion_tokens: int


def model_call_daily_totals(*, days: int = 30) -> list[DailyCalls]:
    """Model calls per day over the last `days` days (the tenant's time zone), oldest first."""
    zone = ZoneInfo(current_timezone_name())
    since = timezone.localdate(timezone=zone) - timedelta(days=days - 1)
    rows = (
        ModelCall.objects.annotate(day=TruncDate("created_at", tzinfo=zone))
        .filter(day__gte=since)
        .values("day")
        .annotate(
            calls=Count("id"),
            ok=Count("id", filter=Q(outcome=ModelCall.Outcome.OK)),
            latency=Avg("latency_ms"),
            prompt=Sum("prompt_tokens"),
            completion=Sum("completion_tokens"),
        )
        .order_by("day")
    )
    return [
        DailyCalls(
            r["day"],
            r["calls"],
            r["ok"],
            r["calls"] - r["ok"],
            round(r["latency"] or 0),
            r["prompt"] or 0,
            r["completion"] or 0,
        )
        for r in rows
    ]
