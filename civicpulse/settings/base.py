"""Settings shared by every environment, read from the environment (django-environ).

Defaults point at the project-local PostgreSQL and Redis that `make run` starts, so
`manage.py` works in a bootstrapped checkout with no variables set.
"""

from datetime import timedelta
from pathlib import Path
from typing import Any

import django_stubs_ext
import environ
from django.core.exceptions import ImproperlyConfigured

from civicpulse.core.cpus import upload_lane_setting_check
from civicpulse.settings.schedule import BEAT_SCHEDULE

# Lets generic Django classes be subscripted at run time (ModelAdmin[Issue], QuerySet[Report]),
# as the type hints write them.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# An optional .env file beside manage.py; real environment variables win over it.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEV_SECRET_KEY = "dev-only-insecure-key-change-me-never-in-production"
SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
# Former secret keys, still accepted while a new SECRET_KEY rolls out (sessions, signed
# links, model keys derived from it): docs/security.md, "Rotating secrets".
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
DEBUG = env.bool("DEBUG", default=False)

# The host names of the public site; tenants live on `<slug>.<BASE_DOMAIN>`.
BASE_DOMAIN = env.str("BASE_DOMAIN", default="localhost")
PUBLIC_HOSTS = env.list("PUBLIC_HOSTS", default=["localhost", "127.0.0.1"])
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[*PUBLIC_HOSTS, f".{BASE_DOMAIN}"])

SHARED_APPS = [
    # First, so its `migrate_schemas` (which also keeps the template schema) wins.
    "tenants",
    "django_tenants",
    # The project package: its admin module composes the staff console's Issue admin.
    "civicpulse",
    # Demo tenants and generated history: the seed_demo and seed_history commands.
    "civicpulse.demo",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "civicpulse.apps.CivicPulseAdminConfig",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "axes",
    # The API's OpenAPI schema and its Swagger UI / Redoc assets, served from here (no CDN).
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
]
# Users, sessions, admin and lockouts exist per schema: a login on one tenant is worthless
# on another, and platform operators live in the public schema.
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "civicpulse.apps.CivicPulseAdminConfig",
    "django_celery_beat",
    "axes",
    "rest_framework",
    "civicpulse.apikeys",
    # Refresh tokens of analysts' JWTs, outstanding and blacklisted, per tenant like the users they name.
    "rest_framework_simplejwt.token_blacklist",
    "issues",
    "reports",
    "llm",
    "analytics",
]
INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
# New tenants are cloned from a migrated template schema instead of running every
# migration again (tenants.schema_clone); `migrate_schemas` keeps the template current.
TENANT_TEMPLATE_SCHEMA = "tenant_template"
# Seconds each web process remembers which tenant a host belongs to (0: ask every time).
TENANT_CACHE_SECONDS = env.float("TENANT_CACHE_SECONDS", default=5.0)
# Seconds a web process keeps each tenant's report-form map (areas, where it opens, tiles)
# before reading it again; 0 reads it at every visit (reports.form_map).
FORM_MAP_CACHE_SECONDS = env.float("FORM_MAP_CACHE_SECONDS", default=30.0)
# Seconds each process keeps what processing a report reads of its tenant's set-up
# (categories, grouping policy, areas, departments, language-model endpoint, latest learned
# model); a change reaches the pipeline within this time; 0 reads it for every batch. The
# endpoint is read through it everywhere (narratives too).
SETUP_CACHE_SECONDS = env.float("SETUP_CACHE_SECONDS", default=5.0)
if not 0 <= SETUP_CACHE_SECONDS <= 300:  # NaN fails too; longer would hide a change for minutes
    raise ImproperlyConfigured("SETUP_CACHE_SECONDS: seconds, from 0 to 300")
# `SET search_path` once per connection and tenant instead of before every cursor.
# django-tenants (4.0.1) forgets the value on ROLLBACK and ROLLBACK TO SAVEPOINT, which
# undo a SET made inside them (tests/test_search_path.py).
TENANT_LIMIT_SET_CALLS = True
# Functions called, in order, inside a new tenant's schema to install its defaults.
TENANT_PROVISIONING_HOOKS = [
    "issues.services.taxonomy.taxonomy_install_defaults",
    "analytics.provisioning.analytics_install_defaults",
]

MIDDLEWARE = [
    "civicpulse.core.middleware.RequestContextMiddleware",
    "tenants.middleware.CachedTenantMainMiddleware",
    "tenants.middleware.TenantStatusMiddleware",
    "civicpulse.core.errors.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # The Browser* middleware are Django's, skipped by integrators' calls (API paths, no
    # session cookie), which have no session, user or messages to handle.
    "civicpulse.core.middleware.BrowserSessionMiddleware",
    # Resident pages speak the visitor's choice, else their browser's, else the tenant's default.
    "tenants.middleware.TenantLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "civicpulse.core.middleware.BrowserAuthenticationMiddleware",
    "civicpulse.core.middleware.BrowserMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "civicpulse.urls_tenant"
PUBLIC_SCHEMA_URLCONF = "civicpulse.urls_public"
WSGI_APPLICATION = "civicpulse.wsgi.application"
ASGI_APPLICATION = "civicpulse.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

from civicpulse.settings.database import *  # noqa: E402, F403  (the database connection; after .env)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str(
    "REDIS_URL", default=f"redis://127.0.0.1:{env.int('CIVICPULSE_REDIS_PORT', default=56379)}/0"
)
# Short timeouts: a Redis outage must slow nothing down that does not need Redis.
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=1.0)

CACHES: dict[str, dict[str, Any]] = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        # Keys carry the tenant's schema, so tenants never read each other's entries.
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "OPTIONS": {
            "socket_timeout": REDIS_SOCKET_TIMEOUT,
            "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
        },
    }
}

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Lock a username from one address out after repeated failures, per schema; also an
# address trying many usernames, and a username tried from many addresses (a higher
# limit): civicpulse.core.lockout. The address is the client's behind TRUSTED_PROXY_HOPS.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_ADDRESS_FAILURE_LIMIT = env.int("AXES_ADDRESS_FAILURE_LIMIT", default=20)
AXES_USERNAME_FAILURE_LIMIT = env.int("AXES_USERNAME_FAILURE_LIMIT", default=20)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=1.0)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_HANDLER = "civicpulse.core.lockout.TieredLockoutHandler"
AXES_CLIENT_IP_CALLABLE = "civicpulse.core.ratelimit.client_address"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "lockout.html"

LANGUAGE_CODE = "en"
# Resident pages and emails speak these (docs/languages.md); a tenant chooses its default.
LANGUAGES = [("en", "English"), ("es", "Spanish")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    # Files land under MEDIA_ROOT/<schema>/: one tenant's photos never sit beside another's.
    "default": {"BACKEND": "django_tenants.files.storage.TenantFileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MULTITENANT_RELATIVE_MEDIA_ROOT = "%s"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(BASE_DIR / "media"))
MEDIA_URL = "/media/"

# Celery: one tenant-aware app, two queues. `io` is served by a thread pool for
# network-bound work, `cpu` by a prefork pool for aggregation.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_DEFAULT_QUEUE = "io"
# Network-bound work (the pipeline, sweeping) on `io`; aggregation (SLA, scores) on `cpu`.
CELERY_TASK_ROUTES = {
    "reports.*": {"queue": "io"},
    # Sending SLA emails waits on the mail server: network-bound, so before the glob.
    "analytics.sla_notify": {"queue": "io"},
    "analytics.*": {"queue": "cpu"},
    "llm.*": {"queue": "cpu"},
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A task is acknowledged only once it has finished, and re-queued when the process
# running it dies, so a crash never loses work. Tasks are idempotent for that reason.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Unacknowledged messages return to the queue after this long; it must exceed any
# countdown or eta we use, or a delayed task would run twice.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=6 * 3600),
    "socket_timeout": REDIS_SOCKET_TIMEOUT,
    "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
}
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = CELERY_BROKER_TRANSPORT_OPTIONS
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery's Django fixup closes every database connection before and after each task
# unless told to reuse them: a new PostgreSQL backend per task costs more than the task.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
# Workers look up the tenant of each task's schema; remember it for a minute.
CELERY_TASK_TENANT_CACHE_SECONDS = 60
# Seconds a report a worker started stays that worker's before the sweeper takes the worker
# for dead and re-queues the report: well above a slow try (model retries and backoff,
# slot waits, the grouping lock), well below the hour a lost report may wait.
PIPELINE_PROCESSING_STALE_SECONDS = env.int("PIPELINE_PROCESSING_STALE_SECONDS", default=600)
CELERY_TASK_TIME_LIMIT = 15 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 14 * 60
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULER = "civicpulse.beat:TenantScheduler"
# What beat runs, and where: civicpulse/settings/schedule.py.
CELERY_BEAT_SCHEDULE = BEAT_SCHEDULE
# How long a worker's heartbeat in Redis stays valid; /readyz reads them.
WORKER_HEARTBEAT_TTL = 30

# A tenant the platform admin deletes is suspended at once and dropped (schema, files,
# exports) only this many days later; until then it can be reinstated.
TENANT_DELETION_GRACE_DAYS = env.int("TENANT_DELETION_GRACE_DAYS", default=30)
# Where tenant exports (zip files of CSV and photos) are written: private, never served
# as media; downloaded through the platform admin only.
TENANT_EXPORT_ROOT = env.path("TENANT_EXPORT_ROOT", default=str(BASE_DIR / "exports"))
# seed_demo and seed_history create superusers with a published password: off in production.
DEMO_SEEDING_ALLOWED = True

DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="civicpulse@localhost")
# How links in emails reach a tenant's host ({host} is its primary domain).
PUBLIC_URL_TEMPLATE = env.str("PUBLIC_URL_TEMPLATE", default="http://{host}:8000")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["civicpulse.apikeys.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["civicpulse.apikeys.permissions.HasScope"],
    "DEFAULT_THROTTLE_CLASSES": [
        "civicpulse.apikeys.throttling.ApiKeyRateThrottle",
        "civicpulse.apikeys.throttling.AnonymousRateThrottle",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "civicpulse.core.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "civicpulse.core.api_schema.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
}
# Analysts' JWTs (analytics.property.tokens): short access, a week of refresh, each refresh
# rotated and the old one blacklisted; every token names the tenant that issued it.
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=30),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=7),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "AUTH_TOKEN_CLASSES": ("analytics.property.tokens.TenantAccessToken",),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CivicPulse API",
    "DESCRIPTION": "The integrator API of one CivicPulse tenant (served on the tenant's host). "
    "Authenticate with `Authorization: Api-Key <key>`. Errors: {code, message, fields}.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "IssueStatusEnum": "issues.models.IssueStatus",
        "SeverityEnum": "issues.models.Severity",
    },
}
# Requests a minute from one client address without an API key (0: no limit).
API_ANON_RATE_PER_MINUTE = env.int("API_ANON_RATE_PER_MINUTE", default=120)
# Unknown or revoked API keys one client address may send a minute before every request
# it sends with a key is answered 429 without the key being looked up; 0: no limit.
API_BAD_KEY_RATE_PER_MINUTE = env.int("API_BAD_KEY_RATE_PER_MINUTE", default=20)
# Seconds each process remembers an API key it found active: a revoked key is refused
# everywhere within this long (0: look every key up on every request).
API_KEY_CACHE_SECONDS = env.float("API_KEY_CACHE_SECONDS", default=5.0)
# Paths that answer in the API's error shape and take the API's body limit.
API_PATH_PREFIXES = ("/api/", "/open311/")
# Protocols with an error shape of their own: path prefix -> renderer of
# (request, status, code, message), used for errors answered before any view runs.
ERROR_RENDERERS = {"/open311/": "reports.open311.errors.error_response"}
# API bodies larger than this are refused with 413 before they are read.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=64 * 1024)
# Any other body (the report form with its photo) is refused above this.
FORM_MAX_BODY_BYTES = env.int("FORM_MAX_BODY_BYTES", default=10 * 1024 * 1024)
# Photos each web process decodes at once, and seconds one waits for a slot (reports.photos).
PHOTO_DECODE_SLOTS = env.int("PHOTO_DECODE_SLOTS", default=1)
PHOTO_SLOT_WAIT_S = env.float("PHOTO_SLOT_WAIT_S", default=0.0)
# Seconds a photo may take to decode before it is refused (a file built to take minutes).
PHOTO_DECODE_TIMEOUT_S = env.float("PHOTO_DECODE_TIMEOUT_S", default=10.0)
if PHOTO_DECODE_TIMEOUT_S <= 0:
    raise ImproperlyConfigured("PHOTO_DECODE_TIMEOUT_S: seconds, more than 0")
PHOTO_POSTS_IN_FLIGHT = env.int("PHOTO_POSTS_IN_FLIGHT", default=4)
# The CPUs upload and photo work run on (UPLOAD_LANE_CPUS, read from the environment by
# civicpulse.core.cpus): checked here, once .env has been read, so that every process
# refuses a value it cannot read at its start rather than at its first photo.
upload_lane_setting_check()
# Hosts a tenant's record portal may be on although they resolve to private addresses
# (an on-premises portal); any other portal must be on the public internet
# (civicpulse.core.outbound), so staff cannot point the server at its neighbours.
OUTBOUND_PRIVATE_HOSTS = env.list("OUTBOUND_PRIVATE_HOSTS", default=[])
# Proxies in front of the web servers that append to X-Forwarded-For: the client's
# address for rate limits is that many entries from the right. 0: REMOTE_ADDR.
TRUSTED_PROXY_HOPS = env.int("TRUSTED_PROXY_HOPS", default=0)
# An import of at least this many rows, and more than the tenant already has, rebuilds
# the report and issue tables' indexes and foreign keys once instead of row by row,
# holding those tables for its duration (live intake of that tenant waits).
IMPORT_BULK_MIN_ROWS = env.int("IMPORT_BULK_MIN_ROWS", default=100_000)
from civicpulse.settings.llm import *  # noqa: E402, F403  (language models, classifier; after .env)
from civicpulse.settings.maps import *  # noqa: E402, F403  (street maps, address search; after .env)

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "civicpulse.core.logging.ContextFilter"}},
    "formatters": {
        "json": {"()": "civicpulse.core.logging.JsonFormatter"},
        "text": {
            "format": "%(asctime)s %(levelname)s %(name)s [tenant=%(tenant)s request=%(request_id)s] %(message)s"
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["context"],
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "celery": {"level": LOG_LEVEL},
        "axes": {"level": "WARNING"},
        # WeasyPrint logs every layout step of every PDF at INFO.
        "weasyprint": {"level": "WARNING"},
    },
}
