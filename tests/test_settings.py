"""Production settings refuse unsafe values, and `check --deploy` is clean under them; numpy's
BLAS runs one thread unless the environment says otherwise."""

import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from tests.support.services import ROOT

GOOD_KEY = "k" * 20 + "-production-secret-for-the-deploy-check-0123456789"
LLM_KEY = Fernet.generate_key().decode()


def _run(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY", "LLM_SECRET_KEY")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "civicpulse.settings.prod", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_debug() -> None:
    result = _run("check", SECRET_KEY=GOOD_KEY, DEBUG="true")
    assert result.returncode != 0
    assert "DEBUG must be off" in result.stderr


def test_production_refuses_a_missing_or_default_secret_key() -> None:
    missing = _run("check")
    assert missing.returncode != 0 and "SECRET_KEY" in missing.stderr
    default = _run("check", SECRET_KEY="dev-only-insecure-key-change-me-never-in-production")
    assert default.returncode != 0 and "SECRET_KEY must be set" in default.stderr


def test_check_deploy_is_clean() -> None:
    result = _run("check", "--deploy", "--fail-level", "WARNING", SECRET_KEY=GOOD_KEY, LLM_SECRET_KEY=LLM_KEY)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_a_photo_decode_timeout_of_zero_or_less_is_refused_at_start() -> None:
    for value in ("0", "-1"):
        result = _run("check", SECRET_KEY=GOOD_KEY, PHOTO_DECODE_TIMEOUT_S=value)
        assert result.returncode != 0 and "PHOTO_DECODE_TIMEOUT_S: seconds, more than 0" in result.stderr


def _blas_threads(code: str, **env: str) -> int:
    """The most threads a BLAS library loaded by `code` would use, in a fresh interpreter
    whose environment names no thread count but `env`'s."""
    code += (
        "; import threadpoolctl; "
        "print(max((i['num_threads'] for i in threadpoolctl.threadpool_info() if i['user_api'] == 'blas'), default=0))"
    )
    named = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")
    clean = {k: v for k, v in os.environ.items() if k not in named}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return int(result.stdout)


def test_numpy_runs_one_blas_thread_unless_the_environment_says_otherwise() -> None:
    # Several threads a process, each product on threads that spin after it: the io
    # workers spent most of their CPU spinning (docs/performance.md, "One BLAS thread").
    if len(os.sched_getaffinity(0)) < 2 or _blas_threads("import numpy") < 2:
        pytest.skip("BLAS runs one thread here whatever is set: nothing to tell apart")
    # The project's package is imported before numpy by every entry point (manage.py,
    # the WSGI module, celery -A civicpulse, the settings), and must leave numpy unloaded.
    first = "import sys, civicpulse; assert 'numpy' not in sys.modules, 'numpy came first'; import numpy"
    assert _blas_threads(first) == 1
    assert _blas_threads(first, OPENBLAS_NUM_THREADS="2") == 2
