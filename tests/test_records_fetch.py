"""The Socrata fetcher against a local fake SODA server (tests/support/soda_server.py):
paging in a stable order, the app token, incremental downloads since the last complete
one, retries with backoff, errors that are not retried, the command and the beat entries."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from analytics.records.models import BuildingViolation, RecordSource
from analytics.records.socrata import FetchError, Retry, records_fetch
from analytics.records.sources import record_source_save
from reports.models import ImportBatch
from tests.support.soda_server import FakeSoda

RESOURCE = "22u3-xenr"
OLD = "2020-01-01T00:00:00.000"


def _row(n: int, updated: str = OLD) -> dict:
    return {
        ":id": f"row-{n:04d}",
        ":updated_at": updated,
        "id": str(5_000_000 + n),
        "violation_date": "2024-05-21T00:00:00.000",
        "violation_code": "CN190029",
        "violation_status": "OPEN",
        "violation_description": "ARRANGE FOR REINSPECTION",
        "address": f"{8200 + n} S LANGLEY AVE",
        "street_number": str(8200 + n),
        "street_direction": "S",
        "street_name": "LANGLEY",
        "street_type": "AVE",
        "latitude": "41.745266951",
        "longitude": "-87.607642175",
        "location": {"latitude": "41.745266951", "longitude": "-87.607642175"},
        "violation_status_date": "",
    }


@pytest.fixture
def soda() -> Iterator[FakeSoda]:
    server = FakeSoda(datasets={RESOURCE: [_row(n) for n in range(5)]}).start()
    yield server
    server.stop()


@pytest.fixture
def source(tenant_a, soda: FakeSoda) -> RecordSource:
    return record_source_save(
        source=RecordSource(dataset="violations", base_url=soda.url, resource_id=RESOURCE, format="chicago"),
        app_token="tok-123",
    )


def _fetch(**kw: object) -> ImportBatch | None:
    sleeps: list[float] = kw.pop("sleeps", [])  # type: ignore[assignment]
    return records_fetch(dataset="violations", page_size=2, sleep=sleeps.append, **kw)  # type: ignore[arg-type]


def test_pages_in_order_with_the_app_token(source: RecordSource, soda: FakeSoda) -> None:
    batch = _fetch()
    assert batch is not None
    assert (batch.source_format, batch.dataset, batch.rows_read, batch.rows_loaded) == (
        "socrata",
        "violations",
        5,
        5,
    )
    assert [(r.params["$offset"], r.params["$limit"], r.params["$order"]) for r in soda.requests] == [
        ("0", "2", ":id"),
        ("2", "2", ":id"),
        ("4", "2", ":id"),
    ]
    assert {r.token for r in soda.requests} == {"tok-123"}
    assert all("$where" not in r.params for r in soda.requests)  # the first download is whole
    assert (
        BuildingViolation.objects.filter(import_batch=batch, source_dataset="chicago:violations").count() == 5
    )


def test_incremental_since_the_last_complete_download(source: RecordSource, soda: FakeSoda) -> None:
    first = _fetch()
    assert first is not None
    soda.requests.clear()
    later = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000")
    soda.datasets[RESOURCE].append(_row(9, updated=later))
    batch = _fetch()
    assert batch is not None and (batch.rows_read, batch.rows_loaded) == (1, 1)
    since = (first.started_at - timedelta(minutes=10)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    assert soda.requests[0].params["$where"] == f":updated_at >= '{since}'"
    # Nothing changed since: a complete batch of nothing, which the next download starts from.
    empty = _fetch()
    assert empty is not None and (empty.status, empty.rows_loaded) == ("done", 0)
    assert BuildingViolation.objects.count() == 6


def test_a_failed_download_is_not_where_the_next_starts(source: RecordSource, soda: FakeSoda) -> None:
    ImportBatch.objects.create(
        source_format="socrata",
        dataset="violations",
        file_name="x",
        checksum="",
        status=ImportBatch.Status.FAILED,
    )
    _fetch()
    assert "$where" not in soda.requests[0].params


def test_retries_with_backoff(source: RecordSource, soda: FakeSoda) -> None:
    soda.fail_next = [503, 429]
    sleeps: list[float] = []
    batch = _fetch(sleeps=sleeps, retry=Retry(attempts=3, backoff_s=0.5))
    assert batch is not None and batch.rows_loaded == 5
    assert sleeps == [0.5, 1.0]
    soda.fail_next = [500, 500, 500]
    with pytest.raises(FetchError, match="HTTP Error 500"):
        _fetch(retry=Retry(attempts=3, backoff_s=0.01))


def test_a_client_error_is_not_retried(tenant_a, soda: FakeSoda) -> None:
    RecordSource.objects.create(dataset="violations", base_url=soda.url, resource_id="zzzz-zzzz")
    sleeps: list[float] = []
    with pytest.raises(FetchError, match="HTTP 404"):
        _fetch(sleeps=sleeps)
    assert sleeps == [] and len(soda.requests) == 1


def test_no_source_no_download(tenant_a) -> None:
    assert _fetch() is None
    with pytest.raises(CommandError, match="no active source"):
        call_command("fetch_records", "alpha", "--dataset", "violations")


def test_command_runs_it_once(source: RecordSource, capsys) -> None:
    call_command("fetch_records", "alpha", "--dataset", "violations")
    assert capsys.readouterr().out.strip() == "read 5, loaded 5, rejected 0, skipped 0 (already imported)"


def test_beat_has_a_schedule_per_dataset() -> None:
    entries = {
        e["kwargs"]["dataset"]: e
        for e in settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == "analytics.records_fetch"
    }
    assert set(entries) == {"violations", "inspections", "permits", "311", "tax_sales", "vacant_buildings"}
    assert all(e["schedule"] == 86400.0 for e in entries.values())
