"""Thin task adapters for the pipeline. Ids in, the schema travels with the task."""
from celery import shared_task

from reports.services import report_process, report_sweep_stuck


@shared_task(name="reports.process_report", acks_late=True, ignore_result=True)
def process_report(report_id: int) -> None:
    # Failures are recorded on the report; the sweeper re-queues it (up to MAX_ATTEMPTS).
    report_process(report_id=report_id)


@shared_task(name="reports.sweep_stuck", ignore_result=True)
def sweep_stuck() -> dict[str, int]:
    return report_sweep_stuck()
