"""Downloading a record dataset from a Socrata portal (SODA 2.1, `/resource/<id>.json`):
pages of `$limit` rows at growing `$offset`, in a stable `$order` (by the row id, `:id`),
with an optional app token (`X-App-Token`), only the rows changed since the last complete
download (`:updated_at`) once one exists, retried with backoff when the portal fails.
The rows are written as a CSV and loaded by `import_records` in the source's format,
as a batch of source format `socrata`: the API's field names are the portal's columns
in snake_case, which the formats read by header name."""

import csv
import json
import logging
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.utils import timezone

from analytics.records.load import import_records
from analytics.records.models import RecordSource
from analytics.records.selectors import last_complete_batch_start
from civicpulse.core.outbound import OutboundRefused, outbound_open
from llm.secrets import secret_decrypt
from reports.models import ImportBatch

logger = logging.getLogger(__name__)
SOCRATA = "socrata"
PAGE_SIZE = 50_000
# Rows updated just before a download started may be committed after it read them.
OVERLAP = timedelta(minutes=10)


class FetchError(RuntimeError):
    pass


@dataclass(frozen=True)
class Retry:
    attempts: int = 5
    backoff_s: float = 1.0  # doubled after each failure

    def delays(self) -> Iterator[float]:
        for n in range(self.attempts - 1):
            yield self.backoff_s * 2**n


def _get(url: str, token: str, retry: Retry, sleep: Callable[[float], None]) -> list[dict]:
    headers = {"Accept": "application/json", **({"X-App-Token": token} if token else {})}
    delays = retry.delays()
    while True:
        try:
            # The portal is the tenant's staff's choice: never an address beside the server.
            with outbound_open(urllib.request.Request(url, headers=headers), timeout=60) as response:
                rows = json.load(response)
            if not isinstance(rows, list):
                raise FetchError(f"expected a JSON list of rows from {url}")
            return rows
        except OutboundRefused as exc:
            raise FetchError(f"{url}: refused, {exc}") from exc
        except (urllib.error.URLError, TimeoutError, ConnectionError, json.JSONDecodeError) as exc:
            # A client error other than throttling will not pass on a second try.
            if isinstance(exc, urllib.error.HTTPError) and exc.code < 500 and exc.code != 429:
                raise FetchError(f"{url}: HTTP {exc.code}") from exc
            delay = next(delays, None)
            if delay is None:
                raise FetchError(f"{url}: {exc}") from exc
            logger.warning("socrata retry", extra={"url": url, "error": str(exc), "delay_s": delay})
            sleep(delay)


def soda_pages(
    source: RecordSource,
    *,
    since: datetime | None,
    page_size: int = PAGE_SIZE,
    retry: Retry = Retry(),
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[list[dict]]:
    """The dataset's rows page by page (changed since `since`, if given)."""
    endpoint = f"{source.base_url.rstrip('/')}/resource/{source.resource_id}.json"
    token = secret_decrypt(source.app_token_encrypted)
    if source.app_token_encrypted and not token:
        # Stored under a key LLM_SECRET_KEY no longer holds: download at the anonymous
        # rate rather than not at all, and say so (staff enter the token again).
        logger.warning("socrata app token unreadable", extra={"dataset": source.dataset})
    offset = 0
    while True:
        params = {"$limit": str(page_size), "$offset": str(offset), "$order": ":id"}
        if since is not None:
            stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
            params["$where"] = f":updated_at >= '{stamp}'"
        rows = _get(f"{endpoint}?{urllib.parse.urlencode(params)}", token, retry, sleep)
        if rows:
            yield rows
        if len(rows) < page_size:
            return
        offset += page_size


def _flat(value: object) -> str:
    # A location column is an object ({"latitude", "longitude", ...}): kept as JSON text.
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def records_fetch(
    *,
    dataset: str,
    page_size: int = PAGE_SIZE,
    retry: Retry = Retry(),
    sleep: Callable[[float], None] = time.sleep,
    full: bool = False,
) -> ImportBatch | None:
    """Download the dataset's rows (only those changed since the last complete download,
    unless `full`) and load them as a batch. None when the tenant has no active source."""
    source = RecordSource.objects.filter(dataset=dataset, active=True).first()
    if source is None:
        return None
    started = last_complete_batch_start(dataset, SOCRATA)
    since = None if full or started is None else started - OVERLAP
    with tempfile.TemporaryDirectory(prefix="socrata-") as tmp:
        raw = Path(tmp) / "rows.jsonl"
        names: dict[str, None] = {}  # in first-seen order; SODA leaves empty fields out
        with raw.open("w", encoding="utf-8") as out:
            for page in soda_pages(source, since=since, page_size=page_size, retry=retry, sleep=sleep):
                for row in page:
                    names.update(dict.fromkeys(row))
                    out.write(json.dumps(row) + "\n")
        if not names:
            # Nothing changed: a complete batch of nothing, so the next download starts here.
            now = timezone.now()
            return ImportBatch.objects.create(
                source_format=SOCRATA,
                dataset=dataset,
                file_name=f"{source.resource_id} (no changes)",
                checksum="",
                started_at=now,
                finished_at=now,
                status=ImportBatch.Status.DONE,
            )
        path = Path(tmp) / f"{dataset}-{timezone.now():%Y%m%dT%H%M%S}.csv"
        with raw.open(encoding="utf-8") as rows, path.open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out)
            writer.writerow(list(names))
            for line in rows:
                row = json.loads(line)
                writer.writerow([_flat(row.get(n)) for n in names])
        return import_records(path=path, dataset=dataset, fmt=source.format, batch_format=SOCRATA)
