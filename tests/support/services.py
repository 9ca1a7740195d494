"""Real processes for tests: throwaway Redis servers and Celery workers."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from django.conf import settings
from django.db import connection

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

    from tenants.models import Tenant

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}")


class RedisServer:
    """A redis-server of the tests' own, stopped and restarted at will (on the same port)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tempfile.mkdtemp(prefix="cp-redis-")
        self._proc: subprocess.Popen | None = None

    def start(self) -> "RedisServer":
        assert not self._answers(), f"something already answers on port {self.port}"
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (make test installs it)"
        self._proc = subprocess.Popen(
            [
                binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self._dir,
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_for(self._answers, 10, "redis-server")
        return self

    def restart(self) -> None:
        self.stop(keep_dir=True)
        self.start()

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, keep_dir: bool = False) -> None:
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(10)
            self._proc = None
        if not keep_dir:
            shutil.rmtree(self._dir, ignore_errors=True)
        wait_for(lambda: not self._answers(), 10, "redis-server to stop")


def child_database_url() -> str:
    """The URL of the database the test run uses (the test_ one), for child processes."""
    s = connection.settings_dict
    auth = quote(s["USER"] or "")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"])
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@contextmanager
def celery_worker(
    queue: str, pool: str, name: str, extra_env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen]:
    """A real `celery worker` process serving one queue against the test database."""
    from civicpulse.core.workers import live_workers

    env = child_env(extra_env)
    hostname = f"{name}@{socket.gethostname()}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "civicpulse",
            "worker",
            "-Q",
            queue,
            "-P",
            pool,
            "-c",
            "2",
            "-n",
            hostname,
            "--without-mingle",
            "--without-gossip",
            "-l",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        wait_for(lambda: hostname in live_workers() or proc.poll() is not None, 60, f"worker {hostname}")
        assert proc.poll() is None, f"worker {hostname} exited with {proc.returncode}"
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def child_env(extra_env: dict[str, str] | None = None) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "civicpulse.settings.test",
        "DATABASE_URL": child_database_url(),
        "TEST_REDIS_URL": settings.CELERY_BROKER_URL,
        "TEST_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        **(extra_env or {}),
    }


@contextmanager
def web_server(extra_env: dict[str, str] | None = None) -> Iterator[int]:
    """A real gunicorn serving the test database; yields its port. `extra_env`: settings
    read from the environment that a test needs otherwise."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "civicpulse.wsgi:application",
            "-c",
            "python:civicpulse.gunicorn_conf",
            "--workers",
            "1",
            "--threads",
            "4",
        ],
        cwd=ROOT,
        env=child_env({"PORT": str(port), "MEDIA_ROOT": settings.MEDIA_ROOT, **(extra_env or {})}),
    )

    def answers() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return proc.poll() is not None

    try:
        wait_for(answers, 60, "gunicorn")
        assert proc.poll() is None, f"gunicorn exited with {proc.returncode}"
        yield port
    finally:
        proc.terminate()
        proc.wait(20)


@contextmanager
def committed_tenant(slug: str, name: str, kind: str) -> Iterator["Tenant"]:
    """A tenant created for real (committed, so other processes see it) and dropped after.
    Call with the database unblocked and outside any test transaction."""
    from psycopg import sql

    from tenants.models import Tenant
    from tenants.services import tenant_create

    tenant = tenant_create(slug=slug, name=name, kind=kind)
    connection.set_schema_to_public()
    try:
        yield tenant
    finally:
        connection.set_schema_to_public()
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(slug)).as_string(cursor.connection)
            )
        tenant.domains.all().delete()
        Tenant.objects.filter(pk=tenant.pk).delete()


@contextmanager
def headless_chromium(*, window: str, artifacts: Path) -> Iterator["WebDriver"]:
    """Debian's chromium, headless, through its chromedriver. The flags keep it from
    reaching for the network this machine does not have; *.localhost resolves to this
    machine (Python's resolver here does not know it; Chromium is told directly)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "chromium and chromium-driver are installed by `make test`"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--window-size={window}",
        "--host-resolver-rules=MAP *.localhost 127.0.0.1",
    ):
        options.add_argument(flag)
    artifacts.mkdir(parents=True, exist_ok=True)
    browser = webdriver.Chrome(options=options, service=Service(driver))
    browser.implicitly_wait(5)
    try:
        yield browser
    finally:
        browser.quit()
