"""The property reports' figures of bench/property.py, run in the bench tenant after the
views: `report_ms_p50` / `report_ms_p95` (lookup by address, findings, narrative without
a model, stored; over 200 random addresses; goal p95 under 300 ms) and
`autocomplete_p50_ms` / `autocomplete_p95_ms` (prefix then trigram suggestions for 200
partial addresses, some with a typo; goal under 50 ms at a million locations)."""

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


def autocomplete_figures(ids: list[int]) -> None:
    from analytics.property.selectors import address_suggestions

    rng = random.Random(13)
    queries = []
    for _, key in _addresses(ids):
        text = key[: rng.randint(3, max(3, min(len(key), 12)))]
        if rng.random() < 0.25 and len(text) > 5:
            i = rng.randrange(3, len(text) - 1)
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
