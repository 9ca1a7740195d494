"""The report row is the queue (a transactional outbox). A submission commits its report
and nothing else; after the commit it wakes its tenant's drain at most once per
WAKE_INTERVAL (a Redis key set with NX and a short expiry), and a drain claims batches of
received reports with `FOR UPDATE SKIP LOCKED`. Nothing can be lost between the commit
and the queue: the queue is the table. A wake-up that never reaches Redis costs only time:
the report keeps no `enqueued_at`, so the sweeper (pipeline.report_sweep_stuck) takes it
at its next run."""

import logging
import time
import uuid

from django.db import connection, transaction
from django.utils import timezone

from civicpulse.core.redis_client import redis_client
from civicpulse.core.tenancy import current_schema
from reports.models import Report
from reports.services.pipeline import report_process_claimed

logger = logging.getLogger(__name__)

# At most one drain is woken per tenant in this long; a report committed meanwhile is
# found by the drain woken just before (it claims until the table has none left).
WAKE_INTERVAL = 1.0
# Reports one claim takes: enough to amortise the claim, few enough that a drain's
# claimed-but-unfinished reports stay a small share of the backlog.
BATCH_SIZE = 50


def _wake_key() -> str:
    return f"cp:{current_schema()}:pipeline:wake"


def pipeline_wake(*, report_id: int | None = None) -> bool:
    """Wake this tenant's drain unless one was woken in the last WAKE_INTERVAL. Called after
    commit; False when Redis could not be reached (the report, if given, is then left to
    the sweeper's next run at once)."""
    from reports.tasks import drain_reports

    key, token = _wake_key(), uuid.uuid4().hex
    client = redis_client()
    try:
        if not client.set(key, token, nx=True, px=int(WAKE_INTERVAL * 1000)):
            return True  # a drain woken moments ago will find this report
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
    return True


def reports_claim(*, limit: int = BATCH_SIZE) -> list[int]:
    """Claim up to `limit` received reports no worker has started, oldest first: each
    claimed one counts an attempt and records its processing start, so no other worker
    (drain, single-report task or sweeper) takes it while this one works on it."""
    with transaction.atomic(), connection.cursor() as cursor:
        # The partial index on received reports' enqueued_at serves the order; a report
        # whose wake-up failed (enqueued_at NULL) comes last.
        cursor.execute(
            """
            UPDATE reports_report r SET attempts = r.attempts + 1, processing_started_at = %s
            WHERE r.id IN (
                SELECT id FROM reports_report
                WHERE status = 'received' AND attempts = 0 AND processing_started_at IS NULL
                ORDER BY enqueued_at LIMIT %s FOR UPDATE SKIP LOCKED)
            RETURNING r.id
            """,
            [timezone.now(), limit],
        )
        return sorted(row[0] for row in cursor.fetchall())


def reports_drain(*, token: str = "", batch_size: int = BATCH_SIZE) -> int:
    """Process received reports batch by batch until none is left; returns how many were
    processed or failed. A failing report is recorded on its own row and the batch goes on;
    its retries are the sweeper's, with backoff.

    The drain woken by `token` ends with one more claim after its wake key expires: a
    submission turned away by that key (its report committed after this drain's last
    claim) is covered by it. A full batch wakes another drain, so a backlog is worked off
    by as many worker threads as it needs."""
    done = 0
    waited = False
    while True:
        ids = reports_claim(limit=batch_size)
        if len(ids) == batch_size:
            pipeline_wake()
        if not ids:
            if waited or not token:
                return done
            time.sleep(_own_wake_left(token))
            waited = True
            continue
        for report_id in ids:
            report_process_claimed(report_id=report_id)
            done += 1


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
