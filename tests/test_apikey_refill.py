"""A busy integrator's key dropping out of the per-process cache is looked up once, not by
every thread serving it at that moment: threads counting at once used to push a good
key's address over the bad-key budget and lock it out for the rest of the minute."""

import threading
import time
import uuid

import civicpulse.apikeys.selectors as selectors
import civicpulse.apikeys.throttling as throttling
from civicpulse.apikeys.models import ApiKey
from civicpulse.apikeys.services import api_key_digest
from civicpulse.core.tenancy import current_schema

THREADS = 16


def test_concurrent_misses_of_a_good_key_look_it_up_once(settings, monkeypatch) -> None:
    settings.API_KEY_CACHE_SECONDS = 5
    settings.API_BAD_KEY_RATE_PER_MINUTE = 2
    monkeypatch.setattr(selectors, "_active", {})
    key, good = f"refill-{uuid.uuid4().hex}", ApiKey(name="busy")
    lookups: list[str] = []

    def lookup(sent: str) -> ApiKey:  # what api_key_for does, slowly: a query, then the cache
        lookups.append(sent)
        time.sleep(0.05)
        selectors._active[(current_schema(), api_key_digest(sent))] = (good, time.monotonic() + 5)
        return good

    monkeypatch.setattr(throttling, "api_key_for", lookup)
    start = threading.Barrier(THREADS)
    answers: list[tuple[ApiKey | None, float | None]] = []

    def call() -> None:
        start.wait()
        answers.append(throttling.api_key_guarded(key, client_key=f"client-{key}"))

    threads = [threading.Thread(target=call) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [(good, None)] * THREADS
    assert lookups == [key]
