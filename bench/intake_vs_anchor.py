"""Intake against the lean anchor, in one run, with the same load generator.

    .venv/bin/python bench/intake_vs_anchor.py [--seconds 10] [--rounds 1]
        [--pipeline-seconds 10] [--connections 64] [--threads 2] [--io-workers 2]
        [--production] [--keep]

Starts the anchor of `../shared/bench/anchor_drf/` (Django + DRF, 2 sync gunicorn workers,
one row committed per request) against a database of its own on the project's PostgreSQL
(`<project database>_anchor`) and the project's web tier as `make run` serves it (gunicorn
with civicpulse.gunicorn_conf, DEBUG as `make run` sets it; with `--production`, the
production settings with throwaway secrets and DEBUG off, as the anchor runs), side by
side, and runs the same wrk script (`post.lua`: a different report each request) against each:

1. the anchor and `POST /api/v1/reports/` of a throwaway tenant (`bench-intake`), no
   pipeline worker running, taking turns `--rounds` times (each after one warm-up);
2. the intake again with the pipeline running beside it (`io` workers as `make run` starts
   them, and beat); its backlog (reports still `received`) is read right before and right
   after the measured run.

Prints `anchor_rps`, `anchor_p99_ms`, `intake_rps`, `ratio` (intake / anchor: the median
of the rounds' ratios; `ratio_rounds` lists them when there are several), `intake_p50_ms`,
`intake_p99_ms` (medians over the rounds), `intake_errors` (summed), `ratio_with_pipeline`
(against the anchor's median), `p99_with_pipeline_ms`, `errors_with_pipeline`,
`processed_during_load`, `backlog_growth_per_s` (reports/s the backlog grew by during the
measured run, warm-up excluded; 0 or less: the pipeline kept up), `drain_after_load_s`,
and `load_average_anchor`, `load_average_intake`, `load_average_with_pipeline` (the
machine's 1-minute load average as each run ended; medians over the rounds). The machine
is shared and noisy: compare ratios, and on a busy machine take `--rounds 3` or more.
What holds better under load is the CPU each request costs: `anchor_web_cpu_ms`,
`intake_web_cpu_ms` (the CPU time of the server's processes over the requests it
answered, medians over the rounds), `web_cpu_ratio` (anchor / intake), and
`anchor_pg_cpu_ms`, `intake_pg_cpu_ms` (the same for this machine's PostgreSQL processes;
0 when the database runs elsewhere). The
API key has no rate limit (the anchor has none). Installs wrk with apt-get when it is
missing. The tenant is dropped unless --keep.
"""

import argparse
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from statistics import median
from typing import NamedTuple

from _setup import ROOT, cpu_seconds, django_setup, drop_tenant, figure, production_env

ANCHOR_DIR = ROOT.parent / "shared" / "bench" / "anchor_drf"
SLUG = "bench-intake"
PATH = "/api/v1/reports/"
RESULT = re.compile(r"RESULT rps=([\d.]+) p50=([\d.]+)ms p99=([\d.]+)ms non2xx_or_err=(\d+)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10, help="each wrk run (the issue's: 10)")
    parser.add_argument("--pipeline-seconds", type=int, default=None, help="the run with the pipeline")
    parser.add_argument(
        "--rounds", type=int, default=1, help="anchor and intake runs taking turns; medians are printed"
    )
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--io-workers", type=int, default=int(os.environ.get("IO_WORKERS", "2")))
    parser.add_argument("--anchor-port", type=int, default=8901)
    parser.add_argument("--port", type=int, default=8902, help="the project's web tier")
    parser.add_argument("--anchor-dir", type=Path, default=ANCHOR_DIR, help="anchor.py and post.lua")
    parser.add_argument(
        "--production",
        action="store_true",
        help="serve (and run the pipeline) on the production settings, DEBUG off as the anchor",
    )
    parser.add_argument("--keep", action="store_true", help="keep the bench tenant")
    args = parser.parse_args()
    anchor_dir = args.anchor_dir.resolve()
    wrk = _wrk()
    django_setup()
    from django.conf import settings
    from django.db import connection
    from django_tenants.utils import tenant_context

    from civicpulse.apikeys.models import ApiKey
    from civicpulse.apikeys.services import api_key_create
    from tenants.models import Tenant
    from tenants.services import tenant_create

    tenant = Tenant.objects.filter(schema_name=SLUG).first() or tenant_create(
        slug=SLUG, name="Bench Intake", kind="city"
    )
    with tenant_context(tenant):
        api_key, key = api_key_create(name="bench intake_vs_anchor", scopes=["submit", "read"])
        ApiKey.objects.filter(pk=api_key.pk).update(rate_per_minute=0)
    db = settings.DATABASES["default"]
    pg_env = {
        "PGHOST": str(db.get("HOST") or "127.0.0.1"),
        "PGPORT": str(db.get("PORT") or 5432),
        "PGUSER": str(db.get("USER") or "postgres"),
        "PGDATABASE": f"{db['NAME']}_anchor",
    }
    _anchor_database(pg_env)
    connection.close()

    def backlog() -> int:
        with tenant_context(tenant), connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM reports_report WHERE status = 'received'")
            return int(cursor.fetchone()[0])

    try:
        web_env = (
            # INFO as deployed: every request's access line is part of its cost.
            production_env(PORT=str(args.port), LOG_LEVEL="INFO")
            if args.production
            else {"PORT": str(args.port), "DEBUG": os.environ.get("DEBUG", "true")}
        )
        load_env = {"CP_KEY": key, "CP_HOST": f"{SLUG}.localhost"}
        anchor_command = [".venv/bin/gunicorn", "-w", "2", "-b", f"127.0.0.1:{args.anchor_port}"]
        anchor_command += ["--chdir", str(anchor_dir), "anchor:application"]
        project_command = [
            ".venv/bin/gunicorn",
            "civicpulse.wsgi:application",
            "-c",
            "python:civicpulse.gunicorn_conf",
        ]
        # Both servers up at once (the idle one costs nothing), so that their runs can take
        # turns: on a shared machine the load moves within a minute, and each round's ratio
        # compares two runs seconds apart.
        with (
            _server(anchor_command, args.anchor_port, pg_env) as anchor_server,
            _server(project_command, args.port, web_env) as server,
        ):
            _warm_up(wrk, args, args.anchor_port, {})
            _warm_up(wrk, args, args.port, load_env)
            anchors, intakes = [], []
            for _ in range(args.rounds):
                anchors.append(
                    _load(wrk, args, anchor_server, args.anchor_port, {}, args.seconds, warm_up=False)
                )
                intakes.append(_load(wrk, args, server, args.port, load_env, args.seconds, warm_up=False))
            anchor_rps = median(run.rps for run in anchors)
            ratios = [intake.rps / anchor.rps for anchor, intake in zip(anchors, intakes, strict=True)]
            figure("anchor_rps", anchor_rps)
            figure("anchor_p99_ms", median(run.p99_ms for run in anchors))
            figure("load_average_anchor", round(median(run.load_average for run in anchors), 2))
            figure("intake_rps", median(run.rps for run in intakes))
            figure("ratio", round(median(ratios), 3))
            if args.rounds > 1:
                figure("ratio_rounds", " ".join(f"{ratio:.3f}" for ratio in ratios))
            figure("intake_p50_ms", median(run.p50_ms for run in intakes))
            figure("intake_p99_ms", median(run.p99_ms for run in intakes))
            figure("intake_errors", sum(run.errors for run in intakes))
            figure("load_average_intake", round(median(run.load_average for run in intakes), 2))
            anchor_cpu = round(median(run.web_cpu_ms for run in anchors), 3)
            intake_cpu = round(median(run.web_cpu_ms for run in intakes), 3)
            figure("anchor_web_cpu_ms", anchor_cpu)
            figure("intake_web_cpu_ms", intake_cpu)
            figure("web_cpu_ratio", round(anchor_cpu / intake_cpu, 3) if intake_cpu else None)
            figure("anchor_pg_cpu_ms", round(median(run.pg_cpu_ms for run in anchors), 3))
            figure("intake_pg_cpu_ms", round(median(run.pg_cpu_ms for run in intakes), 3))
            # What the paused pipeline left waits elsewhere: the next run starts from none.
            _set_aside(tenant)
            seconds = args.pipeline_seconds or args.seconds
            with _pipeline(args.io_workers, web_env):
                _warm_up(wrk, args, args.port, load_env)
                # Read right around the measured run: the warm-up's reports are not its growth.
                before = backlog()
                with_pipeline = _load(wrk, args, server, args.port, load_env, seconds, warm_up=False)
                after = backlog()
                figure("ratio_with_pipeline", round(with_pipeline.rps / anchor_rps, 3))
                figure("p99_with_pipeline_ms", with_pipeline.p99_ms)
                figure("errors_with_pipeline", with_pipeline.errors)
                figure("load_average_with_pipeline", round(with_pipeline.load_average, 2))
                figure("processed_during_load", round(with_pipeline.rps * seconds) - (after - before))
                figure("backlog_growth_per_s", round((after - before) / seconds, 1))
                started = time.monotonic()
                while backlog() and time.monotonic() - started < 300:
                    time.sleep(0.5)
                figure("drain_after_load_s", round(time.monotonic() - started, 1))
    finally:
        if not args.keep:
            drop_tenant(SLUG)


def _wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env, stdout=sys.stderr)
    return shutil.which("wrk") or "wrk"


def _anchor_database(pg_env: dict[str, str]) -> None:
    import psycopg

    base = {"host": pg_env["PGHOST"], "port": pg_env["PGPORT"], "user": pg_env["PGUSER"]}
    with psycopg.connect(**base, dbname="postgres", autocommit=True) as conn:
        if not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [pg_env["PGDATABASE"]]
        ).fetchone():
            conn.execute(f'CREATE DATABASE "{pg_env["PGDATABASE"]}"')
    with psycopg.connect(**base, dbname=pg_env["PGDATABASE"], autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS reports")
        conn.execute(
            "CREATE TABLE reports(id bigserial primary key, description text, lat float8, lon float8,"
            " submitted_at timestamptz default now())"
        )


@contextmanager
def _server(command: list[str], port: int, env: dict[str, str]) -> Iterator[subprocess.Popen]:
    log = open(f"/tmp/bench-intake-{port}.log", "w")  # noqa: SIM115 (closed with the process)
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not _answers(port):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} did not start on port {port}")
            time.sleep(0.2)
        yield proc
    finally:
        _stop(proc)
        log.close()


@contextmanager
def _pipeline(io_workers: int, env: dict[str, str]) -> Iterator[None]:
    """The `io` workers and beat, as scripts/run.sh starts them."""
    celery = ".venv/bin/celery"
    commands = [
        [
            celery,
            "-A",
            "civicpulse",
            "worker",
            "-Q",
            "io",
            "-P",
            "threads",
            "-c",
            "8",
            "-n",
            f"bench-io{n}@%h",
        ]
        + ["--without-mingle", "--without-gossip", "-l", "WARNING"]
        for n in range(1, io_workers + 1)
    ]
    commands.append([celery, "-A", "civicpulse", "beat", "-l", "WARNING", "-s", "/tmp/bench-intake-beat"])
    procs = [
        subprocess.Popen(
            c,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for c in commands
    ]
    try:
        from civicpulse.core.workers import live_workers

        deadline = time.monotonic() + 60
        while sum(1 for name in live_workers() if name.startswith("bench-io")) < io_workers:
            if time.monotonic() > deadline:
                raise RuntimeError("the io workers did not start")
            time.sleep(0.5)
        yield
    finally:
        for proc in procs:
            _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def _answers(port: int) -> bool:
    """A worker answered an HTTP request (any status): the master binds the port before
    its workers have imported Django, which takes seconds on a busy machine."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", PATH, headers={"Host": f"{SLUG}.localhost"})
        conn.getresponse().read()
        return True
    except OSError:
        return False
    finally:
        conn.close()


def _run_wrk(wrk: str, args: argparse.Namespace, port: int, env: dict[str, str], seconds: int) -> str:
    return subprocess.run(
        [wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s"]
        + ["-s", str(args.anchor_dir / "post.lua"), "--latency", f"http://127.0.0.1:{port}{PATH}"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _warm_up(wrk: str, args: argparse.Namespace, port: int, env: dict[str, str]) -> None:
    """A 5-second run that lets every server process finish booting and warm up."""
    _run_wrk(wrk, args, port, env, 5)


class Run(NamedTuple):
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx answers and socket errors
    load_average: float  # the machine's, over the last minute, as the run ended
    web_cpu_ms: float  # the server's CPU time per request answered
    pg_cpu_ms: float  # this machine's PostgreSQL processes' CPU time per request answered


def _load(
    wrk: str,
    args: argparse.Namespace,
    server: subprocess.Popen,
    port: int,
    env: dict[str, str],
    seconds: int,
    warm_up: bool = True,
) -> Run:
    """One wrk run, after a warm-up unless the caller ran its own."""
    if warm_up:
        _warm_up(wrk, args, port, env)
    web, pg = cpu_seconds(server.pid), cpu_seconds(None)
    out = _run_wrk(wrk, args, port, env, seconds)
    web, pg = cpu_seconds(server.pid) - web, cpu_seconds(None) - pg
    load_average = os.getloadavg()[0]
    found = RESULT.search(out)
    if found is None:
        raise RuntimeError(f"no RESULT line in wrk's output:\n{out}")
    answered = max(1.0, float(found[1]) * seconds)
    return Run(
        float(found[1]),
        float(found[2]),
        float(found[3]),
        int(found[4]),
        load_average,
        round(1000 * web / answered, 3),
        round(1000 * pg / answered, 3),
    )


def _set_aside(tenant: object) -> None:
    """Reports the paused run left `received`, and their queued messages, are dropped, so
    the backlog measured with the pipeline is that run's own."""
    from django.db import connection
    from django_tenants.utils import tenant_context

    from civicpulse.core.redis_client import redis_client

    with tenant_context(tenant), connection.cursor() as cursor:
        cursor.execute("DELETE FROM reports_report WHERE status = 'received'")
    redis_client().delete("io")


if __name__ == "__main__":
    main()
