"""The transactional outbox: a submission commits its report and wakes its tenant's drain
at most once a moment; drains claim batches that no other worker takes."""

import pytest

import reports.services.outbox as outbox
import reports.services.pipeline as pipeline
from civicpulse.core.redis_client import redis_client
from reports.models import Report
from reports.services.intake import report_submit
from reports.services.outbox import pipeline_wake, reports_claim, reports_drain
from reports.services.pipeline import MAX_ATTEMPTS, report_process
from reports.tasks import drain_reports, process_report

LAT, LON = 39.7817, -89.6501


def submit(text: str = "Deep pothole in the road outside number 12", lat: float = LAT) -> Report:
    return report_submit(description=text, latitude=lat, longitude=LON).report


@pytest.fixture
def published(tenant_a, monkeypatch) -> list[tuple]:
    """What the wake-ups publish, recorded instead of sent; no wake key left from before."""
    redis_client().delete(outbox._wake_key())
    sent: list[tuple] = []
    monkeypatch.setattr(drain_reports, "apply_async", lambda args=(), **kw: sent.append(args))
    monkeypatch.setattr(process_report, "apply_async", lambda args=(), **kw: sent.append(("single", *args)))
    yield sent
    redis_client().delete(outbox._wake_key())


def test_submissions_publish_one_wake_up_per_interval_and_no_task_per_report(
    published, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        reports = [submit(f"Pothole number {n}", lat=LAT + n * 0.01) for n in range(5)]
    assert len(published) == 1 and published[0][0]  # one drain, with the token of its key
    assert all(r.status == "received" and r.enqueued_at is not None for r in reports)
    # Once the key has expired, the next submission wakes a drain again.
    redis_client().delete(outbox._wake_key())
    assert pipeline_wake() and len(published) == 2


def test_a_drain_processes_its_batches(published) -> None:
    ids = [submit(f"Street light out on corner {n}", lat=LAT + n * 0.01).pk for n in range(5)]
    assert reports_drain(batch_size=2) == 5
    assert set(Report.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"processed"}
    assert set(Report.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {1}
    # Full batches woke another drain (the backlog is shared by more threads).
    assert len(published) == 1


def test_a_claimed_report_is_nobody_elses(published) -> None:
    first, second = submit(), submit("Graffiti on the wall", lat=LAT + 0.01)
    assert reports_claim(limit=1) == [first.pk]
    assert reports_claim(limit=5) == [second.pk]
    assert reports_claim(limit=5) == []
    # A single-report task for a report in a drain's batch leaves it to the drain.
    assert report_process(report_id=first.pk) is None
    assert Report.objects.get(pk=first.pk).attempts == 1


def test_a_poisonous_report_fails_alone_after_its_retries(published, monkeypatch) -> None:
    classify = pipeline.classify_report

    def poisoned(*, text: str, **kwargs):
        if "POISON" in text:
            raise ValueError("classifier choked on POISON")
        return classify(text=text, **kwargs)

    monkeypatch.setattr(pipeline, "classify_report", poisoned)
    good = [submit(f"Overflowing bin number {n}", lat=LAT + n * 0.01).pk for n in range(3)]
    poison = submit("POISON in the description", lat=LAT + 0.5).pk
    assert reports_drain(batch_size=10) == 4
    assert set(Report.objects.filter(pk__in=good).values_list("status", flat=True)) == {"processed"}
    bad = Report.objects.get(pk=poison)
    assert (bad.status, bad.attempts, bad.processing_started_at) == ("received", 1, None)
    assert "classifier choked on POISON" in bad.last_error
    # Its retries are the sweeper's single-report tasks; after the last it has failed, for good.
    for _ in range(MAX_ATTEMPTS - 1):
        assert report_process(report_id=poison) is None
    bad.refresh_from_db()
    assert (bad.status, bad.attempts) == ("failed", MAX_ATTEMPTS)
    assert "classifier choked on POISON" in bad.last_error
    assert reports_claim() == []


def test_redis_down_at_the_wake_up_leaves_the_report_to_the_next_sweep(
    tenant_a, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    def down(*args, **kwargs):
        raise ConnectionError("redis is down")

    class DownRedis:
        set = delete = pipeline = down

    monkeypatch.setattr(outbox, "redis_client", DownRedis)
    with django_capture_on_commit_callbacks(execute=True):
        report = submit()
    report.refresh_from_db()
    assert report.status == "received" and report.enqueued_at is None
    queued: list[list[int]] = []
    monkeypatch.setattr(pipeline, "enqueue_processing", lambda ids: queued.append(ids) or len(ids))
    with django_capture_on_commit_callbacks(execute=True):
        assert pipeline.report_sweep_stuck()["requeued"] == 1  # at once, not a minute later
    assert queued == [[report.pk]]
    # A drain that finds Redis down still ends (its last look at the key gives up at once).
    assert reports_drain(token="gone") == 1
