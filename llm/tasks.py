"""Thin task adapters for the classifier. The schema travels with the task."""

import logging

from celery import shared_task

from llm.learning import classifier_train

logger = logging.getLogger(__name__)


# Sent to queue `cpu` (its beat entry says so): fitting is CPU-bound and must not hold a
# thread of the `io` pool that classifies live reports. No retries: a failed run changes
# nothing and beat runs it again within the hour; acks_late re-runs it after a worker
# crash, which is safe since training skips when nothing changed.
@shared_task(name="llm.retrain_classifier", ignore_result=True, max_retries=0)
def retrain_classifier() -> int | None:
    trained = classifier_train()
    if trained is None:
        return None
    logger.info(
        "classifier retrained",
        extra={
            "version": trained.version,
            "examples": trained.examples,
            "metrics": trained.metrics["category"],
        },
    )
    return trained.version
