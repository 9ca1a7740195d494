"""The CPUs that upload work may run on: every CPU the process may use but the first,
which is left to pages.

Under a photo flood on two cores, decoding and upload handling kept both cores busy, and
another tenant's page waited for a core at every wake-up (after each query): 3.1 ms a
page on average, against 1.0 ms when quiet, and its slowest pages twice as slow. A lower
priority for the photo threads helped little (niceness 10: 3.1 ms; SCHED_IDLE: 2.3 ms); a
core with no photo work on it did: 1.4 ms (bench/photo_flood.py, docs/performance.md
"Uploads beside pages"). With one CPU there is nothing to leave. It helps where the
process has CPUs of its own (a whole machine, or a cpuset); under a CPU quota alone the
process is shown every CPU of the host, and keeping off one of them changes nothing.

UPLOAD_LANE_CPUS sets the list instead ("1,2" or "1-3"), or "all" to use every CPU.
Django's settings read it, so that every process refuses a value it cannot read at its
start.
"""

import logging
import os

logger = logging.getLogger(__name__)


def _ranges(text: str) -> list[tuple[int, int]]:
    """The CPU ranges "1,2" or "1-3" names (compared, never spelt out: "0-99999999" costs
    nothing). Raises ValueError, naming the setting, when it cannot be read."""
    ranges = []
    try:
        for part in text.split(","):
            first, dash, last = part.strip().partition("-")
            low = int(first)
            high = int(last) if dash else low
            if low > high:
                raise ValueError(part)
            ranges.append((low, high))
    except ValueError:
        raise ValueError(
            f"UPLOAD_LANE_CPUS={text!r}: a list of CPU numbers and ranges (1,2 or 1-3), or all"
        ) from None
    return ranges


def upload_lane_setting_check() -> None:
    """Raise ValueError for a UPLOAD_LANE_CPUS that cannot be read (Django's settings call
    this, so that every process refuses it at its start)."""
    wanted = os.environ.get("UPLOAD_LANE_CPUS", "").strip()
    if wanted and wanted.lower() != "all":
        _ranges(wanted)


def upload_lane_cpus() -> set[int] | None:
    """The CPUs for upload work, or None where it may use them all (one CPU, "all", a list
    naming none of the process's CPUs, or a system that cannot tell or set a thread's
    CPUs). Raises ValueError for a UPLOAD_LANE_CPUS that cannot be read."""
    wanted = os.environ.get("UPLOAD_LANE_CPUS", "").strip()
    if wanted.lower() == "all":
        return None
    ranges = _ranges(wanted) if wanted else None  # read on every system, used where it can be
    if not hasattr(os, "sched_getaffinity"):
        return None
    # The process's CPUs (its main thread's), not the calling thread's: a thread started
    # by one already kept to the lane inherits the lane's CPUs.
    allowed = os.sched_getaffinity(os.getpid())
    if ranges is not None:
        chosen = {cpu for cpu in allowed if any(low <= cpu <= high for low, high in ranges)}
        if not chosen:
            # Not refused: every service may share one environment file, each on CPUs of
            # its own, and only web processes have an upload lane.
            logger.warning(
                "UPLOAD_LANE_CPUS=%s names none of the CPUs this process may use (%s): every CPU",
                wanted,
                ", ".join(map(str, sorted(allowed))),
            )
            return None
        return chosen
    if len(allowed) < 2:
        return None
    return allowed - {min(allowed)}


def keep_to_upload_lane() -> None:
    """Run the calling thread on the upload lane's CPUs from now on. Never raises: it
    starts the threads of pools, and a pool whose thread start fails is broken for good."""
    try:
        cpus = upload_lane_cpus()
        if cpus is not None:
            os.sched_setaffinity(0, cpus)  # 0: the calling thread
    except (ValueError, OSError) as exc:  # checked at start; or CPUs changed since: any CPU
        logger.warning("upload work runs on every CPU: %s", exc)
