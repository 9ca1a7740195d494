"""Thin task adapter of scores. The schema travels with the task."""

from celery import shared_task

from analytics.scores.services import scores_compute


# Hourly by beat on `cpu` (CELERY_TASK_ROUTES). No retry: the next hour computes afresh.
@shared_task(name="analytics.scores_compute", ignore_result=True, acks_late=True, max_retries=0)
def compute_scores() -> int:
    return scores_compute().pk
