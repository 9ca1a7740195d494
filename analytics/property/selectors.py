"""Reads of stored property reports and of the address autocomplete."""

from django.contrib.auth.models import User
from django.db import OperationalError, connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import QuerySet

from analytics.property.models import Analyst, PropertyReport
from civicpulse.apikeys.models import ApiKey
from reports.addresses import standardise_address

AUTOCOMPLETE_LIMIT = 10

# Standardised addresses starting with what was typed, in "C" order: a range read of the
# (address_key COLLATE "C") index that stops at the tenth.
_PREFIX = """
    SELECT id, address, address_key FROM reports_location
    WHERE (address_key COLLATE "C") LIKE %(prefix)s
    ORDER BY (address_key COLLATE "C") LIMIT %(limit)s
"""
# To fill the ten when the text has a typo: the most similar addresses by trigrams
# (pg_trgm). With a house number first, among that number's addresses only (the same
# index, a few hundred rows at most); without one, over every address through the GIN
# trigram index, at a stricter similarity so common trigrams do not flood it.
_SIMILAR_AT_NUMBER = """
    SELECT id, address, address_key FROM reports_location
    WHERE (address_key COLLATE "C") LIKE %(number)s AND NOT (id = ANY(%(seen)s))
      AND public.similarity(address_key, %(q)s) >= %(threshold)s
    ORDER BY public.similarity(address_key, %(q)s) DESC, address_key LIMIT %(limit)s
"""
_SIMILAR = """
    SELECT id, address, address_key FROM reports_location
    WHERE address_key OPERATOR(public.%%) %(q)s AND NOT (id = ANY(%(seen)s))
    ORDER BY public.similarity(address_key, %(q)s) DESC, address_key LIMIT %(limit)s
"""
# Without a house number the text is most likely a street: its addresses read in the
# order of the (street, number, zip) index, stopping at the tenth.
_ON_STREET = """
    SELECT id, address, address_key FROM reports_location
    WHERE street = %(street)s AND NOT (id = ANY(%(seen)s))
    ORDER BY number, zip LIMIT %(limit)s
"""
SIMILARITY_AT_NUMBER = 0.2
SIMILARITY_ANYWHERE = 0.5
# The trigram search over every address is given this long at most (a few common
# trigrams can match a large share of a million addresses); past it, no more suggestions.
ANYWHERE_TIMEOUT_MS = 150
_DIRECTIONS = {"n", "s", "e", "w", "ne", "nw", "se", "sw"}


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def address_suggestions(*, q: str, limit: int = AUTOCOMPLETE_LIMIT) -> list[dict]:
    """Up to `limit` known locations for what was typed so far: prefix matches of its
    standardised form first, then the most similar by trigrams."""
    key = standardise_address(q).key or " ".join(q.casefold().split())
    if len(key) < 2:
        return []
    with connection.cursor() as cursor:
        cursor.execute(_PREFIX, {"prefix": _like_prefix(key), "limit": limit})
        rows = list(cursor.fetchall())
        if len(rows) < limit and len(key) >= 4:
            number, _, rest = key.partition(" ")
            params: dict[str, str | int | float | list[int]] = {
                "q": key,
                "seen": [r[0] for r in rows] or [0],
                "limit": limit - len(rows),
            }
            if number[:1].isdigit() and rest:
                params |= {"number": _like_prefix(f"{number} "), "threshold": SIMILARITY_AT_NUMBER}
                cursor.execute(_SIMILAR_AT_NUMBER, params)
                rows += cursor.fetchall()
            else:
                words = [w for w in key.split() if w not in _DIRECTIONS]
                if words:
                    streets = list(
                        dict.fromkeys([words[0], " ".join(words[:-1]) or words[0], " ".join(words)])
                    )
                    for street in streets:
                        if len(rows) >= limit:
                            break
                        seen = [r[0] for r in rows] or [0]
                        cursor.execute(
                            _ON_STREET, {**params, "street": street, "seen": seen, "limit": limit - len(rows)}
                        )
                        rows += cursor.fetchall()
                if len(rows) < limit and len(key) >= 6:
                    params |= {"seen": [r[0] for r in rows] or [0], "limit": limit - len(rows)}
                    rows += _similar_anywhere(cursor, params)
    return [{"location_id": r[0], "address": r[1], "address_key": r[2]} for r in rows]


def _similar_anywhere(cursor: CursorWrapper, params: dict[str, str | int | float | list[int]]) -> list[tuple]:
    """The trigram search over every address, bounded in time. Its threshold and timeout
    are set for this statement only: put back after it, and undone with the savepoint
    when it times out."""
    set_both = "SELECT set_config('pg_trgm.similarity_threshold', %s, true), set_config('statement_timeout', %s, true)"
    cursor.execute(
        "SELECT current_setting('pg_trgm.similarity_threshold', true), current_setting('statement_timeout')"
    )
    before = cursor.fetchone()
    try:
        with transaction.atomic():
            cursor.execute(set_both, [str(SIMILARITY_ANYWHERE), f"{ANYWHERE_TIMEOUT_MS}ms"])
            cursor.execute(_SIMILAR, params)
            rows = list(cursor.fetchall())
            cursor.execute(set_both, [before[0] or "0.3", before[1]])
            return rows
    except OperationalError:
        return []


def is_analyst(user: object) -> bool:
    return isinstance(user, User) and Analyst.objects.filter(user=user).exists()


def analyst_of(user: User) -> Analyst | None:
    return Analyst.objects.filter(user=user).first()


def _visible(
    reports: QuerySet[PropertyReport], *, user: User | None, api_key: ApiKey | None
) -> QuerySet[PropertyReport]:
    """Staff see every report of the tenant, an analyst their own, an API key those it
    asked for."""
    if api_key is not None:
        return reports.filter(api_key=api_key)
    if user is not None and user.is_staff:
        return reports
    if user is not None:
        return reports.filter(user=user)
    return reports.none()


def property_reports_mine(
    *, user: User | None = None, api_key: ApiKey | None = None
) -> QuerySet[PropertyReport]:
    """The caller's own reports, newest first (staff too: theirs, not the tenant's),
    without their stored JSON."""
    reports = PropertyReport.objects.defer("body")
    if api_key is not None:
        return reports.filter(api_key=api_key)
    if user is not None:
        return reports.filter(user=user)
    return reports.none()


def property_report_for(
    *, report_id: int, user: User | None = None, api_key: ApiKey | None = None
) -> PropertyReport | None:
    """A stored report, if the caller may see it."""
    return _visible(PropertyReport.objects.filter(pk=report_id), user=user, api_key=api_key).first()
