"""The test suite: a throwaway database on the same server, a Redis database of its own."""

from .base import env
from .dev import *  # noqa: F401,F403

DEBUG = False
# Tests change tenants (suspension) between requests; the cache has a test of its own.
TENANT_CACHE_SECONDS = 0
# Tests change areas and tiles between requests; the form map has a test of its own.
FORM_MAP_CACHE_SECONDS = 0
# Tests revoke keys between requests; the key cache has a test of its own.
API_KEY_CACHE_SECONDS = 0
# Tests change categories, policies and models between reports; the set-up cache has a
# test of its own.
SETUP_CACHE_SECONDS = 0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
ALLOWED_HOSTS = ["*"]

# The suite runs a Redis server of its own (tests stop and restart it), on this port.
TEST_REDIS_PORT = env.int("CIVICPULSE_TEST_REDIS_PORT", default=56380)
TEST_REDIS_URL = env.str("TEST_REDIS_URL", default=f"redis://127.0.0.1:{TEST_REDIS_PORT}/0")
CACHES["default"]["LOCATION"] = TEST_REDIS_URL  # noqa: F405
CELERY_BROKER_URL = TEST_REDIS_URL
CELERY_RESULT_BACKEND = TEST_REDIS_URL
LOG_FORMAT = "text"
LOGGING["handlers"]["console"]["formatter"] = "text"  # noqa: F405
LOG_LEVEL = "WARNING"
LOGGING["root"]["level"] = "WARNING"  # noqa: F405

# Uploaded photos go to a throwaway folder.
import tempfile  # noqa: E402

# Child processes of a test (gunicorn, workers) are handed the test run's folder, so
# they serve and remove the photos the test stored.
MEDIA_ROOT = env.str("TEST_MEDIA_ROOT", default="") or tempfile.mkdtemp(prefix="civicpulse-test-media-")
# ...and tenant exports to another.
TENANT_EXPORT_ROOT = tempfile.mkdtemp(prefix="civicpulse-test-exports-")

# The fake record portals of the tests listen on the loopback address.
OUTBOUND_PRIVATE_HOSTS = ["127.0.0.1"]

# No tiles unless a test serves its own (the machine has no network): the outline map.
MAP_TILE_URL = env.str("MAP_TILE_URL", default="")
