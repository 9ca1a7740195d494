"""Thin task adapters for the SLA engine, scores and rules. The schema travels with the task."""
from celery import shared_task

from analytics.services import rules_evaluate, scores_compute, sla_evaluate, sla_notify_pending


# Queues come from CELERY_TASK_ROUTES: evaluation on `cpu`, sending mail on `io`.
@shared_task(name="analytics.sla_evaluate", ignore_result=True, acks_late=True, max_retries=0)
def evaluate_sla() -> dict[str, int]:
    # No retry: the next pass, 15 minutes later, does the whole work again.
    result = sla_evaluate()
    return {"evaluated": result.evaluated, "crossings": result.crossings, "metrics": result.metrics}


@shared_task(
    name="analytics.sla_notify", ignore_result=True,
    autoretry_for=(OSError,), retry_backoff=True, max_retries=5,
)
def notify_sla() -> int:
    # Sends every pending crossing: a message lost with Redis is caught up by the next
    # pass's. OSError covers an SMTP server that is down; sent mail is not resent.
    return sla_notify_pending()


# Hourly by beat on `cpu` (CELERY_TASK_ROUTES). No retry: the next hour computes afresh.
@shared_task(name="analytics.scores_compute", ignore_result=True, acks_late=True, max_retries=0)
def compute_scores() -> int:
    return scores_compute().pk


@shared_task(name="analytics.rules_evaluate", ignore_result=True, acks_late=True, max_retries=0)
def evaluate_rules() -> dict[str, int]:
    result = rules_evaluate()
    return {"raised": result.raised, "kept": result.kept, "cleared": result.cleared}
