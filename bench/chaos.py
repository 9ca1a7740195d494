"""Nothing lost under faults: reports submitted at a steady rate while an io worker process
and then Redis are SIGKILLed and restarted.

    .venv/bin/python bench/chaos.py [--seconds 30] [--rate 100] [--io-workers 2] [--threads 8]
        [--kill-worker-at 8] [--kill-redis-at 15] [--redis-down 6] [--stale-seconds 20]
        [--timeout 300] [--keep]

Starts a Redis of its own (on a free port; the database is the one DATABASE_URL names), the
`io` workers and beat as `make run` does, and a throwaway tenant (`bench-chaos`). Reports
are submitted through `report_submit` (commit, then the outbox's wake-up) at `--rate` per
second for `--seconds`. At `--kill-worker-at` seconds the first io worker gets SIGKILL (with
the batches it claimed half done) and is started again; at `--kill-redis-at` Redis gets
SIGKILL and comes back `--redis-down` seconds later, empty (no persistence: every queued
message and wake-up key is gone). Then it waits until no report of the run is `received`.

A worker killed mid-batch leaves its claimed reports with a processing start; the sweeper
takes the worker for dead once that start is `--stale-seconds` old
(PIPELINE_PROCESSING_STALE_SECONDS, 600 in production, so that a slow try is never taken
for a dead one) and re-queues them at its next run (beat, every minute).

Prints `accepted` (submissions committed), `refused` (submissions that raised),
`processed`, `failed`, `lost` (accepted but neither processed nor failed once the timeout
passed; must be 0), `duplicated_links` (reports linked or opened into an issue more than
once, by the issues' events; must be 0), `report_count_mismatch` (issues whose report count
is not their number of reports; must be 0), `recovery_s` (from the end of the load until
every accepted report was processed), `workers_died_with_redis` (how many times an io worker
exited after the deliberate kill, when Redis went away, and was started again by this
script, as a supervisor would),
`beat_alive` and `load_average`.
"""

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from _setup import django_setup, drop_tenant, figure
from pipeline import io_worker_command, pipeline_processes, report_bodies, start_process, wait_for_workers

SLUG = "bench-chaos"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=30, help="how long reports are submitted")
    parser.add_argument("--rate", type=float, default=100, help="reports submitted per second")
    parser.add_argument("--io-workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--kill-worker-at", type=float, default=8)
    parser.add_argument("--kill-redis-at", type=float, default=15)
    parser.add_argument("--redis-down", type=float, default=6, help="seconds Redis stays down")
    parser.add_argument("--stale-seconds", type=int, default=20, help="PIPELINE_PROCESSING_STALE_SECONDS")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for recovery")
    parser.add_argument("--keep", action="store_true", help="keep the tenant")
    args = parser.parse_args()

    redis = OwnRedis()
    redis.start()
    # Every process of the run (this one, the workers, beat) talks to the Redis killed here.
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{redis.port}/0"
    os.environ["PIPELINE_PROCESSING_STALE_SECONDS"] = str(args.stale_seconds)
    django_setup()
    from tenants.services import tenant_create

    drop_tenant(SLUG)
    tenant = tenant_create(slug=SLUG, name="Bench Chaos", kind="city", timezone="America/Chicago")
    committed: list[int] = []
    refused: list[str] = []
    try:
        with pipeline_processes(args.io_workers, args.threads, beat=True) as procs:
            sender = threading.Thread(
                target=_submit, args=(tenant, args.rate, args.seconds, committed, refused)
            )
            started = time.monotonic()
            sender.start()
            _sleep_until(started + args.kill_worker_at)
            os.kill(procs["bench-io1"].pid, signal.SIGKILL)
            procs["bench-io1"].wait(10)
            procs["bench-io1"] = start_process(io_worker_command("bench-io1", args.threads), "bench-io1")
            supervisor = Supervisor(procs, args.threads)
            supervisor.start()
            try:
                _sleep_until(started + args.kill_redis_at)
                redis.kill()
                time.sleep(args.redis_down)
                redis.start()
                sender.join()
                load_ended = time.monotonic()
                wait_for_workers([name for name in procs if name != "beat"])
                counts = _wait_settled(tenant, committed, args.timeout)
                recovery = time.monotonic() - load_ended
            finally:
                supervisor.stop()
            beat_alive = procs["beat"].poll() is None
        figure("accepted", len(committed))
        figure("refused", len(refused))
        for name in ("processed", "failed", "lost"):
            figure(name, counts[name])
        for name, value in _integrity(tenant).items():
            figure(name, value)
        figure("recovery_s", round(recovery, 1) if not counts["lost"] else None)
        figure("workers_died_with_redis", len(supervisor.restarted))
        figure("beat_alive", beat_alive)
        figure("load_average", round(os.getloadavg()[0], 2))
        if refused:
            print(f"first refusal: {refused[0]}", file=sys.stderr)
    finally:
        if not args.keep:
            drop_tenant(SLUG)
        redis.stop()


class Supervisor(threading.Thread):
    """Starts again any io worker that exits, as systemd or a container's restart policy
    would: Celery's Redis transport can exit a worker when its broker vanishes (kombu's
    restore of unacked messages on a closed connection), and such a worker may take
    seconds to exit, after Redis is back. Watches from the deliberate worker kill on, until
    stopped; waits RESTART_DELAY before each start, as scripts/run.sh does, so a worker that
    cannot start is not started twice a second."""

    RESTART_DELAY = 2.0

    def __init__(self, procs: dict[str, subprocess.Popen], threads: int) -> None:
        super().__init__(daemon=True)
        self.procs, self.threads = procs, threads
        self.restarted: list[str] = []
        self._stopped = threading.Event()
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self._stopped.wait(0.5):
                for name, proc in list(self.procs.items()):
                    if (
                        name != "beat"
                        and proc.poll() is not None
                        and not self._stopped.wait(self.RESTART_DELAY)
                    ):
                        self.procs[name] = start_process(io_worker_command(name, self.threads), name)
                        self.restarted.append(name)
        except BaseException as exc:  # handed to stop(): the run must not go on unsupervised
            self._error = exc

    def stop(self) -> None:
        """Stop watching; raise what made the supervision itself fail, if anything did."""
        self._stopped.set()
        self.join()
        if self._error is not None:
            raise RuntimeError("supervising the io workers failed") from self._error


def _sleep_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.monotonic()))


def _submit(tenant: object, rate: float, seconds: float, committed: list[int], refused: list[str]) -> None:
    """Submit at `rate` per second; a submission that raises (none should: a 201 needs only
    PostgreSQL) is counted as refused, not accepted."""
    from django.db import connection
    from django_tenants.utils import tenant_context

    from reports.services.intake import report_submit

    bodies = report_bodies(int(rate * seconds) + 1, seed=int(time.time()))
    started = time.monotonic()
    with tenant_context(tenant):
        for n in range(int(rate * seconds)):
            _sleep_until(started + n / rate)
            try:
                committed.append(report_submit(**next(bodies)).report.pk)
            except Exception as exc:
                refused.append(repr(exc))
    connection.close()


def _wait_settled(tenant: object, ids: list[int], timeout: float) -> dict[str, int]:
    """Wait until none of `ids` is still received (or the timeout), then count them."""
    from django.db import connection
    from django_tenants.utils import tenant_context

    deadline = time.monotonic() + timeout
    shown = time.monotonic()
    while True:
        with tenant_context(tenant), connection.cursor() as cursor:
            cursor.execute(
                "SELECT status, count(*) FROM reports_report WHERE id = ANY(%s) GROUP BY status", [ids]
            )
            found = dict(cursor.fetchall())
        waiting = len(ids) - found.get("processed", 0) - found.get("failed", 0)
        if not waiting or time.monotonic() > deadline:
            return {"processed": found.get("processed", 0), "failed": found.get("failed", 0), "lost": waiting}
        if time.monotonic() - shown > 5:
            shown = time.monotonic()
            print(f"waiting for {waiting} reports: {found}", file=sys.stderr, flush=True)
        time.sleep(0.5)


def _integrity(tenant: object) -> dict[str, int]:
    from django.db import connection
    from django_tenants.utils import tenant_context

    with tenant_context(tenant), connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FROM (
                SELECT data->>'report' FROM issues_issueevent
                WHERE kind IN ('created', 'report_linked') GROUP BY 1 HAVING count(*) > 1) twice
            """
        )
        duplicated = cursor.fetchone()[0]
        cursor.execute(
            """
            SELECT count(*) FROM issues_issue i
            WHERE i.report_count <> (SELECT count(*) FROM reports_report r WHERE r.issue_id = i.id)
            """
        )
        mismatched = cursor.fetchone()[0]
    return {"duplicated_links": duplicated, "report_count_mismatch": mismatched}


class OwnRedis:
    """A redis-server of this run's own on a free port, killed and started at will."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self._dir = tempfile.mkdtemp(prefix="cp-chaos-redis-")
        self._proc: subprocess.Popen | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            sys.exit("redis-server is not installed (make run installs it)")
        command = [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        self._proc = subprocess.Popen([*command, "--dir", self._dir], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not self._answers():
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.1)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(10)
            self._proc = None

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)
            self._proc = None
        shutil.rmtree(self._dir, ignore_errors=True)


if __name__ == "__main__":
    main()
