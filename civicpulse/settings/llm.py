"""Language models, the offline classifier and the rate of model-backed reports, from the
environment (imported by base.py once .env has been read into it)."""

import environ

__all__ = [
    "CLASSIFIER_MIN_ACCURACY",
    "CLASSIFIER_MIN_EXAMPLES",
    "CLASSIFIER_MODELS_CACHE_MB",
    "LLM_ADJUDICATE_TIMEOUT",
    "LLM_ALLOWED_BASE_URLS",
    "LLM_API_KEY",
    "LLM_BASE_URL",
    "LLM_MAX_CONCURRENCY",
    "LLM_MAX_CONCURRENCY_PER_TENANT",
    "LLM_MODEL",
    "LLM_RETRIES",
    "LLM_RETRY_BACKOFF",
    "LLM_RETRY_MAX_WAIT",
    "LLM_SECRET_KEY",
    "LLM_SLOT_WAIT",
    "LLM_TIMEOUT",
    "LOCATION_REPORT_CREATE_PER_HOUR",
    "PROPERTY_REPORT_CREATE_PER_HOUR",
]

env = environ.Env()

# Language models (llm.client). No base URL: the offline classifier only.
LLM_BASE_URL = env.str("LLM_BASE_URL", default="")
LLM_MODEL = env.str("LLM_MODEL", default="")
LLM_API_KEY = env.str("LLM_API_KEY", default="")
LLM_TIMEOUT = env.float("LLM_TIMEOUT", default=10.0)
# Tenants may bring their own endpoint only under one of these URL prefixes (scheme, host
# and port exact, path a prefix), so no tenant can point the server at internal addresses.
LLM_ALLOWED_BASE_URLS = env.list("LLM_ALLOWED_BASE_URLS", default=[])
# Model calls in flight at once, across every worker process (a Redis semaphore per
# endpoint), and how long a call may wait for a slot before the offline classifier answers.
LLM_MAX_CONCURRENCY = env.int("LLM_MAX_CONCURRENCY", default=4)
# ...and at most this many of them for one tenant, so one tenant's burst cannot take an
# endpoint's every slot from the others; 0: half of LLM_MAX_CONCURRENCY, rounded up.
LLM_MAX_CONCURRENCY_PER_TENANT = env.int("LLM_MAX_CONCURRENCY_PER_TENANT", default=0)
# Location reports an API key may create an hour (each writes a row and may call the
# model), beside the key's own per-minute rate; 0: no limit.
LOCATION_REPORT_CREATE_PER_HOUR = env.int("LOCATION_REPORT_CREATE_PER_HOUR", default=30)
# New property reports an API key or an analyst may generate in an hour (0: no limit).
PROPERTY_REPORT_CREATE_PER_HOUR = env.int("PROPERTY_REPORT_CREATE_PER_HOUR", default=120)
LLM_SLOT_WAIT = env.float("LLM_SLOT_WAIT", default=5.0)
# Retries after a timeout, a 429, a 5xx or a dropped connection, backing off from this
# many seconds, doubling (a Retry-After header is honoured up to LLM_RETRY_MAX_WAIT).
LLM_RETRIES = env.int("LLM_RETRIES", default=2)
LLM_RETRY_BACKOFF = env.float("LLM_RETRY_BACKOFF", default=0.5)
LLM_RETRY_MAX_WAIT = env.float("LLM_RETRY_MAX_WAIT", default=10.0)
# The same-problem check is asked while grouping holds its neighbourhood lock: one try,
# this many seconds at most, no waiting for a slot.
LLM_ADJUDICATE_TIMEOUT = env.float("LLM_ADJUDICATE_TIMEOUT", default=3.0)
# Encrypts tenants' own API keys: one or more comma-separated Fernet keys, the first
# encrypts and all decrypt (llm.secrets); empty: derived from SECRET_KEY (development only,
# production requires it).
LLM_SECRET_KEY = env.str("LLM_SECRET_KEY", default="")
# The offline classifier retrains once a tenant has this many staff corrections.
CLASSIFIER_MIN_EXAMPLES = env.int("CLASSIFIER_MIN_EXAMPLES", default=20)
# Learned models a worker process keeps in memory, all tenants' together (least recently
# used dropped first); a dropped one is read from the database again when needed.
CLASSIFIER_MODELS_CACHE_MB = env.int("CLASSIFIER_MODELS_CACHE_MB", default=64)
# ...and uses it only once its cross-validated accuracy (measured from 30 corrections on)
# reaches this; 0 uses every trained model.
CLASSIFIER_MIN_ACCURACY = env.float("CLASSIFIER_MIN_ACCURACY", default=0.7)
