"""A value read for the current tenant and kept by this process for a few seconds.

What staff change a few times a year (a tenant's categories, grouping policy, areas, the
resident form's map) is otherwise read again by every batch or page that needs it: a
query, a round trip and the rows' objects, each time. The price is bounded staleness: a
change reaches a process at most the setting's number of seconds later (0 reads at every
call). The kept value is shared between threads and requests, so it is read, never
changed.
"""

import threading
from collections.abc import Callable
from time import monotonic
from typing import Generic, TypeVar

from django.conf import settings

from civicpulse.core.tenancy import current_schema

T = TypeVar("T")

# Tenants whose value one process keeps at once; past it, the expired values are dropped,
# and every value if none had expired (each is read again at its tenant's next call).
KEPT_TENANTS = 1000


class PerTenant(Generic[T]):
    """`read()` for the current tenant, kept for `seconds_setting` seconds (a setting's
    name: read at each call, never at import)."""

    def __init__(
        self, read: Callable[[], T], *, seconds_setting: str, max_tenants: int = KEPT_TENANTS
    ) -> None:
        self._read = read
        self._seconds_setting = seconds_setting
        self.max_tenants = max_tenants
        self._kept: dict[str, tuple[T, float]] = {}
        self._lock = threading.Lock()
        self._next_sweep = 0.0  # when expired values are next dropped (monotonic)

    def __call__(self) -> T:
        ttl = float(getattr(settings, self._seconds_setting))
        schema = current_schema()
        now = monotonic()  # taken before the read: a change made during it shows in time
        hit = self._kept.get(schema)
        if ttl > 0 and hit is not None and hit[1] > now:
            return hit[0]
        value = self._read()
        if ttl > 0:
            with self._lock:
                # The values of tenants this process no longer serves are dropped once a
                # window (not kept until the bound: an area's boundary can be large).
                full = schema not in self._kept and len(self._kept) >= self.max_tenants
                if full or now >= self._next_sweep:
                    for expired in [key for key, (_, until) in self._kept.items() if until <= now]:
                        del self._kept[expired]
                    self._next_sweep = now + ttl
                    if len(self._kept) >= self.max_tenants:
                        self._kept.clear()
                self._kept[schema] = (value, now + ttl)
        return value

    def kept_count(self) -> int:
        """How many tenants' values this process keeps."""
        return len(self._kept)

    def forget(self) -> None:
        """Read every tenant's value afresh at its next call."""
        with self._lock:
            self._kept.clear()
            self._next_sweep = 0.0
