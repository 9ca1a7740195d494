"""Intake under load: N clients POST reports to a running instance for T seconds, then
the pipeline is timed until it has processed all of them.

    .venv/bin/python bench/ingest.py --seconds T --clients N [--host springfield]
        [--port 8000] [--drain-timeout 120] [--json]

Start the stack first (`make run`, or `PORT=8100 scripts/run.sh`); --port defaults to
$PORT, else 8000. The server is reached at 127.0.0.1 with `Host: <slug>.localhost`.

Prints `accepted_per_s`, `latency_p50_ms`, `latency_p95_ms`, `latency_p99_ms`,
`requests`, `accepted`, one `errors_<status>` line per kind of failure (or `errors: 0`),
then, once nothing of the run is left `received` or the drain timeout has passed,
`processed_per_s`, `submit_to_linked_p95_s`, `failed` and `lost` (accepted but neither
processed nor failed; must be 0). --json prints one JSON object with the same keys.
The run uses a fresh API key without a rate limit, revoked afterwards; its reports and
issues stay in the tenant. The exit code is 0 whatever the figures: this measures.
"""

import argparse
import http.client
import json
import math
import multiprocessing
import os
import random
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.synchronize import Barrier

from _setup import django_setup, figure, percentile

PATH = "/api/v1/reports/"
ACCEPTED = "201"  # statuses are kept as text, beside "conn_error"
CENTRE = (39.80, -89.64)
HALF_SIDE_M = 5_000  # the box is ~10 km across: grouping has candidates, most reports stay distinct
DUPLICATE_SHARE = 0.10
DUPLICATE_RADIUS_M = 8
METRES_PER_DEGREE_LAT = 111_320

TEMPLATES = (
    "Large pothole in front of {number} {street}, cars swerve around it.",
    "Deep pothole near {number} {street}; my tyre burst on it this morning.",
    "Street light out at the corner of {street} and {cross}, very dark at night.",
    "The street lamp outside {number} {street} flickers on and off all evening.",
    "Graffiti sprayed on the wall of the bus shelter at {number} {street}.",
    "Someone tagged the fence along {street} near number {number} with graffiti.",
    "Trash bags piled on the pavement at {number} {street}, not collected for a week.",
    "Overflowing litter bin by {number} {street}, rubbish blowing into the road.",
    "Loud music from {number} {street} every night past midnight.",
    "Construction noise on {street} near {cross} starts before 6 am.",
    "Broken sidewalk slab outside {number} {street}, someone tripped on it.",
    "Fallen tree branch blocking the bike lane on {street} near {cross}.",
    "Water leaking from a pipe under the road at {number} {street}.",
    "Traffic signal at {street} and {cross} stuck on red for all directions.",
    "Abandoned car parked at {number} {street} for three weeks, flat tyres.",
    "Dead raccoon on the road in front of {number} {street}.",
)
STREETS = (
    "Monroe Street",
    "Adams Street",
    "Washington Street",
    "Jefferson Avenue",
    "Capitol Avenue",
    "Lawrence Avenue",
    "South Grand Avenue",
    "MacArthur Boulevard",
    "Walnut Street",
    "Spring Street",
    "Dirksen Parkway",
    "Wabash Avenue",
    "Chatham Road",
    "Stevenson Drive",
    "Ash Street",
    "Cook Street",
    "Edwards Street",
    "Laurel Street",
    "Peoria Road",
    "Sangamon Avenue",
)

_start_together: Barrier | None = None


@dataclass(frozen=True)
class Target:
    port: int
    host: str  # the Host header that selects the tenant
    key: str
    seconds: float


@dataclass
class ClientResult:
    latencies: list[float]
    statuses: Counter[str]
    started: float  # wall clock, comparable across processes
    finished: float


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, required=True, help="how long the clients send")
    parser.add_argument("--clients", type=int, required=True, help="client processes, one connection each")
    parser.add_argument("--host", default="springfield", help="tenant slug")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
    parser.add_argument("--drain-timeout", type=float, default=120, help="seconds to wait for processing")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    django_setup()

    from django_tenants.utils import tenant_context

    from civicpulse.apikeys.models import ApiKey
    from civicpulse.apikeys.services import api_key_create, api_key_revoke
    from tenants.models import Tenant

    tenant = Tenant.objects.filter(schema_name=args.host).first()
    if tenant is None:
        parser.error(f"no tenant {args.host!r} (the demo tenants come from `manage.py seed_demo`)")
    host = f"{args.host}.localhost"
    _check_server(args.port, host)

    with tenant_context(tenant):
        api_key, key = api_key_create(
            name=f"bench ingest {datetime.now():%Y-%m-%d %H:%M:%S}", scopes=["submit", "read"]
        )
        # The default limit would answer 429 and measure the throttle, not the intake.
        ApiKey.objects.filter(pk=api_key.pk).update(rate_per_minute=0)
    try:
        results = _run_clients(Target(args.port, host, key, args.seconds), args.clients)
        statuses: Counter[str] = sum((result.statuses for result in results), Counter())
        load = _load_figures(results, statuses)
        if not args.json:
            for name, value in load.items():
                figure(name, value)
        with tenant_context(tenant):
            drain = _drain(api_key.pk, statuses[ACCEPTED], args.drain_timeout)
    finally:
        with tenant_context(tenant):
            api_key_revoke(api_key=api_key)
    if args.json:
        print(json.dumps({**load, **drain}), flush=True)
    else:
        for name, value in drain.items():
            figure(name, value)


def _check_server(port: int, host: str) -> None:
    """Fail before the run rather than measure N clients failing to connect in a tight loop."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/healthz", headers={"Host": host})
        connection.getresponse().read()
    except OSError as exc:
        sys.exit(f"nothing answers on 127.0.0.1:{port} ({exc}); start the stack first, e.g. `make run`")
    finally:
        connection.close()


def _run_clients(target: Target, clients: int) -> list[ClientResult]:
    """One process per client: in threads the GIL would make the client the bottleneck.
    Spawned, not forked, so no child inherits the parent's database connection."""
    from tqdm import tqdm

    context = multiprocessing.get_context("spawn")
    start_together = context.Barrier(clients + 1)
    with context.Pool(clients, initializer=_client_init, initargs=(start_together,)) as pool:
        pending = pool.map_async(_client, [target] * clients, chunksize=1)
        # Wait until every client is up, so the load starts at full strength.
        start_together.wait(timeout=120)
        for _ in tqdm(range(int(target.seconds)), desc="sending", unit="s", file=sys.stderr):
            time.sleep(1)
        return pending.get(timeout=target.seconds + 120)


def _client_init(start_together: Barrier) -> None:
    """Pool initializer: a barrier can only reach a worker when the process is created."""
    global _start_together
    _start_together = start_together


def _client(target: Target) -> ClientResult:
    """Send reports over one keep-alive connection for target.seconds."""
    assert _start_together is not None
    rng = random.Random()
    headers = {
        "Host": target.host,
        "Authorization": f"Api-Key {target.key}",
        "Content-Type": "application/json",
    }
    connection = http.client.HTTPConnection("127.0.0.1", target.port, timeout=30)
    sent: deque[tuple[str, float, float]] = deque(maxlen=200)  # recent reports, to repeat as duplicates
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    _start_together.wait(timeout=120)
    started = time.time()
    deadline = time.perf_counter() + target.seconds
    while time.perf_counter() < deadline:
        body = _report_body(rng, sent)
        began = time.perf_counter()
        try:
            connection.request("POST", PATH, body, headers)
            response = connection.getresponse()
            response.read()
            status = str(response.status)
        except (OSError, http.client.HTTPException):
            # http.client reopens a closed connection on the next request.
            connection.close()
            status = "conn_error"
        latencies.append(time.perf_counter() - began)
        statuses[status] += 1
    finished = time.time()
    connection.close()
    return ClientResult(latencies, statuses, started, finished)


def _report_body(rng: random.Random, sent: deque[tuple[str, float, float]]) -> bytes:
    """A new report somewhere in the box, or now and then a repeat of a recent one a few
    metres from where it was first reported, as a second resident would send it."""
    if sent and rng.random() < DUPLICATE_SHARE:
        description, latitude, longitude = rng.choice(sent)
        latitude, longitude = _offset(rng, latitude, longitude, DUPLICATE_RADIUS_M)
    else:
        street, cross = rng.sample(STREETS, 2)
        description = rng.choice(TEMPLATES).format(number=rng.randint(100, 4999), street=street, cross=cross)
        latitude, longitude = _offset(rng, *CENTRE, HALF_SIDE_M)
        sent.append((description, latitude, longitude))
    return json.dumps({"description": description, "latitude": latitude, "longitude": longitude}).encode()


def _offset(rng: random.Random, latitude: float, longitude: float, metres: float) -> tuple[float, float]:
    """A point up to `metres` north or south and east or west of the given one."""
    north = rng.uniform(-metres, metres) / METRES_PER_DEGREE_LAT
    east = rng.uniform(-metres, metres) / (METRES_PER_DEGREE_LAT * math.cos(math.radians(latitude)))
    return round(latitude + north, 6), round(longitude + east, 6)


def _load_figures(results: list[ClientResult], statuses: Counter[str]) -> dict[str, object]:
    latencies = sorted(latency for result in results for latency in result.latencies)
    elapsed = max(result.finished for result in results) - min(result.started for result in results)
    accepted = statuses[ACCEPTED]
    errors = {status: count for status, count in statuses.items() if status != ACCEPTED}
    figures: dict[str, object] = {
        "accepted_per_s": round(accepted / elapsed, 1),
        "latency_p50_ms": _ms(percentile(latencies, 0.50)),
        "latency_p95_ms": _ms(percentile(latencies, 0.95)),
        "latency_p99_ms": _ms(percentile(latencies, 0.99)),
        "requests": len(latencies),
        "accepted": accepted,
    }
    if errors:
        figures.update({f"errors_{status}": count for status, count in sorted(errors.items())})
    else:
        figures["errors"] = 0
    return figures


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def _drain(api_key_id: int, accepted: int, timeout: float) -> dict[str, object]:
    """Wait (in the current tenant's schema) until no report of the run is `received`, then
    time the pipeline from the database's own timestamps."""
    from django.db import connection
    from django.db.models import Count
    from tqdm import tqdm

    from reports.models import Report

    run = Report.objects.filter(api_key_id=api_key_id)
    deadline = time.monotonic() + timeout
    with tqdm(total=accepted, desc="processing", unit="report", file=sys.stderr) as bar:
        while True:
            counts = dict(run.order_by().values_list("status").annotate(n=Count("pk")))
            bar.update(counts.get(Report.Status.PROCESSED, 0) + counts.get(Report.Status.FAILED, 0) - bar.n)
            if not counts.get(Report.Status.RECEIVED):
                break
            if time.monotonic() > deadline:
                # Said on stderr: `lost` counts only what the clients saw accepted, and a
                # report stored behind a dropped connection can be stuck as well.
                stuck = counts[Report.Status.RECEIVED]
                tqdm.write(f"drain timed out: {stuck} reports still received", file=sys.stderr)
                break
            time.sleep(0.5)

    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT
                count(*) FILTER (WHERE status = %(processed)s),
                count(*) FILTER (WHERE status = %(failed)s),
                extract(epoch FROM
                    max(processed_at) FILTER (WHERE status = %(processed)s) - min(submitted_at)),
                percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM processed_at - submitted_at))
                    FILTER (WHERE status = %(processed)s)
            FROM {connection.ops.quote_name(Report._meta.db_table)}
            WHERE api_key_id = %(key)s
            """,
            {"processed": Report.Status.PROCESSED, "failed": Report.Status.FAILED, "key": api_key_id},
        )
        processed, failed, span_s, p95_s = cursor.fetchone()
    return {
        "processed_per_s": round(processed / float(span_s), 1) if processed and span_s else 0.0,
        "submit_to_linked_p95_s": None if p95_s is None else round(p95_s, 2),
        "failed": failed,
        "lost": accepted - processed - failed,
    }


if __name__ == "__main__":
    main()
