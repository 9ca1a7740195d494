"""Business-hours arithmetic, pinned with explicit examples: nights, weekends, holidays,
time zones and the daylight-saving changes. Tenant A is a city in America/Chicago with
the default calendar (Monday to Friday, 9:00 to 17:00)."""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from analytics.sla.models import BusinessCalendar, Holiday, OpeningHours
from analytics.sla.selectors import working_deadline, working_seconds
from analytics.sla.services.calendar import calendar_materialise

CHICAGO = ZoneInfo("America/Chicago")
HOUR = 3600


def at(y: int, mo: int, d: int, h: int, mi: int = 0, tz: ZoneInfo = CHICAGO) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=tz)


@pytest.fixture
def chicago(tenant_a):
    calendar_materialise(start=date(2025, 12, 1), end=date(2027, 1, 31))
    return tenant_a


def test_friday_afternoon_plus_four_business_hours_is_monday_noon(chicago) -> None:
    # Friday 2026-05-08 16:00: one hour on Friday, three on Monday.
    assert working_deadline(start=at(2026, 5, 8, 16), hours=4) == at(2026, 5, 11, 12)
    assert working_seconds(start=at(2026, 5, 8, 16), end=at(2026, 5, 11, 12)) == 4 * HOUR


def test_nights_and_weekends_do_not_count(chicago) -> None:
    assert working_seconds(start=at(2026, 5, 6, 17), end=at(2026, 5, 7, 9)) == 0  # a night
    assert working_seconds(start=at(2026, 5, 9, 10), end=at(2026, 5, 10, 15)) == 0  # a weekend
    # Reported on Saturday: the clock starts on Monday at 9.
    assert working_deadline(start=at(2026, 5, 9, 10), hours=1) == at(2026, 5, 11, 10)
    # A whole week is five eight-hour days.
    assert working_seconds(start=at(2026, 5, 4, 0), end=at(2026, 5, 11, 0)) == 40 * HOUR
    # A target ending exactly at closing time ends then, not on the next morning.
    assert working_deadline(start=at(2026, 5, 8, 9), hours=8) == at(2026, 5, 8, 17)


def test_a_holiday_is_skipped(chicago) -> None:
    calendar = BusinessCalendar.objects.get()
    Holiday.objects.create(calendar=calendar, date=date(2026, 5, 25), name="Memorial Day")
    calendar_materialise(start=date(2025, 12, 1), end=date(2027, 1, 31))
    # Friday 16:00 + 4 h: Monday is a holiday, so Tuesday noon.
    assert working_deadline(start=at(2026, 5, 22, 16), hours=4) == at(2026, 5, 26, 12)
    assert working_seconds(start=at(2026, 5, 25, 0), end=at(2026, 5, 26, 0)) == 0


def test_us_daylight_saving_changes_in_chicago(chicago) -> None:
    utc = ZoneInfo("UTC")
    # Spring forward on Sunday 2026-03-08: opening moves from 15:00 UTC to 14:00 UTC.
    assert working_deadline(start=at(2026, 3, 6, 16), hours=2) == datetime(2026, 3, 9, 15, tzinfo=utc)
    assert working_deadline(start=at(2026, 3, 6, 16), hours=2) == at(2026, 3, 9, 10)
    # Fall back on Sunday 2026-11-01: Friday 16:00 CDT + 2 h = Monday 10:00 CST (16:00 UTC).
    assert working_deadline(start=at(2026, 10, 30, 16), hours=2) == datetime(2026, 11, 2, 16, tzinfo=utc)
    # The business week around each change still has 40 hours, though it spans 167 and 169 real hours.
    assert working_seconds(start=at(2026, 3, 2, 0), end=at(2026, 3, 9, 0)) == 40 * HOUR
    assert working_seconds(start=at(2026, 10, 26, 0), end=at(2026, 11, 2, 0)) == 40 * HOUR


def test_a_round_the_clock_calendar_has_a_23_hour_day_in_march(chicago) -> None:
    calendar = BusinessCalendar.objects.get()
    OpeningHours.objects.all().delete()
    OpeningHours.objects.bulk_create(
        OpeningHours(calendar=calendar, weekday=d, opens=time(0), closes=time(0)) for d in range(7)
    )
    calendar_materialise(start=date(2026, 3, 1), end=date(2026, 12, 31))
    assert working_seconds(start=at(2026, 3, 8, 0), end=at(2026, 3, 9, 0)) == 23 * HOUR
    assert working_seconds(start=at(2026, 11, 1, 0), end=at(2026, 11, 2, 0)) == 25 * HOUR


def test_several_intervals_a_day(chicago) -> None:
    calendar = BusinessCalendar.objects.get()
    OpeningHours.objects.all().delete()
    OpeningHours.objects.bulk_create(
        [OpeningHours(calendar=calendar, weekday=d, opens=time(8), closes=time(12)) for d in range(5)]
        + [OpeningHours(calendar=calendar, weekday=d, opens=time(13), closes=time(17)) for d in range(5)]
    )
    calendar_materialise(start=date(2026, 5, 1), end=date(2026, 6, 30))
    # Monday 11:00 + 2 h: one hour before lunch, one after.
    assert working_deadline(start=at(2026, 5, 4, 11), hours=2) == at(2026, 5, 4, 14)


@pytest.mark.parametrize(
    ("zone", "start", "expected"),
    [
        # Berlin changes clocks on 2026-03-29, three weeks after Chicago.
        ("Europe/Berlin", (2026, 3, 27, 16), (2026, 3, 30, 12)),
        # Kolkata has no daylight saving and a half-hour offset.
        ("Asia/Kolkata", (2026, 5, 8, 16), (2026, 5, 11, 12)),
    ],
)
def test_a_tenant_in_another_zone_counts_its_own_hours(tenant_b, zone, start, expected) -> None:
    tenant_b.timezone = zone  # not saved: the transaction of the test is rolled back anyway
    assert connection.tenant.timezone == zone
    calendar_materialise(start=date(2026, 1, 1), end=date(2026, 12, 31))
    tz = ZoneInfo(zone)
    deadline = working_deadline(start=at(*start, tz=tz), hours=4)
    assert deadline == at(*expected, tz=tz)
    assert deadline.astimezone(tz).hour == 12
