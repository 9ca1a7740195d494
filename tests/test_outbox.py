"""The transactional outbox: a submission commits its report and wakes its tenant's drain
at most once a moment; drains claim batches that no other worker takes."""

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace

import psycopg
import pytest
from django.db import connection, transaction

import llm.services as llm_services
import reports.services.outbox as outbox
import reports.services.pipeline as pipeline
from civicpulse.core.redis_client import redis_client
from issues.models import Issue
from reports.models import Report
from reports.services.intake import report_submit
from reports.services.outbox import pipeline_wake, reports_claim, reports_drain
from reports.services.pipeline import MAX_ATTEMPTS, report_process
from reports.tasks import drain_reports, process_report
from tests.support.services import child_database_url

LAT, LON = 39.7817, -89.6501


def submit(text: str = "Deep pothole in the road outside number 12", lat: float = LAT) -> Report:
    return report_submit(description=text, latitude=lat, longitude=LON).report


def wake_key_expire() -> None:
    """The tenant's wake key gone, as its expiry would leave it (and as this process, which
    remembers how long a key it saw has to live, would then find it)."""
    redis_client().delete(outbox._wake_key())
    outbox._known_awake.clear()


@pytest.fixture
def published(tenant_a, monkeypatch) -> list[tuple]:
    """What the wake-ups publish, recorded instead of sent; no wake key left from before."""
    wake_key_expire()
    sent: list[tuple] = []
    monkeypatch.setattr(drain_reports, "apply_async", lambda args=(), **kw: sent.append(args))
    monkeypatch.setattr(process_report, "apply_async", lambda args=(), **kw: sent.append(("single", *args)))
    yield sent
    wake_key_expire()
    with connection.cursor() as cursor:  # a test that failed holding a region frees it
        cursor.execute("SELECT pg_advisory_unlock_all()")


def test_submissions_publish_one_wake_up_per_interval_and_no_task_per_report(
    published, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        reports = [submit(f"Pothole number {n}", lat=LAT + n * 0.01) for n in range(5)]
    assert len(published) == 1 and published[0][0]  # one drain, with the token of its key
    assert all(r.status == "received" and r.enqueued_at is not None for r in reports)
    # Once the key has expired, the next submission wakes a drain again.
    wake_key_expire()
    assert pipeline_wake() and len(published) == 2


def test_wake_ups_in_a_live_keys_time_send_nothing_to_redis(published) -> None:
    """A process that saw the wake key set knows how long it lives: submissions until
    shortly before its end need no round trip. A key gone early (a Redis restart) is not
    noticed until then: reports committed meanwhile wait for the sweeper's next run."""
    schema = outbox.current_schema()
    assert pipeline_wake() and len(published) == 1
    seen_until = outbox._known_awake[schema] - time.monotonic()
    assert (
        outbox.WAKE_INTERVAL - outbox.AWAKE_MARGIN - 0.1
        < seen_until
        <= outbox.WAKE_INTERVAL - outbox.AWAKE_MARGIN
    )
    redis_client().delete(outbox._wake_key())  # gone early (a Redis restart): not asked
    assert pipeline_wake() and redis_client().get(outbox._wake_key()) is None and len(published) == 1
    outbox._known_awake[schema] = time.monotonic()  # the time known to be left has run out
    assert pipeline_wake() and len(published) == 2
    # Another process's key: this one learns how long it has left from Redis, too.
    outbox._known_awake.clear()
    assert pipeline_wake() and len(published) == 2
    assert outbox._known_awake[schema] > time.monotonic()


def test_a_drain_processes_its_batches(published, monkeypatch) -> None:
    monkeypatch.setattr(outbox, "FANOUT_INTERVAL", 60)  # however slow this machine, one wake-up
    ids = [submit(f"Street light out on corner {n}", lat=LAT + n * 0.01).pk for n in range(5)]
    assert reports_drain(batch_size=2) == 5
    assert set(Report.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"processed"}
    assert set(Report.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {1}
    # Full batches woke another drain (the backlog is shared by more threads), at most one
    # per FANOUT_INTERVAL.
    assert len(published) == 1


def test_a_claimed_report_is_nobody_elses(published) -> None:
    first, second = submit(), submit("Graffiti on the wall", lat=LAT + 0.01)
    assert reports_claim(limit=1) == [first.pk]
    assert reports_claim(limit=5) == [second.pk]
    assert reports_claim(limit=5) == []
    # A single-report task for a report in a drain's batch leaves it to the drain.
    assert report_process(report_id=first.pk) is None
    assert Report.objects.get(pk=first.pk).attempts == 1


@pytest.fixture
def rescanning_planner(tenant_a) -> None:
    """The plan a planner may pick once the table's statistics change: a nested loop
    that runs the claim's locking subquery again for every row of the outer scan."""
    from django.db import connection

    with connection.cursor() as cursor:
        for setting in ("hashjoin", "mergejoin", "hashagg", "sort", "material", "bitmapscan"):
            cursor.execute(f"SET LOCAL enable_{setting} = off")  # the test's transaction only


def test_a_claim_takes_no_more_than_its_limit_whatever_the_plan(published, rescanning_planner) -> None:
    ids = [submit(f"Broken bench number {n}", lat=LAT + n * 0.01).pk for n in range(4)]
    assert reports_claim(limit=1) == ids[:1]
    assert reports_claim(limit=2) == ids[1:3]
    Report.objects.filter(pk__in=ids).update(attempts=1, processing_started_at=None, enqueued_at=None)
    assert pipeline.report_sweep_stuck(limit=3)["requeued"] == 3


@pytest.mark.parametrize("stage", ["classifier", "grouping"])
def test_a_poisonous_report_fails_alone_after_its_retries(published, monkeypatch, stage: str) -> None:
    # Poisoned where both the batch and the single-report retries go through: the
    # classifier a tenant without a model uses, or the grouping of a classified report
    # (which fails the batch's transaction, so its reports go one by one).
    target, name = (
        (llm_services, "classify_untrained_many")
        if stage == "classifier"
        else (pipeline, "issue_group_report")
    )
    real = getattr(target, name)

    def poisoned(*args, **kwargs):
        if "POISON" in str(args[0] if args else kwargs["text"]):  # a text, or the batch's texts
            raise ValueError(f"{stage} choked on POISON")
        return real(*args, **kwargs)

    monkeypatch.setattr(target, name, poisoned)
    good = [submit(f"Overflowing bin number {n}", lat=LAT + n * 0.01).pk for n in range(3)]
    poison = submit("POISON in the description", lat=LAT + 0.5).pk
    good.append(submit("Overflowing bin beside the school", lat=LAT + 0.6).pk)  # after it in the batch
    assert reports_drain(batch_size=10) == 5
    assert set(Report.objects.filter(pk__in=good).values_list("status", flat=True)) == {"processed"}
    assert all(Report.objects.get(pk=pk).issue_id for pk in good)
    bad = Report.objects.get(pk=poison)
    assert (bad.status, bad.attempts, bad.processing_started_at, bad.issue_id) == ("received", 1, None, None)
    assert f"{stage} choked on POISON" in bad.last_error
    # Its retries are the sweeper's single-report tasks; after the last it has failed, for good.
    for _ in range(MAX_ATTEMPTS - 1):
        assert report_process(report_id=poison) is None
    bad.refresh_from_db()
    assert (bad.status, bad.attempts) == ("failed", MAX_ATTEMPTS)
    assert f"{stage} choked on POISON" in bad.last_error
    assert reports_claim() == []


def _outcome(ids: list[int]) -> dict:
    """What grouping made of these reports, with issue ids replaced by the position of
    the issue's first report, so two runs (whose issues get other ids) compare."""
    reports = list(Report.objects.filter(pk__in=ids).select_related("category").order_by("pk"))
    position: dict[int, int] = {}
    for report in reports:
        assert report.issue_id is not None
        position.setdefault(report.issue_id, len(position))

    def plain(value):
        if isinstance(value, dict):
            return {k: position.get(v, v) if k == "issue" else plain(v) for k, v in value.items()}
        return [plain(v) for v in value] if isinstance(value, list) else value

    issues = {
        position[issue.pk]: (
            issue.title,
            issue.category_id,
            issue.severity,
            issue.report_count,
            None if issue.latitude is None else round(issue.latitude, 9),
            None if issue.longitude is None else round(issue.longitude, 9),
            [(e.kind, plain(e.data)) for e in issue.events.order_by("created_at", "pk")],
        )
        for issue in Issue.objects.filter(pk__in=position)
    }
    rows = [
        (position[r.issue_id], r.category.code, r.category_source, r.severity, r.classifier, plain(r.match))
        for r in reports
    ]
    return {"reports": rows, "issues": issues}


def test_a_batch_groups_as_grouping_one_by_one(published) -> None:
    # An open issue from before the batch, which some of the batch's reports join.
    earlier = submit("Fallen tree blocking the path by the pond", lat=LAT)
    report_process(report_id=earlier.pk)
    texts = [
        ("Fallen tree blocking the path by the pond", LAT + 0.00001, None),
        ("Street light out at the corner of Oak and Fifth", LAT + 0.02, None),
        # Near-identical reports within the batch: the first opens an issue the others join.
        ("Street light out at the corner of Oak and Fifth", LAT + 0.02001, None),
        ("Streetlight out, corner of Oak & Fifth, very dark", LAT + 0.02002, None),
        ("Graffiti sprayed on the bus shelter", LAT + 0.02003, None),
        ("Deep pothole in the road outside number 12", LAT + 0.04, "potholes"),
        ("Deep pothole in the road outside number 12", LAT + 0.04, "potholes"),
        ("Loud music every night past midnight", LAT + 0.3, None),
    ]
    ids = [
        report_submit(description=t, latitude=lat, longitude=LON, category_code=code).report.pk
        for t, lat, code in texts
    ]
    with transaction.atomic():
        for pk in ids:
            report_process(report_id=pk)
        one_by_one = _outcome(ids)
        transaction.set_rollback(True)
    assert set(Report.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"received"}
    assert reports_drain(batch_size=len(ids)) == len(ids)
    batched = _outcome(ids)
    assert batched == one_by_one
    # The case is not trivial: reports joined, within the batch and from before it.
    groups = [row[0] for row in batched["reports"]]
    assert len(set(groups)) == 5 and groups.count(groups[1]) == 3
    assert Report.objects.get(pk=ids[0]).issue_id == Report.objects.get(pk=earlier.pk).issue_id


def test_a_batch_stores_each_processed_field_as_it_was_set(published) -> None:
    from datetime import UTC, datetime

    from issues.models import Category
    from reports.services.batch import _reports_save

    first, second = submit(), submit("Streetlight out by the school", lat=LAT + 0.01)
    issue = Issue.objects.create(title="An issue", latitude=LAT, longitude=LON)
    set_on = {
        first.pk: {
            "category": Category.objects.get(code="potholes"),
            "category_source": "model",
            "severity": "high",
            "summary": 'A "deep" pothole \\ by the café; it\'s {growing} — 深い',
            "confidence": 0.1 + 0.2,  # a float whose shortest form has 17 digits
            "classifier": "offline-prior-v1",
            "classifier_note": "line one\nline two\ttabbed",
            "issue": issue,
            "match": {"method": "geo", "score": 0.7071067811865476, "parts": [1, None, 'x"y'], "best": {}},
            "status": Report.Status.PROCESSED,
            "processed_at": datetime(2026, 12, 7, 21, 45, 1, 123456, tzinfo=UTC),
            "last_error": "",
        },
        second.pk: {
            "category": None,
            "category_source": "",
            "severity": "low",
            "summary": "",
            "confidence": 1e-300,
            "classifier": "",
            "classifier_note": "",
            "issue": None,
            "match": None,
            "status": Report.Status.FAILED,
            "processed_at": None,
            "last_error": "ValueError: ' OR 1=1 --",
        },
    }
    reports = [first, second]
    for report in reports:
        for field, value in set_on[report.pk].items():
            setattr(report, field, value)
    _reports_save(reports)
    for report in Report.objects.filter(pk__in=set_on).select_related("category", "issue"):
        assert {field: getattr(report, field) for field in pipeline.PROCESSED_FIELDS} == set_on[report.pk]
    # A confidence JSON has no number for (a language model's answer may hold one).
    for value in (float("inf"), float("-inf")):
        first.confidence = value
        _reports_save([first])
        assert Report.objects.get(pk=first.pk).confidence == value
    first.confidence = float("nan")
    _reports_save([first])
    assert math.isnan(Report.objects.get(pk=first.pk).confidence)


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


def test_the_sweep_wakes_a_drain_for_the_tables_backlog_and_counts_it_as_busy(published, monkeypatch) -> None:
    import reports.tasks

    seen: list[bool] = []
    monkeypatch.setattr(reports.tasks, "queue_depth", lambda queue: 0)
    monkeypatch.setattr(reports.tasks, "report_sweep_stuck", lambda queue_busy: seen.append(queue_busy) or {})
    monkeypatch.setattr(reports.tasks, "BUSY_QUEUE_DEPTH", 2)
    reports.tasks.sweep_stuck()
    assert seen == [False] and published == []  # nothing waits: no drain
    submit()  # its wake-up was lost (no commit callback runs here)
    reports.tasks.sweep_stuck()
    assert seen == [False, False] and len(published) == 1
    wake_key_expire()
    for n in range(2):
        submit(f"Pothole number {n}", lat=LAT + n * 0.01)
    reports.tasks.sweep_stuck()
    # A backlog in the table: only reports a worker started are re-queued one by one.
    assert seen == [False, False, True] and len(published) == 2


def test_a_batch_reads_its_candidates_at_once_and_again_near_what_it_changed(published, monkeypatch) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    import issues.services.grouping_batch as grouping_batch
    from reports.dedup_samples import labelled_reports_generate
    from reports.services.batch import reports_process_batch

    # Problems over a town, several reported by two to six residents one after another, so
    # that most reports find their candidates as the batch read them at its start and the
    # others come after a report of their own problem in the same batch.
    rows = labelled_reports_generate(120, seed=11, centre=(LAT, LON))
    ids = [
        report_submit(
            description=row.text, latitude=row.latitude, longitude=row.longitude, submitted_at=row.at
        ).report.pk
        for row in rows
    ]
    with transaction.atomic():
        for pk in ids:
            report_process(report_id=pk)
        one_by_one = _outcome(ids)
        transaction.set_rollback(True)
    at_start: list[int] = []
    again: list[str] = []
    many, single = grouping_batch.issue_candidates_many, grouping_batch.issue_candidates
    monkeypatch.setattr(
        grouping_batch, "issue_candidates_many", lambda qs: at_start.append(len(qs)) or many(qs)
    )
    monkeypatch.setattr(
        grouping_batch, "issue_candidates", lambda **q: again.append(q["text"]) or single(**q)
    )
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            assert reports_process_batch(report_ids=reports_claim(limit=40)) == 40
    assert _outcome(ids) == one_by_one
    assert at_start == [40, 40, 40]
    joined = Report.objects.filter(pk__in=ids).exclude(match__method="new").count()
    # A report joining an issue of its own batch had to ask again; most did not.
    assert joined >= 20 and 0 < len(again) < len(ids) / 2
    # The issues a batch opens are written together: before a read that must see them,
    # and at the batch's end.
    inserts = [q for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "issues_issue"')]
    assert len(inserts) <= len(again) + len(at_start) < len(ids) - joined


def _region(lat: float) -> list[int]:
    """The lock key of the region of the point (lat, LON)."""
    return outbox._region_lock_key(
        outbox._region_space(), (math.floor(lat / outbox.REGION_DEG), math.floor(LON / outbox.REGION_DEG))
    )


@contextmanager
def _other_session() -> Iterator[psycopg.Connection]:
    """A session of its own on the test database, as another drain's worker holds."""
    with psycopg.connect(child_database_url(), autocommit=True) as other:
        yield other


def test_a_drain_works_a_region_no_other_drain_is_working(published) -> None:
    near = [submit(lat=LAT).pk for _ in range(3)]
    far = [submit(lat=LAT + 0.1).pk for _ in range(2)]  # about 11 km north: another region

    # Other drains, on a session of their own, work both regions: nothing for this one.
    with _other_session() as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", _region(LAT))
        other.execute("SELECT pg_advisory_lock(%s, %s)", _region(LAT + 0.1))
        assert outbox.reports_claim_region(limit=50) == ([], [])
        # One region free: this drain works it, though its reports are not the oldest.
        other.execute("SELECT pg_advisory_unlock(%s, %s)", _region(LAT + 0.1))
        ids, locks = outbox.reports_claim_region(limit=50)
        assert ids == sorted(far) and locks == [_region(LAT + 0.1)]
        outbox.region_release(locks)
        # A drain about to end waits for the region still held, then claims its reports.
        held = _region(LAT)  # the key, read here: the tenant is this thread's
        threading.Timer(0.3, lambda: other.execute("SELECT pg_advisory_unlock(%s, %s)", held)).start()
        started = time.monotonic()
        ids, locks = outbox.reports_claim_region(limit=50, wait=True)
        assert ids == sorted(near) and locks == [_region(LAT)] and time.monotonic() - started >= 0.25
        outbox.region_release(locks)
    assert reports_claim() == []


def test_a_batch_takes_the_few_reports_of_every_free_region_in_turn(published) -> None:
    """At a steady rate each region holds a few reports: one batch takes those of every
    region no other drain works, oldest region first, up to the batch's size, and holds
    those regions until it gives them up."""
    north = [submit(lat=LAT + 0.1).pk for _ in range(2)]  # oldest: its region comes first
    here = [submit(lat=LAT).pk for _ in range(3)]
    south = [submit(lat=LAT - 0.1).pk for _ in range(2)]
    with _other_session() as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", _region(LAT - 0.1))  # another drain's
        ids, locks = outbox.reports_claim_region(limit=6)
        # The north's two, then the three here; the south is another drain's.
        assert ids == sorted(north + here) and locks == [_region(LAT + 0.1), _region(LAT)]
        for held in locks:
            assert not other.execute("SELECT pg_try_advisory_lock(%s, %s)", held).fetchone()[0]
        outbox.region_release(locks)
        for held in locks:
            assert other.execute("SELECT pg_try_advisory_lock(%s, %s)", held).fetchone()[0]
        other.execute("SELECT pg_advisory_unlock_all()")
    rest, locks = outbox.reports_claim_region(limit=50)
    assert rest == sorted(south) and len(locks) == 1
    outbox.region_release(locks)


def test_a_region_found_empty_when_claimed_is_given_up(published) -> None:
    """A region with nothing to claim (its reports taken by another drain since the look at
    the oldest reports): its lock, taken by the claim's own statement, is given up at once;
    a region another drain holds is neither taken nor claimed from."""
    region = (math.floor(LAT / outbox.REGION_DEG), math.floor(LON / outbox.REGION_DEG))
    with connection.cursor() as cursor, _other_session() as other:
        taken, ids = outbox._claim_in_region(cursor, _region(LAT), region, 5, already_locked=False)
        assert (taken, ids) == (True, [])
        assert other.execute("SELECT pg_try_advisory_lock(%s, %s)", _region(LAT)).fetchone()[0]
        # Held by another drain: not taken, nothing claimed, though a report waits there.
        waiting = submit(lat=LAT).pk
        assert outbox._claim_in_region(cursor, _region(LAT), region, 5, already_locked=False) == (False, [])
        other.execute("SELECT pg_advisory_unlock_all()")
        assert outbox._claim_in_region(cursor, _region(LAT), region, 5, already_locked=False) == (
            True,
            [waiting],
        )
        outbox.region_release([_region(LAT)])
        assert other.execute("SELECT pg_try_advisory_lock(%s, %s)", _region(LAT)).fetchone()[0]


def test_a_claim_that_fails_inside_a_transaction_leaves_it_usable(published, monkeypatch) -> None:
    """Inside an atomic block the claim's statement has a savepoint of its own."""
    from django.db import DataError

    waiting = submit().pk
    monkeypatch.setattr(outbox, "_UNCLAIMED", outbox._UNCLAIMED + " AND 1 / (attempts - attempts) = 0")
    with pytest.raises(DataError):
        reports_claim()
    assert list(Report.objects.values_list("pk", flat=True)) == [waiting]


def test_a_drain_gathers_after_a_batch_that_was_not_full(monkeypatch) -> None:
    """A full batch is followed by a claim at once; one that was not full by IDLE_POLL's
    wait, so what comes meanwhile makes one batch; so is an empty claim while the wake
    key lives; once it has expired, the drain claims until a claim comes back empty."""
    claims = iter([list(range(50)), [51, 52], [], [53], [54], []])
    waited: list[bool] = []
    slept: list[float] = []

    def claim(limit: int, wait: bool) -> tuple[list[int], list]:
        waited.append(wait)
        return next(claims), []

    monkeypatch.setattr(outbox, "endpoint_config", lambda purpose: None)
    monkeypatch.setattr(outbox, "reports_claim_region", claim)
    monkeypatch.setattr(outbox, "reports_process_batch", lambda report_ids: len(report_ids))
    monkeypatch.setattr(outbox, "pipeline_wake", lambda **kwargs: True)
    left = iter([1.0, 1.0, 0.0])
    monkeypatch.setattr(outbox, "_own_wake_left", lambda token: next(left))
    monkeypatch.setattr(outbox, "time", SimpleNamespace(sleep=slept.append, monotonic=time.monotonic))
    assert outbox.reports_drain(token="woken") == 54
    assert slept == [outbox.IDLE_POLL, outbox.IDLE_POLL, 0.0]
    assert waited == [False, False, False, False, True, True]


def test_a_batch_reads_again_when_staff_closed_its_match_after_the_batchs_first_read(
    published, monkeypatch
) -> None:
    import issues.services.grouping_batch as grouping_batch
    from tests.support.factories import IssueFactory

    text = "Deep pothole in the road outside number 12"
    first = submit(text)
    report_process(report_id=first.pk)
    closed = Issue.objects.get(reports=first)
    other = IssueFactory(text=text + ", very deep", category=closed.category, latitude=LAT, longitude=LON)
    report = submit(text)
    real = grouping_batch.GroupingBatch.candidates_prefetch

    def prefetch_then_close(self, queries) -> None:
        real(self, queries)
        Issue.objects.filter(pk=closed.pk).update(status="closed")  # staff, in the meantime

    monkeypatch.setattr(grouping_batch.GroupingBatch, "candidates_prefetch", prefetch_then_close)
    assert reports_drain() == 1
    report.refresh_from_db()
    # As grouping it alone now would: the open issue, not a new one beside it.
    assert report.issue_id == other.pk and report.match["method"] == "geo"


def test_a_batch_with_addresses_and_chosen_issues_groups_as_one_by_one(published) -> None:
    earlier = submit("Fallen tree blocking the path by the pond")
    report_process(report_id=earlier.pk)
    chosen = Report.objects.get(pk=earlier.pk).issue_id
    ids = [
        report_submit(
            description="Streetlight out in front of the library", address="12 Oak Street"
        ).report.pk,
        submit("Overflowing bin by the bus stop", lat=LAT + 0.00002).pk,
        report_submit(description="Street light out at the library", address="12 Oak Street").report.pk,
        # "Me too" on the earlier issue, from a little way off.
        report_submit(
            description="Tree down on the path", latitude=LAT + 0.0001, longitude=LON, chosen_issue_id=chosen
        ).report.pk,
        submit("Fallen tree blocking the path by the pond", lat=LAT + 0.00001).pk,
    ]
    with transaction.atomic():
        for pk in ids:
            report_process(report_id=pk)
        one_by_one = _outcome(ids)
        transaction.set_rollback(True)
    assert reports_drain(batch_size=len(ids)) == len(ids)
    assert _outcome(ids) == one_by_one
    methods = [Report.objects.get(pk=pk).match["method"] for pk in ids]
    assert methods == ["new", "new", "address", "resident", "geo"]
