"""Production: everything from the environment, and no unsafe defaults accepted."""

from urllib.parse import urlsplit

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F401,F403
from .base import DEV_SECRET_KEY, env

DEBUG = env.bool("DEBUG", default=False)
if DEBUG:
    raise ImproperlyConfigured("DEBUG must be off in production settings.")
SECRET_KEY = env.str("SECRET_KEY")
if SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be set to a long random value in production.")

# Tenants' model API keys are encrypted with LLM_SECRET_KEY (llm.secrets, MultiFernet):
# required here, one or more comma-separated Fernet keys (the first encrypts), so that
# rotating SECRET_KEY never leaves them unreadable.
LLM_SECRET_KEY = env.str("LLM_SECRET_KEY", default="")
_llm_keys = [key.strip() for key in LLM_SECRET_KEY.split(",") if key.strip()]
if not _llm_keys:
    raise ImproperlyConfigured(
        "LLM_SECRET_KEY must be set in production (a Fernet key: "
        'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())").'
    )
for _n, _key in enumerate(_llm_keys, start=1):
    try:
        Fernet(_key.encode())
    except (ValueError, TypeError) as _exc:
        raise ImproperlyConfigured(f"LLM_SECRET_KEY entry {_n} is not a Fernet key.") from _exc
# Demo data creates superusers with a published password: never here.
DEMO_SEEDING_ALLOWED = False

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# Same-origin form posts need no entry here (Django compares Origin with the Host). List
# only origins that post across hosts, each exactly (scheme://host[:port]): a wildcard would
# trust every subdomain, including every tenant's host and any added later.
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
for _origin in CSRF_TRUSTED_ORIGINS:
    _parts = urlsplit(_origin)
    if "*" in _origin or _parts.scheme not in ("https", "http") or not _parts.netloc or _parts.path:
        raise ImproperlyConfigured(
            f"CSRF_TRUSTED_ORIGINS entry {_origin!r} must be one exact origin, e.g. https://city.example.org."
        )
EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
