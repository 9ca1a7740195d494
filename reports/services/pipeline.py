"""The pipeline: queueing a report's processing, processing it (classify, then group it
into an issue), recording failures, and the sweeper that re-queues what a lost message,
a dead worker or Redis down at submission left behind."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from issues.models import Category
from issues.selectors import categories_kept
from issues.services.grouping import issue_group_report
from issues.services.grouping_batch import GroupingBatch
from llm.embeddings import embed_stored
from llm.services import adjudicate_same_problem, classify_report
from llm.types import CategoryInfo, Classification
from reports.models import Report

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# A received report is re-queued once it has waited this long since it was last queued,
# doubling with each re-queue, so a long backlog is not multiplied by the sweeper.
STUCK_AFTER = timedelta(seconds=60)
STUCK_AFTER_MAX = timedelta(hours=1)


def processing_stale_after() -> timedelta:
    """A report a worker started processing is its worker's until this long has passed
    (settings.PIPELINE_PROCESSING_STALE_SECONDS): only then is the worker taken for dead
    and the report re-queued, or failed if out of attempts."""
    return timedelta(seconds=settings.PIPELINE_PROCESSING_STALE_SECONDS)


def enqueue_processing(report_ids: list[int]) -> int:
    """Queue processing for these reports. Called after commit: if Redis is down the
    reports are already safe, so a failure is logged and left to the sweeper. Reports not
    sent lose their `enqueued_at`, so the next sweep takes them at once instead of waiting
    for an interval meant for a message that was never sent."""
    from reports.tasks import process_report

    for sent, report_id in enumerate(report_ids):
        try:
            process_report.apply_async(args=(report_id,), retry=False)
        except Exception as exc:  # broker down or unreachable: the sweeper will catch up
            logger.warning(
                "could not queue report processing", extra={"report_id": report_id, "error": repr(exc)}
            )
            Report.objects.filter(pk__in=report_ids[sent:], status=Report.Status.RECEIVED).update(
                enqueued_at=None
            )
            return sent
    return len(report_ids)


def category_info(category: Category) -> CategoryInfo:
    """A category as the classifiers see it."""
    return CategoryInfo(
        category.code,
        category.name,
        category.description,
        tuple(category.keywords),
        category.default_severity,
        tuple(category.examples),
    )


def report_categories(chosen: Category | None) -> list[CategoryInfo]:
    """What the classifier may answer: the resident's category when one was chosen (it is
    kept, so severity and confidence must be about it), else every active category, in code
    order (from what the process keeps of the tenant's set-up: issues.selectors)."""
    if chosen is not None:
        return [category_info(chosen)]
    return [category_info(c) for c in categories_kept().values() if c.active]


def report_process(*, report_id: int) -> Report | None:
    """Classify a received report and group it into an issue. Idempotent: a report that
    is no longer `received` is left alone, and the row lock makes concurrent runs of the
    same report wait for each other."""
    # A report another worker is on (a drain's batch) keeps its processing start until
    # that try ends or the sweeper takes it back from a dead worker.
    claimed = Report.objects.filter(
        pk=report_id, status=Report.Status.RECEIVED, processing_started_at=None
    ).update(attempts=F("attempts") + 1, processing_started_at=timezone.now())
    if not claimed:
        return None  # processed already, failed for good, in progress elsewhere, or gone
    return report_process_claimed(report_id=report_id)


def report_process_claimed(*, report_id: int) -> Report | None:
    """Process a report this worker claimed (report_process, or one of a batch that could
    not be processed together). A failure is recorded on the report and returns None."""
    report = Report.objects.select_related("category").get(pk=report_id)
    try:
        classification = classify_report(
            text=report.description, categories=report_categories(report.category)
        )
        with transaction.atomic():
            report = (
                Report.objects.select_for_update(of=("self",)).select_related("category").get(pk=report_id)
            )
            if report.status != Report.Status.RECEIVED:
                return report
            chosen = (
                Category.objects.filter(code=classification.category).first()
                if report.category is None and classification.category
                else None
            )
            report_classification_apply(report, classification, chosen)
            report_group(report)
            report.save(update_fields=PROCESSED_FIELDS)
        return report
    except Exception as exc:
        # Recorded on the report and logged once; the sweeper tries again later.
        record_failure(report_id, exc)
        return None


# What processing writes on a report.
PROCESSED_FIELDS = [
    "category",
    "category_source",
    "severity",
    "summary",
    "confidence",
    "classifier",
    "classifier_note",
    "issue",
    "match",
    "status",
    "processed_at",
    "last_error",
]


def report_classification_apply(
    report: Report, classification: Classification, chosen: Category | None
) -> None:
    """Put the classifier's answer on the report. `chosen` is the category of the answer's
    code; it is taken only when the resident chose none."""
    if report.category is None and classification.category:
        report.category = chosen
        report.category_source = Report.CategorySource.CLASSIFIER if chosen else ""
    report.severity = classification.severity
    report.summary = classification.summary
    report.confidence = classification.confidence
    report.classifier = classification.classifier
    report.classifier_note = classification.note


def report_group(report: Report, batch: GroupingBatch | None = None) -> None:
    """Link a classified report to its issue (opening one if none matches), in the caller's
    transaction, with the neighbourhood locked (by the batch, or here)."""
    grouping = issue_group_report(
        text=report.description,
        summary=report.summary,
        category=report.category,
        severity=report.severity,
        latitude=report.latitude,
        longitude=report.longitude,
        address_key=report.address_key,
        at=report.submitted_at,
        report_ref=report.tracking_id,
        # A borderline candidate may be put to the tenant's language model; its
        # answer is one recorded signal (issues.match_score decides).
        adjudicate=adjudicate_same_problem,
        embedding=embed_stored(report.description),
        # "Me too": the issue the resident chose on the form, joined while open.
        chosen_issue_id=report.chosen_issue_id,
        batch=batch,
    )
    report.issue = grouping.issue
    report.match = grouping.match
    report.status = Report.Status.PROCESSED
    report.processed_at = timezone.now()
    report.last_error = ""


def record_failure(report_id: int, exc: Exception) -> None:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    # This try is over: the sweeper may re-queue the report on its usual schedule.
    Report.objects.filter(pk=report_id, status=Report.Status.RECEIVED).update(
        last_error=error, processing_started_at=None
    )
    Report.objects.filter(pk=report_id, status=Report.Status.RECEIVED, attempts__gte=MAX_ATTEMPTS).update(
        status=Report.Status.FAILED
    )
    logger.exception("report processing failed", extra={"report_id": report_id})


def report_sweep_stuck(
    *, queue_busy: bool = False, limit: int = 5000, now: datetime | None = None
) -> dict[str, int]:
    """Re-queue reports left in `received` (a lost message, a dead worker, Redis down at
    submission). Each report waits STUCK_AFTER since it was last queued, doubling with
    every re-queue. While the queue is busy (`queue_busy`: a backlog is waiting), a report
    no worker has started yet is most likely still in that backlog, so only reports a
    worker started and did not finish are re-queued: a slow backlog is not multiplied.
    Reports that used up their attempts become `failed`. A report a worker is processing
    (its processing start more recent than processing_stale_after()) is neither re-queued nor
    failed: only a worker that died leaves a stale start behind."""
    now = now or timezone.now()
    stale = now - processing_stale_after()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE reports_report SET status = 'failed',
                       last_error = COALESCE(NULLIF(last_error, ''), 'processing did not finish')
                WHERE status = 'received' AND attempts >= %s
                  AND enqueued_at < %s
                  AND (processing_started_at IS NULL OR processing_started_at < %s)
                """,
                [MAX_ATTEMPTS, now - STUCK_AFTER, stale],
            )
            failed = cursor.rowcount
            # Claim with a conditional UPDATE: two sweepers at once never queue a report twice.
            # MATERIALIZED: the locking SELECT runs once, so LIMIT bounds it (as in
            # outbox._claim).
            cursor.execute(
                """
                WITH due AS MATERIALIZED (
                    SELECT id FROM reports_report
                    WHERE status = 'received' AND (NOT %(busy)s OR attempts > 0)
                      AND (processing_started_at IS NULL OR processing_started_at < %(stale)s)
                      AND (enqueued_at IS NULL OR enqueued_at < %(now)s - LEAST(
                            %(base)s * power(2, GREATEST(enqueue_count - 1, 0)), %(cap)s) * interval '1 second')
                    ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
                UPDATE reports_report r SET enqueued_at = %(now)s, enqueue_count = r.enqueue_count + 1,
                       processing_started_at = NULL
                FROM due WHERE r.id = due.id
                RETURNING r.id
                """,
                {
                    "now": now,
                    "busy": queue_busy,
                    "limit": limit,
                    "base": STUCK_AFTER.total_seconds(),
                    "cap": STUCK_AFTER_MAX.total_seconds(),
                    "stale": stale,
                },
            )
            ids = sorted(row[0] for row in cursor.fetchall())
        transaction.on_commit(lambda: enqueue_processing(ids))
    if ids or failed:
        logger.info("sweeper re-queued reports", extra={"requeued": len(ids), "failed": failed})
    return {"requeued": len(ids), "failed": failed}
