"""Which settings a process runs with, decided before Django loads any.

`manage.py`, the WSGI and ASGI entry points and the Celery app read `.env` beside
`manage.py` first (real environment variables win over it), so a server started outside
a container (systemd, a shell) takes `DJANGO_SETTINGS_MODULE` from `.env` like the
container does, instead of silently falling back to development settings. Only with no
choice anywhere are the development settings the default, for `manage.py` in a checkout.

Servers (gunicorn through wsgi.py or asgi.py, Celery workers and beat) refuse the
development settings unless DEBUG is explicitly on in the environment: those settings
carry DEBUG, a published secret key and console mail, which must never serve the public
by accident. `make run` turns DEBUG on for its own development servers.

Imports nothing of Django's settings, and nothing of the project: this runs first.
"""

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

ENV_FILE = Path(__file__).resolve().parent.parent / ".env"
DEVELOPMENT_SETTINGS = "civicpulse.settings.dev"
# Settings carrying the development defaults (DEBUG from the environment, the published
# secret key): the development module, and the base every other one builds on.
DEVELOPMENT_DEFAULTS = (DEVELOPMENT_SETTINGS, "civicpulse.settings.base")


def settings_module_choose(env_file: Path = ENV_FILE) -> str:
    """Read `env_file` into the environment (without overriding what is set), then name
    the settings module: the environment's, else the development settings."""
    if env_file.is_file():
        environ.Env.read_env(env_file, overwrite=False)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", DEVELOPMENT_SETTINGS)
    return os.environ["DJANGO_SETTINGS_MODULE"]


def development_refuse_unless_debug(process: str) -> None:
    """Stop a server from starting on the development settings (or the base they build
    on) unless the environment turns DEBUG on explicitly (DEBUG=true)."""
    module = os.environ.get("DJANGO_SETTINGS_MODULE")
    if module not in DEVELOPMENT_DEFAULTS:
        return
    if environ.Env().bool("DEBUG", default=False):
        return
    raise ImproperlyConfigured(
        f"Refusing to start {process} with the development settings ({module}): they run "
        "with DEBUG, a published secret key and console mail. Set DJANGO_SETTINGS_MODULE="
        "civicpulse.settings.prod in the environment or in .env, or set DEBUG=true to run the "
        "development settings on purpose."
    )
