"""Thin task adapters of the SLA engine. The schema travels with the task."""

from celery import shared_task

from analytics.sla.services.evaluation import sla_evaluate
from analytics.sla.services.notifications import sla_notify_pending


# Queues come from CELERY_TASK_ROUTES: evaluation on `cpu`, sending mail on `io`.
@shared_task(name="analytics.sla_evaluate", ignore_result=True, acks_late=True, max_retries=0)
def evaluate_sla() -> dict[str, int]:
    # No retry: the next pass, 15 minutes later, does the whole work again.
    result = sla_evaluate()
    return {"evaluated": result.evaluated, "crossings": result.crossings, "metrics": result.metrics}


@shared_task(
    name="analytics.sla_notify",
    ignore_result=True,
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def notify_sla() -> int:
    # Sends every pending crossing: a message lost with Redis is caught up by the next
    # pass's. OSError covers an SMTP server that is down; sent mail is not resent.
    return sla_notify_pending()
