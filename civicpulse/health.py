"""Liveness and readiness: the state of the database, Redis and the Celery workers.

/healthz answers 200 while the database answers (the web process can serve); /readyz
answers 503 when any dependency is down, for load balancers and deploy checks.
"""

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from civicpulse.core import workers
from civicpulse.core.redis_client import redis_client


def _database() -> dict[str, object]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"ok": True}
    except Exception as exc:  # any driver error means "down"
        return {"ok": False, "error": type(exc).__name__}


def _redis() -> dict[str, object]:
    try:
        redis_client().ping()
        return {"ok": True}
    except Exception as exc:
        return {"ok": False, "error": type(exc).__name__}


def _workers(redis_ok: bool) -> dict[str, object]:
    if not redis_ok:
        return {"ok": False, "error": "redis unavailable"}
    seen = workers.live_workers()
    queues = {q: sorted(w for w, qs in seen.items() if q in qs) for q in workers.QUEUES}
    return {"ok": all(queues.values()), "queues": queues}


def _state() -> dict[str, dict[str, object]]:
    redis_state = _redis()
    return {
        "database": _database(),
        "redis": redis_state,
        "workers": _workers(bool(redis_state["ok"])),
    }


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    state = _state()
    status = 200 if state["database"]["ok"] else 503
    return JsonResponse({"status": "ok" if status == 200 else "down", **state}, status=status)


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    state = _state()
    ready = all(part["ok"] for part in state.values())
    return JsonResponse({"status": "ready" if ready else "not ready", **state}, status=200 if ready else 503)
