"""Reading a request's arguments as the spec gives them: from the query string or a POST's
form, empty meaning absent; each one that cannot be read an Open311Error (400)."""

import math
import re
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from django.http import HttpRequest, QueryDict
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from reports.open311.errors import Open311Error


def param(request: HttpRequest, name: str) -> str:
    """An argument from the query string, or from the form body of a POST. An empty one
    is the same as one not sent (the spec's "Optional Arguments")."""
    source: QueryDict = request.POST if request.method == "POST" and name in request.POST else request.GET
    return source.get(name, "").strip()


def split_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def datetime_arg(request: HttpRequest, name: str, zone: ZoneInfo) -> datetime | None:
    """A W3C datetime with its offset, or a date (its start in the tenant's zone)."""
    raw = param(request, name)
    if not raw:
        return None
    try:
        parsed = parse_datetime(
            raw.replace(" ", "+")
        )  # an unescaped "+" in a query string arrives as a space
        if parsed is None and (day := parse_date(raw)) is not None:
            return datetime.combine(day, time.min, tzinfo=zone)
    except ValueError:
        parsed = None
    if parsed is None or timezone.is_naive(parsed):
        raise Open311Error(400, f"{name} must be a W3C datetime with a time zone, e.g. 2010-01-01T00:00:00Z.")
    try:
        # In UTC: PostgreSQL refuses offsets beyond ±15:59 that Python accepts.
        return parsed.astimezone(UTC)
    except OverflowError:
        raise Open311Error(400, f"{name} is out of range.") from None


def positive_arg(request: HttpRequest, name: str, default: int, maximum: int) -> int:
    raw = param(request, name) or str(default)
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise Open311Error(400, f"{name} must be a whole number from 1 to {maximum}.")
    return int(raw)


_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")


def attribute_answers(form: QueryDict) -> dict[str, str | list[str]]:
    """attribute[code]=value, and attribute[code][]=value repeated for a multivaluelist."""
    answers: dict[str, str | list[str]] = {}
    for name in form:
        match = _ATTRIBUTE.match(name)
        if match:
            answers[match[1]] = form.getlist(name) if match[2] else form.get(name, "")
    return answers


def coordinate(form: QueryDict, name: str) -> float | None:
    raw = form.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Open311Error(400, f"{name} must be a number.") from None
    if not math.isfinite(value):
        raise Open311Error(400, f"{name} must be a number.")
    return value
