"""gunicorn settings shared by `make run` and the container: JSON logs like every other
process, and sizes from the environment."""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "8"))
graceful_timeout = 5
# Requests are logged by civicpulse.core.middleware (with tenant and request id), not here.
accesslog = None
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "civicpulse.core.logging.ContextFilter"}},
    "formatters": {"json": {"()": "civicpulse.core.logging.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["context"], "formatter": "json"}},
    "loggers": {
        "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
