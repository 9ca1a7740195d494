"""Thin task adapter of the rules. The schema travels with the task."""

from celery import shared_task

from analytics.rules.services import rules_evaluate


# Hourly by beat on `cpu` (CELERY_TASK_ROUTES). No retry: the next hour evaluates afresh.
@shared_task(name="analytics.rules_evaluate", ignore_result=True, acks_late=True, max_retries=0)
def evaluate_rules() -> dict[str, int]:
    result = rules_evaluate()
    return {"raised": result.raised, "kept": result.kept, "cleared": result.cleared}
