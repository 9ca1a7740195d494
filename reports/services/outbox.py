"""The report row is the queue (a transactional outbox). A submission commits its report
and nothing else; after the commit it wakes its tenant's drain at most once per
WAKE_INTERVAL (a Redis key set with NX and a short expiry; a process that saw the key
alive asks Redis nothing more until shortly before it expires), and a drain claims batches of
received reports of regions of the map no other drain works, with `FOR UPDATE SKIP LOCKED`.
Nothing can be lost between the commit and the queue: the queue is the table. A wake-up
that never reaches Redis costs only time: the report keeps no `enqueued_at`, so the
sweeper (pipeline.report_sweep_stuck) takes it at its next run."""

import contextlib
import logging
import time
import uuid

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from civicpulse.core.redis_client import redis_client
from civicpulse.core.tenancy import current_schema
from issues.geo import LOCK_CELL_DEG
from issues.services.grouping_batch import advisory_key
from llm.client import endpoint_config
from llm.models import ModelCall
from reports.models import Report
from reports.services.batch import reports_process_batch

logger = logging.getLogger(__name__)

# At most one drain is woken per tenant in this long; a report committed meanwhile is
# found by the drain woken just before (it claims until the table has none left).
WAKE_INTERVAL = 1.0
# A drain whose claim came back full wakes one more drain at most this often (its own
# wake key's interval): a backlog gets all the worker threads within a second or two.
FANOUT_INTERVAL = 0.1
# How often an idle drain looks for reports again while its wake key lives: the wait a
# report committed then may have before a worker takes it. Also how long a drain whose
# batch was not full lets reports gather before it claims again (reports_drain).
IDLE_POLL = 0.1
# Reports one claim takes: enough to amortise the claim, few enough that a drain's
# claimed-but-unfinished reports stay a small share of the backlog.
BATCH_SIZE = 50


# A drain works regions of the tenant's map no other drain is working: 4 by 4 neighbourhood
# lock cells (issues.geo), about 2 km. A batch of its regions locks cells that batches of
# other regions do not (but along their common edge), so drains in different regions do
# not wait for each other. Batches drawn from the whole map each locked cells all over it,
# and every drain waited for the others: 14 of 16 were waiting for a lock at any moment.
# In a backlog the oldest region fills a batch alone; at a steady rate a batch takes the
# few reports of each free region in turn (reports_claim_region).
REGION_DEG = 4 * LOCK_CELL_DEG
# How many of the oldest waiting reports are looked at for the regions to offer a drain.
REGION_LOOKAHEAD = 500
# How long a drain about to end waits for a region another drain holds (a batch takes well
# under a second without a language model).
REGION_WAIT = 30.0
# A report with no point (an address only) belongs to the region NULL: one region.
_REGION = f"floor(latitude / {REGION_DEG!r})::int, floor(longitude / {REGION_DEG!r})::int"
_UNCLAIMED = "status = 'received' AND attempts = 0 AND processing_started_at IS NULL"

# Per process and tenant: until when (time.monotonic()) the wake key is known to live,
# from the expiry Redis reported to this process. Submissions before then need no round
# trip: the drain that key woke claims until it expires, and once more after. Kept short
# of the key's end by AWAKE_MARGIN, the time between a report's commit and its wake-up.
_known_awake: dict[str, float] = {}
AWAKE_MARGIN = 0.2


def _wake_key() -> str:
    return f"cp:{current_schema()}:pipeline:wake"


def pipeline_wake(*, report_id: int | None = None, interval: float = WAKE_INTERVAL) -> bool:
    """Wake this tenant's drain unless one was woken in the last `interval` seconds. Called
    after commit; False when Redis could not be reached (the report, if given, is then left
    to the sweeper's next run at once)."""
    from reports.tasks import drain_reports

    schema, asked = current_schema(), time.monotonic()
    if _known_awake.get(schema, 0.0) > asked:
        return True  # the key this process saw set lives on: its drain will find this report
    key, token = _wake_key(), uuid.uuid4().hex
    client = redis_client()
    try:
        pipe = client.pipeline(transaction=False)
        pipe.set(key, token, nx=True, px=int(interval * 1000))
        pipe.pttl(key)
        woken, ttl_ms = pipe.execute()
        if woken:
            try:
                drain_reports.apply_async(args=(token,), retry=False)
            except Exception:
                client.delete(key)  # let the next submission try again instead of waiting
                raise
    except Exception as exc:  # Redis down or unreachable: the report is safe in the table
        logger.warning("could not wake the pipeline", extra={"report_id": report_id, "error": repr(exc)})
        if report_id is not None:
            Report.objects.filter(pk=report_id, status=Report.Status.RECEIVED).update(enqueued_at=None)
        return False
    if ttl_ms > 0:  # the key's end is at least this far from when this process asked
        _known_awake[schema] = asked + ttl_ms / 1000 - AWAKE_MARGIN
    return True


def reports_claim(
    *, limit: int = BATCH_SIZE, region: tuple[int | None, int | None] | None = None
) -> list[int]:
    """Claim up to `limit` received reports no worker has started, oldest first (of
    `region` only, when given: its row and column of REGION_DEG): each claimed one counts
    an attempt and records its processing start, so no other worker (drain, single-report
    task or sweeper) takes it while this one works on it."""
    with connection.cursor() as cursor:
        return _claim(cursor, limit=limit, region=region)[1]


def _claim(
    cursor: CursorWrapper,
    *,
    limit: int,
    region: tuple[int | None, int | None] | None = None,
    lock: list[int] | None = None,
) -> tuple[bool, list[int]]:
    """The claim in one statement (a transaction of its own outside an atomic block),
    trying `lock` (a region's session lock) in the same statement when given: whether the
    lock was taken (True without one), and the reports claimed (none without the lock)."""
    within = "" if region is None else f" AND ({_REGION}) IS NOT DISTINCT FROM (%s, %s)"
    lock_sql = "pg_try_advisory_lock(%s, %s)" if lock else "true"
    # The partial index on received reports' enqueued_at serves the order; a report whose
    # wake-up failed (enqueued_at NULL) comes last. The locking SELECT sits in a
    # MATERIALIZED CTE so it runs exactly once: as an `IN (...)` subquery the planner may
    # rescan it per outer row, and every rescan skips the rows this statement already
    # updated and locks the next ones, so LIMIT would not bound the claim. The lock's
    # answer is read once (an InitPlan): without the lock the scan does not start.
    # In autocommit (a drain) the statement is its own transaction; inside an atomic block
    # a savepoint keeps the caller's transaction usable should it fail.
    within_atomic = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
    with within_atomic:
        cursor.execute(
            f"""
            WITH taken AS MATERIALIZED (SELECT {lock_sql} AS ok),
            claimed AS MATERIALIZED (
                SELECT id FROM reports_report WHERE (SELECT ok FROM taken) AND {_UNCLAIMED}{within}
                ORDER BY enqueued_at LIMIT %s FOR UPDATE SKIP LOCKED),
            updated AS (
                UPDATE reports_report r SET attempts = r.attempts + 1, processing_started_at = %s
                FROM claimed WHERE r.id = claimed.id
                RETURNING r.id)
            SELECT (SELECT ok FROM taken), ARRAY(SELECT id FROM updated ORDER BY id)
            """,  # noqa: S608 (constants, not input)
            [*(lock or ()), *(region or ()), limit, timezone.now()],
        )
        ok, ids = cursor.fetchone()
    return bool(ok), list(ids)


def _region_lock_key(space: int, region: tuple[int | None, int | None]) -> list[int]:
    return [space, advisory_key(f"region:{region[0]}:{region[1]}")]


def _region_space() -> int:
    # A key space of its own, beside the grouping locks' (issues.services.grouping_batch).
    return advisory_key(f"{current_schema()}:regions")


def reports_claim_region(*, limit: int = BATCH_SIZE, wait: bool = False) -> tuple[list[int], list[list[int]]]:
    """Claim a batch in the regions of the oldest waiting reports that no other drain is
    working, region after region until the batch is full: returns the reports and the
    locks of the regions they came from (session locks, held until region_release).

    One region at a steady rate holds a few reports at a time: a batch of its own for
    each of them paid a batch's reads and round trips for one or two reports, and a
    drain woken for each region kept a worker thread busy per region (at 100 reports a
    second, 11 ms of the workers' CPU per report against about 1 ms in a backlog).

    When every region with waiting reports is taken, nothing, unless `wait`: then the
    drain waits for the oldest of them, so that a drain about to end leaves no report
    behind a region whose holder has just looked and found none (in the other regions
    held, such a report waits for its holder's next claim, or the sweeper's next run,
    should that holder be ending too). The locks only keep drains apart; what keeps two
    groupings from opening one issue twice is still the neighbourhood lock."""
    space = _region_space()
    ids: list[int] = []
    locks: list[list[int]] = []
    try:
        with connection.cursor() as cursor:
            held_elsewhere: list[tuple[int | None, int | None]] = []
            for region in _oldest_regions(cursor):
                lock = _region_lock_key(space, region)
                locked, claimed = _claim_in_region(
                    cursor, lock, region, limit - len(ids), already_locked=False
                )
                if not locked:
                    held_elsewhere.append(region)
                    continue
                if claimed:
                    ids += claimed
                    locks.append(lock)
                    if len(ids) >= limit:
                        break
            if not ids and wait and held_elsewhere:
                lock = _region_lock_key(space, held_elsewhere[0])
                if _region_wait(cursor, lock):
                    ids = _claim_in_region(cursor, lock, held_elsewhere[0], limit, already_locked=True)[1]
                    if ids:
                        locks.append(lock)
    except BaseException:
        region_release(locks)
        raise
    return sorted(ids), locks


def _oldest_regions(cursor: CursorWrapper) -> list[tuple[int | None, int | None]]:
    """The regions of the oldest waiting reports, the oldest first."""
    cursor.execute(
        f"""
        SELECT r, c FROM (
            SELECT {_REGION}, enqueued_at FROM reports_report WHERE {_UNCLAIMED}
            ORDER BY enqueued_at LIMIT %s) AS oldest(r, c, enqueued_at)
        GROUP BY r, c ORDER BY min(enqueued_at) NULLS LAST
        """,  # noqa: S608 (constants, not input)
        [REGION_LOOKAHEAD],
    )
    return cursor.fetchall()


def _claim_in_region(
    cursor: CursorWrapper,
    lock: list[int],
    region: tuple[int | None, int | None],
    limit: int,
    *,
    already_locked: bool,
) -> tuple[bool, list[int]]:
    """Claim in a region, taking its lock in the same statement unless this session holds
    it already (`already_locked`): whether this session holds the lock, and the reports
    claimed. The lock is given up again when nothing was claimed or the claim failed."""
    try:
        locked, ids = _claim(cursor, limit=limit, region=region, lock=None if already_locked else lock)
    except BaseException:
        region_release([lock])  # a session lock taken by a failed statement stays taken
        raise
    if locked and not ids:
        region_release([lock])
    return locked, ids


def _region_wait(cursor: CursorWrapper, lock: list[int]) -> bool:
    """Take the region's lock once its holder gives it up, looking every IDLE_POLL for at
    most REGION_WAIT seconds (a holder that hangs is left to the sweeper)."""
    deadline = time.monotonic() + REGION_WAIT
    while time.monotonic() < deadline:
        time.sleep(IDLE_POLL)
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", lock)
        if cursor.fetchone()[0]:
            return True
    return False


def region_release(locks: list[list[int]]) -> None:
    """Give up the regions claimed by reports_claim_region. A connection that closed
    meanwhile has released them already."""
    if not locks:
        return
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FILTER (WHERE NOT pg_advisory_unlock(a, b))"
                " FROM unnest(%s::int[], %s::int[]) AS held(a, b)",
                [[lock[0] for lock in locks], [lock[1] for lock in locks]],
            )
            lost = cursor.fetchone()[0]
        # A session replaced mid-batch (its locks went with the old one), or a claim that
        # failed before its statement took the region's lock.
        if lost:
            logger.warning("a drain's regions were no longer held", extra={"regions": lost})
    except Exception as exc:
        # The session may live on with the locks: closing it gives them up for sure.
        logger.warning("could not release a drain's regions", extra={"error": repr(exc)})
        connection.close()


def reports_waiting(*, limit: int) -> int:
    """How many received reports no worker has claimed yet, counted up to `limit`."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FROM (
                SELECT 1 FROM reports_report
                WHERE status = 'received' AND attempts = 0 AND processing_started_at IS NULL LIMIT %s) waiting
            """,
            [limit],
        )
        return int(cursor.fetchone()[0])


def reports_drain(*, token: str = "", batch_size: int = BATCH_SIZE) -> int:
    """Process received reports batch by batch until none is left; returns how many were
    processed or failed. Each batch is processed together (services.batch); a failing
    report is recorded on its own row and the rest of its batch goes on; its retries are
    the sweeper's, with backoff.

    The drain woken by `token` keeps claiming every IDLE_POLL while its wake key lives,
    and ends with one more claim after the key expired: a submission turned away by that
    key (its report committed after one of this drain's claims) is covered by it, within
    IDLE_POLL rather than at the key's end, or by the drain holding its region, which claims
    again after every batch (at once after a full one; after a batch that was not full,
    once IDLE_POLL has let reports gather, unless its key has expired or the tenant
    classifies with a language model, whose answers are a batch's time). A full batch wakes
    another drain, so a backlog is worked off by as many worker threads as it has regions."""
    done = 0
    expired = not token
    # With a language model, a batch's time is the model's answers, one by one: drains
    # classify in parallel in any region instead of waiting for each other's.
    by_region = endpoint_config(ModelCall.Purpose.CLASSIFY) is None
    while True:
        if by_region:
            ids, regions = reports_claim_region(limit=batch_size, wait=expired)
        else:
            ids, regions = reports_claim(limit=batch_size), []
        try:
            if len(ids) == batch_size:
                pipeline_wake(interval=FANOUT_INTERVAL)
            if ids:
                done += reports_process_batch(report_ids=ids)
                # A full batch (a backlog), the last claims of a drain about to end, or a
                # language model's batches: claim again at once. A batch that was not
                # full took what had come: what comes next gathers for IDLE_POLL (below).
                if len(ids) == batch_size or expired or not by_region:
                    continue
        finally:
            region_release(regions)
        if expired:
            return done
        left = _own_wake_left(token)
        expired = left <= 0
        time.sleep(min(left, IDLE_POLL))


def _own_wake_left(token: str) -> float:
    """Seconds until the wake key set with `token` expires (0: it is gone or another's)."""
    key = _wake_key()
    try:
        pipe = redis_client().pipeline()
        pipe.get(key)
        pipe.pttl(key)
        value, ttl = pipe.execute()
    except Exception:  # Redis down: the sweeper covers what a wake-up may have missed
        return 0.0
    if value is None or value.decode() != token or ttl <= 0:
        return 0.0
    return min(ttl / 1000, WAKE_INTERVAL)
