"""A photo flood against the resident form: 64 parallel POSTs of a small JPEG that
decodes to 40 megapixels, while another tenant's form page is timed.

    .venv/bin/python bench/photo_flood.py [--posters 64] [--rounds 3] [--addresses 64]
        [--workers N] [--threads N] [--quiet-seconds 8] [--settle-seconds 5] [--repeat 6]
        [--port 8187] [--keep]

Starts its own gunicorn (production settings with throwaway secrets, the processes and
threads of civicpulse/gunicorn_conf.py unless `--workers` and `--threads` say otherwise,
TRUSTED_PROXY_HOPS=1 so each poster can speak for its own client
address through X-Forwarded-For) against the database and Redis the environment names
(the development defaults otherwise), in two throwaway tenants: `bench-flood` (flooded;
its hourly cap on resident reports is switched off, so the photo path itself is measured)
and `bench-quiet` (timed). Report processing is queued on Redis database 15, where no
worker listens.

Prints `photo_bytes` (the file sent), `web_processes` and `web_threads` (the server's),
`posts`, `accepted` (302), `busy_503`,
`limited_429`, `other` (any other answer), `flood_s`, `web_cpu_s` (the CPU seconds the web
processes and the photo decoding processes they started spent during the flood, the other
tenant's pages included: the figure that holds on a shared machine), `decoding_processes`,
`rss_growth_mb_total` (the sum over the web and decoding processes of peak resident memory
during the flood minus resident memory before it, all of it for a process started during
the flood; goal under 150), `rss_growth_mb_max` (the largest process), `quiet_p99_ms` and
`flood_p99_ms` (the other tenant's form page for `--quiet-seconds` before the first flood
and during it, each timed one page after another by a process of its own) with
`quiet_p50_ms`, `flood_p50_ms`, `quiet_samples` and `flood_samples` (pages answered 200;
`pages_not_200` counts the others, left out of the percentiles), and `load_average` (the
machine's 1-minute load average right after the first flood: the machine may be shared).
Then more quiet timings and timed floods take turns on the same server (after the second,
untimed flood), `--repeat` turns in all, and it prints each turn's ratio and p99s
(`repeat_ratios`, `repeat_quiet_p99_ms`, `repeat_flood_p99_ms`) and the p99s over all the
turns' pages (`pooled_quiet_p99_ms`, `pooled_flood_p99_ms`, `pooled_samples`,
`pooled_not_200`, `pooled_ratio`). Goal: every turn's ratio under 2. One window's p99 is its
eighth or tenth slowest page, and moves with the machine's own pauses; the pooled ratio
is steadier, but a quiet window caught in such a pause raises the pooled quiet p99 more
than a flood window raises the flood's, so it reads low on a noisy machine. The exit code
is 0 whatever the figures.
"""

import argparse
import http.client
import io
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from queue import Empty
from typing import IO

from _setup import ROOT, django_setup, drop_tenant, figure, kept_or_new_tenant, percentile, production_env

FLOODED, QUIET = "bench-flood", "bench-quiet"
POINT = {"latitude": "39.8", "longitude": "-89.64"}


def jpeg_40mp() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8000, 5000), (120, 120, 120)).save(out, format="JPEG", quality=50)
    return out.getvalue()


def small_jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, format="JPEG")
    return out.getvalue()


class Form:
    """One tenant's resident form, with the CSRF cookie and token of one GET."""

    def __init__(self, port: int, slug: str) -> None:
        self.port, self.host = port, f"{slug}.localhost"
        status, headers, body = self.request("GET", "/report/")
        if status != 200:
            raise SystemExit(f"GET /report/ on {self.host}: {status}")
        cookie = re.search(r"csrftoken=([^;]+)", headers.get("set-cookie", ""))
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
        if not cookie or not token:
            raise SystemExit("no CSRF token on the form page")
        self.cookie, self.token = cookie.group(1), token.group(1).decode()

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request(method, path, body=body, headers={"Host": self.host, **(headers or {})})
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()

    def post_photo(self, photo: bytes, client: str) -> int:
        boundary = uuid.uuid4().hex
        parts = [(k, v) for k, v in {"description": "Pothole", **POINT}.items()]
        parts.append(("csrfmiddlewaretoken", self.token))
        body = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in parts
        )
        body += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="p.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        body += photo + f"\r\n--{boundary}--\r\n".encode()
        status, _, _ = self.request(
            "POST",
            "/report/",
            body,
            {
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Cookie": f"csrftoken={self.cookie}",
                "X-Forwarded-For": client,
            },
        )
        return status


def _children(pid: int) -> list[int]:
    """The processes `pid` started, from any of its threads."""
    children = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(p) for p in (task / "children").read_text().split()]
        except FileNotFoundError:  # a thread that has ended
            continue
    return children


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _time_page(form: Form, stop: "EventType", samples: "Queue[float]") -> None:
    """Time the other tenant's form page until `stop`; run in a process of its own, so the
    posters' threads do not slow the timing client down. A page that is not a 200 is sent
    as a negative time (counted apart, never in the percentiles)."""
    while not stop.is_set():
        started = time.perf_counter()
        status, _, _ = form.request("GET", "/report/")
        elapsed = (time.perf_counter() - started) * 1000
        samples.put(elapsed if status == 200 else -elapsed)


@dataclass
class Timed:
    pages_ms: list[float] = field(default_factory=list)  # the pages answered 200
    failed: int = 0  # pages answered otherwise


@contextmanager
def _timing(form: Form) -> Iterator[Timed]:
    """The other tenant's form page, timed by a process of its own (_time_page) while the
    block runs; the times are in the result once it ends. The quiet baseline and the flood
    are timed alike, by the same kind of client over a similar time, so that their p99s
    compare like with like."""
    stop = multiprocessing.Event()
    queue: Queue[float] = multiprocessing.Queue()
    timer = multiprocessing.Process(target=_time_page, args=(form, stop, queue))
    timer.start()
    timed = Timed()
    try:
        yield timed
    finally:
        stop.set()
        while timer.is_alive() or not queue.empty():
            try:
                sample = queue.get(timeout=0.5)
            except Empty:
                continue
            if sample >= 0:
                timed.pages_ms.append(sample)
            else:
                timed.failed += 1
        timer.join()
    if timer.exitcode != 0:
        raise SystemExit(f"the page timer failed (exit code {timer.exitcode}); see its traceback above")


def _quiet_timed(form: Form, args: argparse.Namespace) -> Timed:
    """The other tenant's form page with no flood, timed for `--quiet-seconds` once
    `--settle-seconds` have passed."""
    time.sleep(args.settle_seconds)
    with _timing(form) as pages:
        time.sleep(args.quiet_seconds)
    return pages


def _ms(samples: list[float], share: float) -> float | None:
    value = percentile(samples, share)
    return None if value is None else round(value, 1)


def _ratio(flood: list[float], quiet: list[float]) -> float | None:
    """Flood p99 over quiet p99, to two places (the goal: under 2)."""
    flood_p99, quiet_p99 = percentile(flood, 0.99), percentile(quiet, 0.99)
    return None if flood_p99 is None or not quiet_p99 else round(flood_p99 / quiet_p99, 2)


def _start_server(port: int, workers: int, threads: int, media: str, log: IO[bytes]) -> subprocess.Popen:
    env = production_env(
        CELERY_BROKER_URL=_broker_url(),
        TRUSTED_PROXY_HOPS="1",
        MEDIA_ROOT=media,
        PORT=str(port),
        WEB_CONCURRENCY=str(workers),
        WEB_THREADS=str(threads),
    )
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "civicpulse.wsgi:application",
            "-c",
            "python:civicpulse.gunicorn_conf",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz", headers={"Host": "localhost"})
            conn.getresponse().read()
            if len(_children(server.pid)) >= workers:
                return server
        except OSError:
            pass
        time.sleep(0.5)
    server.terminate()
    raise SystemExit("the web server did not start")


def _broker_url() -> str:
    """Redis database 15 of the configured server: the server's broker (where its rate
    limits count and report processing is queued, for no worker)."""
    from django.conf import settings

    return settings.REDIS_URL.rsplit("/", 1)[0] + "/15"


def _forget_rate_limits() -> None:
    """Start with no request counted against the two tenants, and no queued message."""
    import redis

    client = redis.Redis.from_url(_broker_url())
    for pattern in (f"cp:{FLOODED}:*", f"cp:{QUIET}:*"):
        for key in client.scan_iter(match=pattern):
            client.delete(key)
    client.delete("io")


def _web_processes(server: int) -> list[int]:
    """The server's web processes and the photo decoding processes each of them started."""
    workers = _children(server)
    return workers + [pid for worker in workers for pid in _children(worker)]


def _cpu_s(processes: list[int]) -> dict[int, float]:
    """CPU seconds (user and system) each process has used so far (a process that has
    ended is left out)."""
    used = {}
    for pid in processes:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    return used


def _cpu_spent(before: dict[int, float], server: int) -> float:
    """CPU seconds the server's web and decoding processes spent since `before` (all of a
    process started since)."""
    after = _cpu_s(_web_processes(server))
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def _peaks_reset(processes: list[int]) -> dict[int, int]:
    """Restart each process's peak (VmHWM) from now; return its resident memory now (kB)."""
    for pid in processes:
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        except PermissionError:
            # The web processes are not dumpable (gunicorn_conf.on_starting): their /proc
            # files belong to root.
            sys.exit("bench/photo_flood.py resets the web processes' peak memory: run it as root")
    return {pid: _status_kb(pid, "VmRSS") for pid in processes}


def _growth(server: int, before: dict[int, int]) -> dict[int, float]:
    """Each process's peak since _peaks_reset minus its memory then, in MB (all of the
    peak of a process started since)."""
    return {
        pid: max(0, _status_kb(pid, "VmHWM") - before.get(pid, 0)) / 1024 for pid in _web_processes(server)
    }


def _flood(form: Form, photo: bytes, args: argparse.Namespace, network: int) -> tuple[Counter[int], float]:
    """`args.posters` threads each POST the photo `args.rounds` times, from `args.addresses`
    client addresses in 198.<network>.0.0/16; the answers by status, and the seconds taken."""
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def poster(n: int) -> None:
        for r in range(args.rounds):
            address = (n * args.rounds + r) % args.addresses
            status = form.post_photo(photo, f"198.{network}.{address // 250}.{address % 250 + 1}")
            with lock:
                statuses[status] += 1

    threads = [threading.Thread(target=poster, args=(n,)) for n in range(args.posters)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--posters", type=int, default=64, help="parallel POSTs")
    parser.add_argument("--rounds", type=int, default=3, help="POSTs each poster sends, one after another")
    parser.add_argument("--addresses", type=int, default=64, help="client addresses the posters speak for")
    parser.add_argument("--workers", type=int, help="gunicorn processes (default: gunicorn_conf's)")
    parser.add_argument("--threads", type=int, help="threads in each (default: gunicorn_conf's)")
    parser.add_argument(
        "--quiet-seconds",
        type=float,
        default=8,
        help="how long the quiet page is timed (about a flood's length)",
    )
    parser.add_argument(
        "--settle-seconds",
        type=float,
        default=5,
        help="pause before each quiet timing, so that it does not time what the flood before "
        "left behind (its photos written out, its garbage collected)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=6,
        help="quiet timings and timed floods, in turn, against the same server (the figures "
        "pooled over all of them are printed beside the first's)",
    )
    parser.add_argument("--port", type=int, default=8187)
    parser.add_argument(
        "--keep", action="store_true", help="keep the two tenants, their photos and the server log"
    )
    args = parser.parse_args()
    # Each flood speaks from a /16 of its own: 198.17-19 for the first three, then 198.20 on.
    if not 1 <= args.repeat <= 200:
        parser.error("--repeat: from 1 to 200")
    if args.settle_seconds < 0 or args.quiet_seconds <= 0:
        parser.error("--settle-seconds: 0 or more; --quiet-seconds: more than 0")
    django_setup()
    from civicpulse import gunicorn_conf

    args.workers = args.workers or gunicorn_conf.workers
    args.threads = args.threads or gunicorn_conf.threads

    from tenants.models import Tenant

    for slug, name in ((FLOODED, "Bench Flood"), (QUIET, "Bench Quiet")):
        kept_or_new_tenant(slug, name)
    Tenant.objects.filter(schema_name=FLOODED).update(resident_reports_per_hour=0)
    _forget_rate_limits()
    photo, warm_photo = jpeg_40mp(), small_jpeg()
    figure("photo_bytes", len(photo))
    media = tempfile.mkdtemp(prefix="civicpulse-bench-media-")
    log_path = Path(media) / "server.log"
    print(f"server log: {log_path}", file=sys.stderr)
    with log_path.open("wb") as log:
        server = _start_server(args.port, args.workers, args.threads, media, log)
    try:
        flooded, quiet = Form(args.port, FLOODED), Form(args.port, QUIET)
        # Before the baseline, every process has served the pages and a burst of the same
        # shape with an ordinary small photo: what is measured is what the 40-megapixel
        # photos add, not a process's first use of its threads.
        for _ in range(2 * args.workers):
            quiet.request("GET", "/report/")
        _flood(flooded, warm_photo, args, network=17)
        quiet_pages = _quiet_timed(quiet, args)
        before = _peaks_reset(_web_processes(server.pid))
        with _timing(quiet) as flood_pages:
            cpu_before = _cpu_s(_web_processes(server.pid))
            statuses, flood_s = _flood(flooded, photo, args, network=18)
            web_cpu_s = _cpu_spent(cpu_before, server.pid)
        load_average = os.getloadavg()[0]
        growth = _growth(server.pid, before)
        decoding_processes = len(_web_processes(server.pid)) - args.workers
        # The same flood again: what processes that have decoded such photos before still grow by.
        before = _peaks_reset(_web_processes(server.pid))
        again, _ = _flood(flooded, photo, args, network=19)
        growth_again = _growth(server.pid, before)
        # More quiet timings and floods in turn, each flood from client addresses of its own.
        timings = [(quiet_pages, flood_pages)]
        for n in range(1, args.repeat):
            quiet_again = _quiet_timed(quiet, args)
            with _timing(quiet) as flood_again:
                _flood(flooded, photo, args, network=19 + n)
            timings.append((quiet_again, flood_again))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        _forget_rate_limits()
        if not args.keep:
            for slug in (FLOODED, QUIET):
                drop_tenant(slug)
            shutil.rmtree(media, ignore_errors=True)
    figure("web_processes", args.workers)
    figure("web_threads", args.threads)
    figure("posts", sum(statuses.values()))
    figure("accepted", statuses[302])
    figure("busy_503", statuses[503])
    figure("limited_429", statuses[429])
    figure("other", sum(v for k, v in statuses.items() if k not in (302, 503, 429)))
    figure("flood_s", round(flood_s, 2))
    figure("web_cpu_s", round(web_cpu_s, 2))
    figure("decoding_processes", decoding_processes)
    figure("rss_growth_mb_total", round(sum(growth.values()), 1))
    figure("rss_growth_mb_max", round(max(growth.values()), 1))
    figure("rss_growth_mb_total_again", round(sum(growth_again.values()), 1))
    figure("accepted_again", again[302])
    figure("quiet_p50_ms", _ms(quiet_pages.pages_ms, 0.5))
    figure("quiet_p99_ms", _ms(quiet_pages.pages_ms, 0.99))
    figure("quiet_samples", len(quiet_pages.pages_ms))
    figure("flood_p50_ms", _ms(flood_pages.pages_ms, 0.5))
    figure("flood_p99_ms", _ms(flood_pages.pages_ms, 0.99))
    figure("flood_samples", len(flood_pages.pages_ms))
    figure("pages_not_200", quiet_pages.failed + flood_pages.failed)
    ratios = [_ratio(f.pages_ms, q.pages_ms) for q, f in timings]
    figure("repeat_ratios", " ".join(str(r) for r in ratios))
    figure("repeat_quiet_p99_ms", " ".join(str(_ms(q.pages_ms, 0.99)) for q, _ in timings))
    figure("repeat_flood_p99_ms", " ".join(str(_ms(f.pages_ms, 0.99)) for _, f in timings))
    pooled_quiet = [ms for q, _ in timings for ms in q.pages_ms]
    pooled_flood = [ms for _, f in timings for ms in f.pages_ms]
    figure("pooled_quiet_p99_ms", _ms(pooled_quiet, 0.99))
    figure("pooled_flood_p99_ms", _ms(pooled_flood, 0.99))
    figure("pooled_samples", f"{len(pooled_quiet)} quiet, {len(pooled_flood)} flood")
    figure("pooled_not_200", sum(q.failed + f.failed for q, f in timings))
    figure("pooled_ratio", _ratio(pooled_flood, pooled_quiet))
    figure("load_average", round(load_average, 2))


if __name__ == "__main__":
    main()
