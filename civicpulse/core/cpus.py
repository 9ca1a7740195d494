"""The CPUs that upload work may run on: every CPU the process may use but the first,
which is left to pages.

Under a photo flood on two cores, decoding and upload handling kept both cores busy, and
another tenant's page waited for a core at every wake-up (after each query): 3.1 ms a
page on average, against 1.0 ms when quiet, and its slowest pages twice as slow. A lower
priority for the photo threads helped little (niceness 10: 3.1 ms; SCHED_IDLE: 2.3 ms); a
core with no photo work on it did: 1.4 ms (bench/photo_flood.py, docs/performance.md
"Uploads beside pages"). With one CPU there is nothing to leave.

UPLOAD_LANE_CPUS sets the list instead ("1,2" or "1-3"), or "all" to use every CPU.
"""

import os
import threading


def _listed(text: str, allowed: set[int]) -> set[int]:
    """The CPUs of `allowed` that `text` ("1,2" or "1-3") names (ranges are compared, not
    spelt out: "0-99999999" costs nothing)."""
    ranges = []
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        ranges.append((int(first), int(last or first)))
    return {cpu for cpu in allowed if any(low <= cpu <= high for low, high in ranges)}


def upload_lane_cpus() -> set[int] | None:
    """The CPUs for upload work, or None where it may use them all (one CPU, "all", or a
    system that cannot tell or set a thread's CPUs)."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    allowed = os.sched_getaffinity(0)
    wanted = os.environ.get("UPLOAD_LANE_CPUS", "").strip()
    if wanted.lower() == "all":
        return None
    if wanted:
        try:
            chosen = _listed(wanted, allowed)
        except ValueError:
            raise ValueError(
                f"UPLOAD_LANE_CPUS={wanted!r}: a list of CPU numbers and ranges, or all"
            ) from None
        return chosen or None
    if len(allowed) < 2:
        return None
    return allowed - {min(allowed)}


def keep_to_upload_lane() -> None:
    """Run the calling thread on the upload lane's CPUs from now on (Linux: a thread id is a
    target of sched_setaffinity)."""
    cpus = upload_lane_cpus()
    if cpus is not None:
        try:
            os.sched_setaffinity(threading.get_native_id(), cpus)
        except OSError:  # a CPU taken away since it was read: the same work, on any CPU
            pass
