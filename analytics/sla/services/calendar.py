"""Writes of the tenant's business calendar: the default working week, and its
materialisation into working intervals (CalendarInterval) that the SLA SQL reads."""

from datetime import date, datetime, time, timedelta

from django.db import connection, transaction
from django.db.models import Min
from django.utils import timezone

from analytics.sla import sql
from analytics.sla.models import BusinessCalendar, OpeningHours
from issues.models import Issue
from tenants.selectors import current_timezone_name

# Monday to Friday, 9:00 to 17:00 local time, until staff say otherwise.
DEFAULT_OPENING_HOURS = [(weekday, time(9), time(17)) for weekday in range(5)]
# The calendar is materialised this far around the issues it measures: a deadline of the
# longest target (336 business hours, about ten weeks) always falls inside.
HORIZON_AHEAD = timedelta(days=730)
HORIZON_MARGIN = timedelta(days=7)


def calendar_install_default() -> BusinessCalendar:
    calendar, created = BusinessCalendar.objects.get_or_create(id=1)
    if created:
        OpeningHours.objects.bulk_create(
            OpeningHours(calendar=calendar, weekday=d, opens=o, closes=c) for d, o, c in DEFAULT_OPENING_HOURS
        )
    return calendar


@transaction.atomic
def calendar_materialise(*, start: date | None = None, end: date | None = None) -> int:
    """Rebuild the working intervals of the tenant's calendar for [start, end] (local
    dates); by default the span it already covers, widened to the issues it measures.
    Returns how many intervals there are."""
    calendar = calendar_install_default()
    oldest = Issue.objects.aggregate(at=Min("created_at"))["at"]
    today = timezone.now().date()
    start = start or min(
        d
        for d in (calendar.horizon_start, (oldest.date() if oldest else today) - HORIZON_MARGIN)
        if d is not None
    )
    end = end or max(d for d in (calendar.horizon_end, today + HORIZON_AHEAD) if d is not None)
    tz = current_timezone_name()
    with connection.cursor() as cursor:
        cursor.execute(sql.materialise_sql(), {"start": start, "end": end, "tz": tz})
        cursor.execute("SELECT count(*) FROM analytics_calendarinterval")
        count = cursor.fetchone()[0]
    BusinessCalendar.objects.filter(pk=calendar.pk).update(
        materialised_timezone=tz, horizon_start=start, horizon_end=end
    )
    return count


def calendar_ensure(*, since: datetime | None = None) -> None:
    """Materialise the calendar if it is missing, stale (the tenant changed time zone) or
    its horizon no longer covers `since` to two years ahead, less a month of slack."""
    calendar = calendar_install_default()
    today = timezone.now().date()
    needed_start = (since.date() if since else today) - timedelta(days=1)
    if (
        calendar.horizon_start is None
        or calendar.materialised_timezone != current_timezone_name()
        or calendar.horizon_start > needed_start
        or calendar.horizon_end is None
        or calendar.horizon_end < today + HORIZON_AHEAD - timedelta(days=30)
    ):
        calendar_materialise(
            start=min(d for d in (calendar.horizon_start, needed_start - HORIZON_MARGIN) if d is not None),
            end=today + HORIZON_AHEAD,
        )
