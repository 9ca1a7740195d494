"""Thin task adapters for the pipeline. Ids in, the schema travels with the task."""

from celery import shared_task

from civicpulse.core.workers import queue_depth
from reports.notifications import confirmation_send, notify_issue_event, notify_sweep
from reports.services.outbox import pipeline_wake, reports_drain, reports_waiting
from reports.services.pipeline import report_process, report_sweep_stuck
from reports.services.residents_data import retention_sweep

# More messages than this waiting in the `io` queue, or more received reports than this
# waiting for a drain, means a backlog is being worked off.
BUSY_QUEUE_DEPTH = 100


@shared_task(name="reports.process_report", ignore_result=True)
def process_report(report_id: int) -> None:
    # Failures are recorded on the report; the sweeper re-queues it (up to MAX_ATTEMPTS).
    report_process(report_id=report_id)


@shared_task(name="reports.drain", ignore_result=True)
def drain_reports(token: str = "") -> int:
    # The outbox's wake-up: claims received reports in batches until none is left.
    return reports_drain(token=token)


@shared_task(name="reports.sweep_stuck", ignore_result=True)
def sweep_stuck() -> dict[str, int]:
    # The table is the outbox's queue: reports waiting there are a backlog as much as
    # messages in `io` are, and a drain is woken for them (a wake-up lost with Redis, or
    # drains that all ended) instead of one task per report.
    waiting = reports_waiting(limit=BUSY_QUEUE_DEPTH + 1)
    if waiting:
        pipeline_wake()
    return report_sweep_stuck(queue_busy=queue_depth("io") > BUSY_QUEUE_DEPTH or waiting > BUSY_QUEUE_DEPTH)


@shared_task(
    name="reports.notify_event",
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def notify_event(event_id: int) -> int:
    # OSError covers an SMTP server that is down: retried with backoff; sent mail is not resent.
    return notify_issue_event(event_id=event_id)


@shared_task(name="reports.notify_sweep", ignore_result=True)
def sweep_notifications() -> int:
    return notify_sweep()


@shared_task(
    name="reports.send_confirmation",
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def send_confirmation(report_id: int) -> bool:
    # An SMTP failure releases the claim (the send rolls back) and the task retries.
    return confirmation_send(report_id=report_id)


@shared_task(name="reports.retention_sweep", ignore_result=True)
def sweep_retention() -> dict[str, int]:
    # Daily in every tenant (beat); a run cut short is finished by the next one.
    return retention_sweep()
