"""Intake against the lean anchor, in one run, with the same load generator.

    .venv/bin/python bench/intake_vs_anchor.py [--seconds 10] [--pipeline-seconds 10]
        [--connections 64] [--threads 2] [--io-workers 2] [--keep]

Starts the anchor of `../shared/bench/anchor_drf/` (Django + DRF, 2 sync gunicorn workers,
one row committed per request) against a database of its own on the project's PostgreSQL
(`<project database>_anchor`), then the project's web tier as `make run` serves it
(gunicorn with civicpulse.gunicorn_conf, DEBUG as `make run` sets it), and runs the same wrk
script (`post.lua`: a different report each request) against each in turn:

1. the anchor;
2. `POST /api/v1/reports/` of a throwaway tenant (`bench-intake`), no pipeline worker running;
3. the same with the pipeline running beside it (`io` workers as `make run` starts them,
   and beat); its backlog (reports still `received`) is counted before and after.

Prints `anchor_rps`, `anchor_p99_ms`, `intake_rps`, `ratio` (intake / anchor),
`intake_p50_ms`, `intake_p99_ms`, `intake_errors`, `ratio_with_pipeline`,
`p99_with_pipeline_ms`, `errors_with_pipeline`, `processed_during_load`,
`backlog_growth_per_s` (reports/s the backlog grew by while the load ran; 0 or less: the
pipeline kept up) and `drain_after_load_s`. The machine is shared and noisy: compare the
ratios, which come from one run. The API key has no rate limit (the anchor has none).
Installs wrk with apt-get when it is missing. The tenant is dropped unless --keep.
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

from _setup import ROOT, django_setup, drop_tenant, figure

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
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--io-workers", type=int, default=int(os.environ.get("IO_WORKERS", "2")))
    parser.add_argument("--anchor-port", type=int, default=8901)
    parser.add_argument("--port", type=int, default=8902, help="the project's web tier")
    parser.add_argument("--anchor-dir", type=Path, default=ANCHOR_DIR, help="anchor.py and post.lua")
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
        with _server(
            [
                ".venv/bin/gunicorn",
                "-w",
                "2",
                "-b",
                f"127.0.0.1:{args.anchor_port}",
                "--chdir",
                str(anchor_dir),
            ]
            + ["anchor:application"],
            args.anchor_port,
            pg_env,
        ):
            anchor = _load(wrk, args, args.anchor_port, {}, args.seconds)
        figure("anchor_rps", anchor[0])
        figure("anchor_p99_ms", anchor[2])
        web_env = {"PORT": str(args.port), "DEBUG": os.environ.get("DEBUG", "true")}
        load_env = {"CP_KEY": key, "CP_HOST": f"{SLUG}.localhost"}
        with _server(
            [".venv/bin/gunicorn", "civicpulse.wsgi:application", "-c", "python:civicpulse.gunicorn_conf"],
            args.port,
            web_env,
        ):
            alone = _load(wrk, args, args.port, load_env, args.seconds)
            figure("intake_rps", alone[0])
            figure("ratio", round(alone[0] / anchor[0], 3))
            figure("intake_p50_ms", alone[1])
            figure("intake_p99_ms", alone[2])
            figure("intake_errors", alone[3])
            # What the paused pipeline left waits elsewhere: the next run starts from none.
            _set_aside(tenant)
            seconds = args.pipeline_seconds or args.seconds
            with _pipeline(args.io_workers, web_env):
                before = backlog()
                with_pipeline = _load(wrk, args, args.port, load_env, seconds)
                after = backlog()
                figure("ratio_with_pipeline", round(with_pipeline[0] / anchor[0], 3))
                figure("p99_with_pipeline_ms", with_pipeline[2])
                figure("errors_with_pipeline", with_pipeline[3])
                figure("processed_during_load", round(with_pipeline[0] * seconds) - (after - before))
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


def _load(
    wrk: str, args: argparse.Namespace, port: int, env: dict[str, str], seconds: int
) -> tuple[float, float, float, int]:
    """(requests/s, p50 ms, p99 ms, non-2xx or socket errors) of one wrk run, after a
    5-second one that lets every server process finish booting and warm up."""
    for run_seconds in (5, seconds):
        out = subprocess.run(
            [wrk, f"-t{args.threads}", f"-c{args.connections}", f"-d{run_seconds}s"]
            + ["-s", str(args.anchor_dir / "post.lua"), "--latency", f"http://127.0.0.1:{port}{PATH}"],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    found = RESULT.search(out)
    if found is None:
        raise RuntimeError(f"no RESULT line in wrk's output:\n{out}")
    return float(found[1]), float(found[2]), float(found[3]), int(found[4])


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
