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
# A street typed partly or with a typo: the known street names sharing its first letter,
# read by a skip scan of the (street, number, zip) index (one probe per distinct street,
# never the addresses themselves), at most STREETS_SCANNED of them.
_STREETS_FROM = """
    WITH RECURSIVE s (street, n) AS (
        (SELECT street, 1 FROM reports_location WHERE street >= %(lo)s AND street < %(hi)s
         ORDER BY street LIMIT 1)
        UNION ALL
        SELECT (SELECT r.street FROM reports_location r WHERE r.street > s.street AND r.street < %(hi)s
                ORDER BY r.street LIMIT 1), s.n + 1
        FROM s WHERE s.street IS NOT NULL AND s.n < %(most)s
    )
    SELECT street FROM s WHERE street IS NOT NULL
"""
SIMILARITY_AT_NUMBER = 0.2
SIMILARITY_ANYWHERE = 0.5
STREETS_SCANNED = 600
# Streets whose addresses fill the ten, closest name first.
STREETS_SUGGESTED = 3
# The trigram search over every address is given this long at most (a few common
# trigrams can match a large share of a million addresses, about 80 ms of GIN postings
# on two cores), so that an answer stays under 50 ms; past it, no more suggestions.
ANYWHERE_TIMEOUT_MS = 30
_DIRECTIONS = {"n", "s", "e", "w", "ne", "nw", "se", "sw"}
_STREET_TYPES = {"st", "ave", "rd", "blvd", "dr", "ln", "pl", "ct", "ter", "hwy", "pkwy", "sq", "cir", "way"}


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
        if len(rows) < limit and len(key) >= 3:
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
                    rows += _on_streets(cursor, streets, rows, limit)
                    if len(rows) < limit:
                        # Not (or not only) a street's full name: those it may mean.
                        name = " ".join(
                            words[:-1] if len(words) > 1 and words[-1] in _STREET_TYPES else words
                        )
                        like = [s for s in _streets_like(cursor, name) if s not in streets]
                        rows += _on_streets(cursor, like, rows, limit)
                if len(rows) < limit and len(key) >= 6:
                    params |= {"seen": [r[0] for r in rows] or [0], "limit": limit - len(rows)}
                    rows += _similar_anywhere(cursor, params)
    return [{"location_id": r[0], "address": r[1], "address_key": r[2]} for r in rows]


def _on_streets(cursor: CursorWrapper, streets: list[str], rows: list[tuple], limit: int) -> list[tuple]:
    """Addresses on these streets, in their order, numbers in order, until `rows` and
    they make `limit`."""
    found: list[tuple] = []
    for street in streets:
        wanted = limit - len(rows) - len(found)
        if wanted <= 0:
            break
        seen = [r[0] for r in [*rows, *found]] or [0]
        cursor.execute(_ON_STREET, {"street": street, "seen": seen, "limit": wanted})
        found += cursor.fetchall()
    return found


def _edits(a: str, b: str) -> int:
    """Edits from `a` to `b`: letters inserted, deleted, replaced, or two neighbours swapped
    (optimal string alignment)."""
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y))
            if i > 1 and j > 1 and x == b[j - 2] and a[i - 2] == y:
                current[j] = min(current[j], before[j - 2] + 1)
        before, previous = previous, current
    return previous[-1]


def _streets_like(cursor: CursorWrapper, name: str) -> list[str]:
    """Known street names `name` may mean, typed partly or with a typo (`kingw`,
    `kignwood`, `mian`): among those sharing its first letter, the ones it begins, then
    (past three letters) those within one edit (two past five letters) of it or of their
    start, closest first."""
    if len(name) < 2:
        return []
    cursor.execute(_STREETS_FROM, {"lo": name[0], "hi": chr(ord(name[0]) + 1), "most": STREETS_SCANNED})
    allowed = 0 if len(name) <= 3 else 1 if len(name) <= 5 else 2
    ranked = []
    for (street,) in cursor.fetchall():
        edits = 0 if street.startswith(name) else min(_edits(name, street), _edits(name, street[: len(name)]))
        if edits <= allowed:
            ranked.append((edits, street))
    return [street for _, street in sorted(ranked)[:STREETS_SUGGESTED]]


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
