"""Thin task adapter of the Socrata fetcher. The schema travels with the task; beat sends
one entry per dataset (CELERY_BEAT_SCHEDULE), each to every tenant."""

from celery import shared_task

from analytics.records.socrata import records_fetch


# No retry of the task: the fetcher retries each page itself; the next run starts from
# the last complete download.
@shared_task(name="analytics.records_fetch", ignore_result=True, acks_late=True, max_retries=0)
def fetch_records(dataset: str) -> dict[str, object] | None:
    batch = records_fetch(dataset=dataset)
    if batch is None:
        return None  # the tenant downloads no such dataset
    return {"batch": batch.pk, "loaded": batch.rows_loaded, "rejected": batch.rows_rejected}
