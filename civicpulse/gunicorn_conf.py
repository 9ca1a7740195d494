"""gunicorn settings shared by `make run` and the container: JSON logs like every other
process, and sizes from the environment."""

import gc
import os

from gunicorn.glogging import Logger

from civicpulse import environment

# .env first, as every other process reads it (real environment variables win): the sizes
# below, and what the web processes read before Django starts (WEB_UPLOAD_THREADS, the
# UPLOAD_* settings: civicpulse/web_worker.py), come from it too.
environment.settings_module_choose(environment.ENV_FILE)

# This machine only, unless told otherwise: a development server (make run, DEBUG on)
# must not answer the network. Containers and servers behind a proxy on another host set
# BIND_ADDRESS (0.0.0.0 for every interface; the Docker image does).
bind = f"{os.environ.get('BIND_ADDRESS') or '127.0.0.1'}:{os.environ.get('PORT', '8000')}"
# One process per core (a process runs Python on one core at a time: its GIL), each with
# threads for the time a request waits on PostgreSQL or Redis (uploads are read before a
# thread takes them, and served by a thread of their own: web_worker.py).
# Measured on 2 cores (docs/performance.md, 2026-12-05): 2 x 16 took less CPU per intake
# request than 4 x 8 and kept another tenant's pages faster during a photo flood, with the
# same 32 database connections at most; sync workers (one request per process, no
# keep-alive) did worst. More cores: raise WEB_CONCURRENCY to their number.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "16"))
# gunicorn's threaded worker, with uploads read by its event loop and served by threads of
# their own (WEB_UPLOAD_THREADS, 1 by default, beside `threads`): civicpulse/web_worker.py.
worker_class = "civicpulse.web_worker.UploadLaneWorker"
graceful_timeout = 5
# Requests are logged by civicpulse.core.middleware (with tenant and request id), not here.
accesslog = None


class AccessLogAsConfigured(Logger):
    """gunicorn writes its access line whenever a logging config is given (as here), even
    with `accesslog` None: every request was logged twice, and the line cost about a
    twentieth of an API request's CPU. Only an `accesslog` set on purpose writes it."""

    def access(self, resp: object, req: object, environ: dict, request_time: object) -> None:
        if self.cfg.accesslog:
            super().access(resp, req, environ, request_time)


logger_class = AccessLogAsConfigured

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "civicpulse.core.logging.ContextFilter"}},
    "formatters": {"json": {"()": "civicpulse.core.logging.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["context"], "formatter": "json"}},
    "loggers": {
        "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # Off (accesslog None) but, if switched on, its request lines go through the same
        # filter, which redacts tracking ids and resident tokens from them.
        "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}


# glibc serves large allocations (an upload's body, a decoded photo) from the heap once one
# of that size has been freed (its mmap threshold rises to match), and a heap seldom
# shrinks: each web process would keep the memory of its largest upload for good. A fixed
# threshold returns every buffer over 128 KB to the system as soon as it is freed. (The
# photo decoding processes get the same threshold through their environment, and keep
# their pictures for the next photo: reports.photo_codec.)
M_MMAP_THRESHOLD = -3


PR_SET_DUMPABLE = 4  # linux/prctl.h


def on_starting(server: object) -> None:
    # The master and the web processes it forks (which inherit this) are not dumpable:
    # another process of the same user can read neither their memory nor
    # /proc/<pid>/environ, where DATABASE_URL and SECRET_KEY are. A photo decoding process
    # (reports.photo_codec), which parses files from anyone, gets none of those secrets in
    # its own environment, and this keeps it from reading its parent's should a bug in an
    # image library let a file run code in it. (Core dumps are off too; root, as in
    # development, is not held back by it.)
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: nothing to set
        pass


def post_fork(server: object, worker: object) -> None:
    import ctypes
    import ctypes.util

    try:
        ctypes.CDLL(ctypes.util.find_library("c")).mallopt(M_MMAP_THRESHOLD, 128 * 1024)
    except (OSError, AttributeError, TypeError):  # not glibc (musl, macOS): nothing to tune
        pass


def post_worker_init(worker: object) -> None:
    # Everything the application loaded (Django, the admin, every app's modules, and what
    # Django would otherwise load at the first requests: civicpulse.preload) lives as
    # long as the process: kept out of the collector's reach, a full collection looks only
    # at what came after. Such a collection stopped every thread of the process for
    # 150-210 ms, 10-27 ms with the freeze alone; with the preload it walks a fifth as
    # many objects, and runs a quarter as often (bench/photo_flood.py, docs/performance.md
    # "Loaded before the freeze").
    # The garbage of loading is collected first, so none of it is frozen. Frozen here
    # only, before any request: a cycle frozen while a request is in flight would never be
    # collected.
    from civicpulse.preload import load_before_serving

    load_before_serving()
    gc.collect()
    gc.freeze()
