"""The property reports' figures of bench/property.py, run in the bench tenant after the
views: `report_ms_p50` / `report_ms_p95` (lookup by address, findings, narrative without
a model, stored; over 200 random addresses; goal p95 under 300 ms) and
`autocomplete_p50_ms` / `autocomplete_p95_ms` (suggestions for 200 partial addresses, a
quarter of them a street without its number, a quarter with two letters swapped; goal
under 50 ms at a million locations, which `locations_fill` tops the tenant up to)."""

import random
import time

from _setup import figure, percentile

SAMPLE = 200


def _addresses(ids: list[int]) -> list[tuple[str, str]]:
    from reports.models import Location

    sample = random.Random(11).sample(ids, min(SAMPLE, len(ids)))
    return list(Location.objects.filter(pk__in=sample).values_list("address", "address_key"))


def report_figures(ids: list[int]) -> None:
    from analytics.property.lookup import property_lookup
    from analytics.property.models import PropertyReport
    from analytics.property.services import property_report_create
    from llm.client import endpoint_config
    from llm.models import ModelCall

    # The goal is without the model: a configured one would time its answers instead.
    if endpoint_config(ModelCall.Purpose.NARRATIVE) is not None:
        figure("report_ms", "skipped (a language model is configured)")
        return
    times = []
    unmatched = 0
    for address, _ in _addresses(ids):
        started = time.perf_counter()
        lookup = property_lookup(address=address)
        if lookup.resolved:
            property_report_create(lookup=lookup, query={"address": address})
        else:
            unmatched += 1
        times.append((time.perf_counter() - started) * 1000)
    figure("report_ms_p50", round(percentile(times, 0.5) or 0, 1))
    figure("report_ms_p95", round(percentile(times, 0.95) or 0, 1))
    figure("report_unmatched", unmatched)
    PropertyReport.objects.all().delete()


# Street names for the locations added by `locations_fill`: 40 × 20 made-up names, each
# in four directions and eight street types, so that trigrams are as varied as a large
# city's (the records' own addresses use twelve streets only).
_STEMS = (
    "ash oak maple pine cedar elm birch willow spring river lake hill mill stone brook green "
    "fair sun high rose wood clear glen shady meadow forest cherry king queen church market "
    "union grand central lincoln jackson madison harrison kedzie pulaski cicero"
).split()
_ENDINGS = (
    "_ wood dale view field crest mont ridge land side ton bury ford haven well more dell port vale grove"
).split()
_TYPES = ["st", "ave", "blvd", "dr", "ln", "rd", "ct", "pl"]


def locations_fill(total: int) -> int:
    """Add generated locations (no records) until the tenant holds `total`, by set-based
    SQL: house numbers 1 to 12,000 on 800 streets, unique by address. Returns the count."""
    from django.db import connection

    streets = [stem + ("" if end == "_" else end) for stem in _STEMS for end in _ENDINGS]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), COALESCE(max(id), 0) FROM reports_location")
        count, top = cursor.fetchone()
        while count < total:
            cursor.execute(
                """
                INSERT INTO reports_location (address_key, address, number, direction, street, street_type,
                                              unit, zip, latitude, longitude, created_at)
                SELECT lower(a), upper(a), n::text, d, s, t, '', '', 41.65 + (i %% 4001) * 0.0001,
                       -87.85 + (i / 4001 %% 4001) * 0.0001, now()
                FROM (
                    SELECT i, n, d, s, t, n || ' ' || d || ' ' || s || ' ' || t AS a
                    FROM (
                        SELECT i, 1 + abs(hashtext('n' || i)) %% 12000 AS n,
                               (ARRAY['n', 's', 'e', 'w'])[1 + abs(hashtext('d' || i)) %% 4] AS d,
                               (%(streets)s::text[])[1 + abs(hashtext('s' || i)) %% %(nstreets)s] AS s,
                               (%(types)s::text[])[1 + abs(hashtext('t' || i)) %% 8] AS t
                        FROM generate_series(%(first)s, %(last)s) i
                    ) g
                ) x
                ON CONFLICT (address_key) DO NOTHING
                """,
                {
                    "streets": streets,
                    "nstreets": len(streets),
                    "types": _TYPES,
                    "first": top + 1,
                    "last": top + total - count,
                },
            )
            top += total - count
            count += cursor.rowcount
        cursor.execute("ANALYZE reports_location")
    return count


def autocomplete_figures(ids: list[int]) -> None:
    from analytics.property.selectors import address_suggestions

    rng = random.Random(13)
    queries = []
    for n, (_, key) in enumerate(_addresses(ids)):
        if n % 4 == 3:
            # One in four typed as a street without its house number (`n kingwood ave`),
            # or its name alone (`kingwood`).
            words = key.split()[1:]
            key = " ".join(words[1:2] if n % 8 == 7 and len(words) > 1 else words)
        text = key[: rng.randint(3, max(3, min(len(key), 12)))]
        if rng.random() < 0.25 and len(text) > 5:
            i = rng.randrange(1, len(text) - 1)
            text = text[:i] + text[i + 1] + text[i] + text[i + 2 :]  # two letters swapped
        queries.append(text)
    times, empty = [], 0
    for q in queries:
        started = time.perf_counter()
        found = address_suggestions(q=q)
        times.append((time.perf_counter() - started) * 1000)
        empty += not found
    figure("autocomplete_p50_ms", round(percentile(times, 0.5) or 0, 1))
    figure("autocomplete_p95_ms", round(percentile(times, 0.95) or 0, 1))
    figure("autocomplete_empty", empty)
