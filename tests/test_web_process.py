"""How each web process is set up to keep pages quick beside uploads: the CPUs its upload
work runs on (civicpulse.core.cpus) and what its collector looks at (gunicorn_conf)."""

import gc
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from civicpulse.core.cpus import keep_to_upload_lane, upload_lane_cpus, upload_lane_setting_check
from tests.support.services import ROOT
from tests.test_web_worker import _lane

pytestmark = pytest.mark.usefixtures("fresh_rate_limits")  # photo posts from one address

ONE_CPU = len(os.sched_getaffinity(0)) < 2


@pytest.mark.parametrize(
    ("allowed", "setting", "expected"),
    [
        ({0, 1}, "", {1}),
        ({0, 1, 2, 3}, "", {1, 2, 3}),
        ({2, 5}, "", {5}),  # the first CPU the process may use, whatever its number
        ({0}, "", None),  # one CPU: nothing to leave to pages
        ({0, 1, 2, 3}, "all", None),
        ({0, 1, 2, 3}, "2-3", {2, 3}),
        ({0, 1}, "0, 1", {0, 1}),
        ({0, 1, 2}, "1-99999999999", {1, 2}),
        # none of the process's CPUs (another service's share of one environment file)
        ({0, 1}, "5-7", None),
    ],
)
def test_upload_work_is_kept_off_the_first_cpu_unless_told(
    monkeypatch, allowed: set[int], setting: str, expected: set[int] | None
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(allowed))
    monkeypatch.setenv("UPLOAD_LANE_CPUS", setting)
    assert upload_lane_cpus() == expected


@pytest.mark.parametrize("setting", ["the second one", "3-1", "1-", "1,,2"])
def test_a_cpu_list_it_cannot_read_is_refused_by_name(monkeypatch, setting: str) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    monkeypatch.setenv("UPLOAD_LANE_CPUS", setting)
    with pytest.raises(ValueError, match="UPLOAD_LANE_CPUS"):
        upload_lane_cpus()
    with pytest.raises(ValueError, match="UPLOAD_LANE_CPUS"):
        upload_lane_setting_check()


def test_every_process_refuses_such_a_list_at_its_start() -> None:
    """Django's settings check it (after .env is read): `manage.py check` stops, naming it."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    checked = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**env, "UPLOAD_LANE_CPUS": "the second one"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode != 0 and "UPLOAD_LANE_CPUS" in checked.stderr


def test_keeping_a_thread_to_the_lane_never_raises(monkeypatch) -> None:
    """It starts the threads of pools: a pool whose thread start raised is broken for good."""
    monkeypatch.setenv("UPLOAD_LANE_CPUS", "the second one")
    outcome: list[BaseException | None] = []

    def start() -> None:
        try:
            keep_to_upload_lane()
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - what is asserted is that nothing is raised
            outcome.append(exc)

    thread = threading.Thread(target=start)
    thread.start()
    thread.join()
    assert outcome == [None]


@pytest.mark.skipif(ONE_CPU, reason="one CPU: nothing is left to pages")
def test_a_thread_started_from_the_lane_gets_the_lane_not_less(monkeypatch) -> None:
    """The lane is worked out from the process's CPUs, not the calling thread's: a photo's
    decoding process is started from the upload thread, already kept to the lane."""
    monkeypatch.delenv("UPLOAD_LANE_CPUS", raising=False)  # the default lane, whatever .env says
    seen: list[tuple[set[int] | None, set[int]]] = []  # (the lane as told there, its CPUs)

    def inner() -> None:
        keep_to_upload_lane()
        seen.append((upload_lane_cpus(), os.sched_getaffinity(0)))

    def outer() -> None:
        keep_to_upload_lane()
        started = threading.Thread(target=inner)
        started.start()
        started.join()

    thread = threading.Thread(target=outer)
    thread.start()
    thread.join()
    lane = upload_lane_cpus()
    assert seen == [(lane, lane)]


def _gunicorn_children(pid: int) -> list[int]:
    children = [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return [child for child in children if b"gunicorn" in Path(f"/proc/{child}/cmdline").read_bytes()]


def _thread_cpus(pid: int) -> list[set[int]]:
    """The CPUs each thread of process `pid` may run on."""
    return [os.sched_getaffinity(int(task.name)) for task in Path(f"/proc/{pid}/task").iterdir()]


def _decoders(worker: int) -> list[int]:
    """The photo decoding processes `worker` started, from any of its threads."""
    children = [
        int(child)
        for task in Path(f"/proc/{worker}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]
    return [
        child for child in children if b"reports.photo_codec" in Path(f"/proc/{child}/cmdline").read_bytes()
    ]


def test_uploads_are_served_and_decoded_off_the_cpu_left_to_pages(django_db_setup, django_db_blocker) -> None:
    """The upload thread and the photo decoding process run on every CPU but the first;
    the event loop and the page threads keep them all."""
    with _lane(django_db_blocker) as served:
        posted = served.photo_posted()
        served.browser.close()
        assert posted.status == 302, posted.status
        (arbiter,) = _gunicorn_children(os.getpid())
        (worker,) = _gunicorn_children(arbiter)
        placed = _thread_cpus(worker)
        (decoder,) = _decoders(worker)
        decoder_cpus = os.sched_getaffinity(decoder)
    allowed, lane = os.sched_getaffinity(0), upload_lane_cpus()
    if lane is None:  # one CPU here: nothing to leave to pages
        assert all(cpus == allowed for cpus in placed) and decoder_cpus == allowed
    else:
        assert sum(cpus == lane for cpus in placed) == 1  # the upload thread
        assert sum(cpus == allowed for cpus in placed) == len(placed) - 1
        assert decoder_cpus == lane


_NOT_DUMPABLE = """
import ctypes, os, sys
import civicpulse.gunicorn_conf as conf

prctl = ctypes.CDLL(None, use_errno=True).prctl
assert prctl(3, 0, 0, 0, 0) == 1  # PR_GET_DUMPABLE: an ordinary process
conf.on_starting(None)
read, write = os.pipe()
if os.fork() == 0:  # a web process, as the master forks it
    os.write(write, str(prctl(3, 0, 0, 0, 0)).encode())
    os._exit(0)
os.wait()
print(prctl(3, 0, 0, 0, 0), os.read(read, 8).decode())
"""


def test_the_web_server_takes_its_sizes_and_upload_settings_from_env_file(tmp_path: Path) -> None:
    """gunicorn reads its configuration, and its web processes the upload settings, before
    Django reads .env: the configuration reads it first, as every other process does."""
    env_file = tmp_path / ".env"
    env_file.write_text("WEB_THREADS=7\nUPLOAD_BURST_BYTES=12345\n")
    script = (
        "import os, civicpulse.environment as e\n"
        f"e.ENV_FILE = __import__('pathlib').Path({str(env_file)!r})\n"
        "import civicpulse.gunicorn_conf as conf\n"
        "print(conf.threads, os.environ['UPLOAD_BURST_BYTES'])\n"
    )
    environment = {k: v for k, v in os.environ.items() if k not in ("WEB_THREADS", "UPLOAD_BURST_BYTES")}
    ran = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert ran.stdout.split() == ["7", "12345"], ran.stderr


def test_the_master_and_its_web_processes_are_not_dumpable() -> None:
    """So a photo decoding process, parsing files from anyone, cannot read their memory or
    their environment (DATABASE_URL, SECRET_KEY) through /proc as the same user."""
    ran = subprocess.run(
        [sys.executable, "-c", _NOT_DUMPABLE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert ran.stdout.split() == ["0", "0"], ran.stderr


def test_a_web_process_freezes_what_it_loaded_before_serving() -> None:
    import civicpulse.gunicorn_conf as conf

    assert gc.get_freeze_count() == 0
    callbacks = list(gc.callbacks)
    try:
        conf.post_worker_init(None)
        assert gc.get_freeze_count() > 0
        # frozen once, before any request: nothing freezes again while requests are in
        # flight (their cycles would never be collected)
        assert gc.callbacks == callbacks
    finally:
        gc.unfreeze()


# Run in a fresh interpreter: what the first requests load (URLconfs, templates) is loaded
# in this one by the tests before.
_LOADED_BEFORE_FREEZE = """
import gc, json, weakref

import django

django.setup()
from django.conf import settings
from django.forms.renderers import get_default_renderer
from django.template import engines
from django.template.loader import get_template
from django.urls import get_resolver
from django.utils import translation

import civicpulse.gunicorn_conf as conf

gc.disable()  # only post_worker_init may collect the cycle below
class Node:
    pass
node = Node()
node.me = node
garbage = weakref.ref(node)
del node

conf.post_worker_init(None)
pages = engines["django"].engine.template_loaders[0].get_template_cache
before = len(gc.get_objects())  # what is not frozen
# What the first requests in each language use: left to them, all of it stays out of the
# freeze, for every full collection to walk.
for code, _ in settings.LANGUAGES:
    with translation.override(code):
        for urlconf in (settings.ROOT_URLCONF, settings.PUBLIC_SCHEMA_URLCONF):
            get_resolver(urlconf).reverse_dict
get_template("reports/new.html")
get_default_renderer().get_template("django/forms/widgets/text.html")
print(json.dumps({
    "first_use_objects": len(gc.get_objects()) - before,
    "admin_login": "admin/login.html" in pages,
    "garbage_frozen": garbage() is not None,
}))
"""


def test_a_web_process_loads_what_its_first_requests_would_before_it_freezes() -> None:
    # Left to the first requests, the URLconfs' views and reverse tables and the compiled
    # templates were 25,000-31,000 objects every full collection walked
    # (docs/performance.md, "Loaded before the freeze").
    result = subprocess.run(
        [sys.executable, "-c", _LOADED_BEFORE_FREEZE],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "civicpulse.settings.test"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["first_use_objects"] < 200, loaded  # thousands when left to the first requests
    assert not loaded["garbage_frozen"]  # collected before the freeze, not kept for good
    assert not loaded["admin_login"]  # the admin's own templates wait for the staff who open them
