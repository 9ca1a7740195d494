"""Servers never start on development settings by accident; `.env` names the settings
module first; `make run` answers this machine only; the demo is never seeded in
production; production requires an LLM_SECRET_KEY and exact CSRF origins."""

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.support.services import ROOT

GOOD_KEY = "k" * 20 + "-production-secret-for-the-deploy-check-0123456789"


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DEBUG")}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_env_file_names_the_settings_module_and_the_environment_wins(tmp_path: Path, monkeypatch) -> None:
    from civicpulse.environment import DEVELOPMENT_SETTINGS, settings_module_choose

    env_file = tmp_path / ".env"
    env_file.write_text("DJANGO_SETTINGS_MODULE=civicpulse.settings.prod\nCIVICPULSE_ENV_PROBE=from-file\n")
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE")
    monkeypatch.setenv("CIVICPULSE_ENV_PROBE", "from-environment")
    assert settings_module_choose(env_file) == "civicpulse.settings.prod"
    assert os.environ["CIVICPULSE_ENV_PROBE"] == "from-environment"
    # A module named in the environment beats the file's.
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "civicpulse.settings.test")
    assert settings_module_choose(env_file) == "civicpulse.settings.test"
    # Nothing anywhere: the development settings, for manage.py in a checkout.
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE")
    assert settings_module_choose(tmp_path / "missing.env") == DEVELOPMENT_SETTINGS


@pytest.mark.parametrize("entry", ["civicpulse.wsgi", "civicpulse.asgi"])
def test_the_web_server_refuses_development_settings_without_debug(entry: str) -> None:
    for module in ("civicpulse.settings.dev", "civicpulse.settings.base"):
        refused = _python(f"import {entry}", DJANGO_SETTINGS_MODULE=module, DEBUG="false")
        assert refused.returncode != 0
        assert "Refusing to start the web server" in refused.stderr
    # DEBUG explicitly on: the development server starts (make run sets it).
    allowed = _python(
        f"import {entry}; print('loaded')", DJANGO_SETTINGS_MODULE="civicpulse.settings.dev", DEBUG="true"
    )
    assert allowed.returncode == 0, allowed.stderr
    assert "loaded" in allowed.stdout


@pytest.mark.parametrize("process", [["worker", "-P", "solo"], ["beat", "-s", "/dev/null"]])
def test_celery_refuses_development_settings_without_debug(process: list[str]) -> None:
    clean = {k: v for k, v in os.environ.items() if k != "DEBUG"}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "celery"), "-A", "civicpulse", *process],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "civicpulse.settings.dev", "DEBUG": "false"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "Refusing to start" in result.stdout + result.stderr


def test_gunicorn_binds_this_machine_unless_told(monkeypatch) -> None:
    import civicpulse.gunicorn_conf as conf

    monkeypatch.delenv("BIND_ADDRESS", raising=False)
    monkeypatch.delenv("PORT", raising=False)
    assert importlib.reload(conf).bind == "127.0.0.1:8000"
    monkeypatch.setenv("BIND_ADDRESS", "0.0.0.0")
    monkeypatch.setenv("PORT", "9000")
    assert importlib.reload(conf).bind == "0.0.0.0:9000"
    monkeypatch.undo()
    importlib.reload(conf)


def test_gunicorn_writes_no_access_line_of_its_own_unless_asked() -> None:
    """Each request is logged once, by civicpulse.core.middleware: gunicorn's own access
    line (written whenever a logging config is given) only with `accesslog` set."""
    import logging
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    import civicpulse.gunicorn_conf as conf

    def served(logger_class: type, accesslog: str | None) -> int:
        cfg = Config()
        logger = logger_class(cfg)
        # Given after the logger is made, so that this process's logging is not configured
        # again; what access() reads is the configuration at the time of the request.
        cfg.set("logconfig_dict", conf.logconfig_dict)
        cfg.set("accesslog", accesslog)
        lines: list[logging.LogRecord] = []
        handler = logging.Handler()
        handler.emit = lines.append  # type: ignore[method-assign,assignment]
        logger.access_log.addHandler(handler)  # the config's handlers do not propagate
        try:
            logger.access(
                SimpleNamespace(status="201 Created", sent=10, headers=[], response_length=10),
                SimpleNamespace(headers=[]),
                {"REQUEST_METHOD": "POST", "RAW_URI": "/api/v1/reports/", "SERVER_PROTOCOL": "HTTP/1.1"},
                timedelta(milliseconds=3),
            )
        finally:
            logger.access_log.removeHandler(handler)
        return len(lines)

    assert conf.logger_class is conf.AccessLogAsConfigured
    assert served(Logger, None) == 1  # gunicorn's own class: a second line per request
    assert served(conf.AccessLogAsConfigured, None) == 0
    assert served(conf.AccessLogAsConfigured, "-") == 1


def test_make_run_serves_this_machine_with_debug_explicitly_on() -> None:
    script = (ROOT / "scripts" / "run.sh").read_text()
    assert 'BIND_ADDRESS="${BIND_ADDRESS:-127.0.0.1}"' in script
    assert 'DEBUG="${DEBUG:-true}"' in script
    assert (
        "0.0.0.0"
        not in (ROOT / "civicpulse" / "gunicorn_conf.py").read_text().split("bind =")[1].splitlines()[0]
    )


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY", "LLM_SECRET_KEY")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "civicpulse.settings.prod", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_seed_demo_refuses_production_settings() -> None:
    llm_key = Fernet.generate_key().decode()
    for command in ("seed_demo", "seed_history"):
        result = _manage(command, SECRET_KEY=GOOD_KEY, LLM_SECRET_KEY=llm_key)
        assert result.returncode != 0
        assert "Refusing to seed demo data under production settings" in result.stderr


def test_production_requires_a_valid_llm_secret_key() -> None:
    missing = _manage("check", SECRET_KEY=GOOD_KEY)
    assert missing.returncode != 0 and "LLM_SECRET_KEY must be set" in missing.stderr
    bad = _manage("check", SECRET_KEY=GOOD_KEY, LLM_SECRET_KEY=f"{Fernet.generate_key().decode()},not-a-key")
    assert bad.returncode != 0 and "LLM_SECRET_KEY entry 2 is not a Fernet key" in bad.stderr


def test_production_refuses_wildcard_csrf_origins() -> None:
    llm_key = Fernet.generate_key().decode()
    wildcard = _manage(
        "check", SECRET_KEY=GOOD_KEY, LLM_SECRET_KEY=llm_key, CSRF_TRUSTED_ORIGINS="https://*.example.org"
    )
    assert wildcard.returncode != 0 and "must be one exact origin" in wildcard.stderr
    exact = _manage(
        "check",
        SECRET_KEY=GOOD_KEY,
        LLM_SECRET_KEY=llm_key,
        CSRF_TRUSTED_ORIGINS="https://civicpulse.example.org,https://springfield.civicpulse.example.org",
    )
    assert exact.returncode == 0, exact.stderr


def test_env_example_documents_exact_origins_and_proxy_hops() -> None:
    example = (ROOT / ".env.example").read_text()
    origins = next(line for line in example.splitlines() if line.startswith("CSRF_TRUSTED_ORIGINS="))
    assert "*" not in origins
    assert "TRUSTED_PROXY_HOPS=" in example and "LLM_SECRET_KEY=" in example and "BIND_ADDRESS" in example
