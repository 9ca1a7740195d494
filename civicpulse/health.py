"""Liveness and readiness: the state of the database, Redis and the Celery workers.

/healthz answers 200 while the database answers (the web process can serve); /readyz
answers 503 when any dependency is down, for load balancers and deploy checks.

Anyone gets the status code and `{"status": "ok" | "fail"}`; the details (which part is
down, the error's type, the workers' host names and queues) are for the platform admin
only: a signed-in active superuser on the public host. They tell an attacker what runs
where and when it is weak.
"""

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_tenants.utils import get_public_schema_name

from civicpulse.core import workers
from civicpulse.core.redis_client import redis_client
from civicpulse.core.tenancy import current_schema


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


def _platform_admin(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    return (
        current_schema() == get_public_schema_name()
        and user is not None
        and user.is_active
        and user.is_superuser
    )


def _answer(request: HttpRequest, ok: bool, state: dict[str, dict[str, object]]) -> JsonResponse:
    body: dict[str, object] = {"status": "ok" if ok else "fail"}
    if _platform_admin(request):
        body.update(state)
    return JsonResponse(body, status=200 if ok else 503)


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    state = _state()
    return _answer(request, bool(state["database"]["ok"]), state)


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    state = _state()
    return _answer(request, all(part["ok"] for part in state.values()), state)
