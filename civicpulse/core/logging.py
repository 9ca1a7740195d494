"""Structured logs: one JSON object a line, each with the tenant and the request id.

Secrets that travel in URLs never reach a log line: a report's tracking id (the key to
its tracking page and photo), the unsubscribe and confirmation tokens of resident
emails, and Open311 tokens (which are tracking ids) are replaced by `[redacted]`
wherever a path or request line appears (ContextFilter, on every handler)."""

import json
import logging
import re
from datetime import UTC, datetime

from civicpulse.core.context import request_id_var, tenant_var

_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "tenant",
    "request_id",
}


REDACTED = "[redacted]"
# /track/<id>/…, its /unsubscribe/<token> and /confirm/<token>, /track/?id=<id>, the API's
# /api/v1/reports/<id>/, Open311 /tokens/<token>.json, and an api_key in a query string
# (Open311 takes it there; gunicorn's access log, when on, writes the whole request line):
# the secret part of each, up to the next / ? & space or quote.
_SECRETS = (
    (re.compile(r"(/track/)(?!\[redacted\])[^/?&\s'\"]+"), rf"\g<1>{REDACTED}"),
    (re.compile(r"(/api/v1/reports/)(?!\[redacted\])[^/?&\s'\"]+"), rf"\g<1>{REDACTED}"),
    (re.compile(r"([?&]api_key=)(?!\[redacted\])[^&\s'\"]+"), rf"\g<1>{REDACTED}"),
    (re.compile(r"(/(?:unsubscribe|confirm)/)(?!\[redacted\])[^/?&\s'\"]+"), rf"\g<1>{REDACTED}"),
    (
        re.compile(r"(/tokens/)(?!\[redacted\])[^/?&\s'\"]+?(?=\.(?:json|xml)\b|[/?&\s'\"]|$)"),
        rf"\g<1>{REDACTED}",
    ),
    (re.compile(r"(/track/\?(?:[^\s'\"]*&)?id=)[^&\s'\"]+"), rf"\g<1>{REDACTED}"),
)


_MARKERS = ("/track/", "/tokens/", "/api/v1/reports/", "api_key=")


def redact(text: str) -> str:
    """`text` with every tracking id and resident token in a URL path replaced."""
    if not any(marker in text for marker in _MARKERS):
        return text
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class ContextFilter(logging.Filter):
    """Stamps the current tenant and request id on every record, and redacts secrets
    from its message and its extra fields (a request line, a path, a request object)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.tenant = tenant_var.get()
        record.request_id = request_id_var.get()
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        for key, value in list(vars(record).items()):
            if key in _STANDARD_ATTRS or key.startswith("_"):
                continue
            if isinstance(value, str):
                setattr(record, key, redact(value))
            elif key == "request":  # Django's 4xx/5xx lines carry the request object
                setattr(record, key, redact(str(value)))
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "tenant": getattr(record, "tenant", tenant_var.get()),
            "request_id": getattr(record, "request_id", request_id_var.get()),
            "message": record.getMessage(),
        }
        # Anything passed through `extra=` travels as its own field.
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)
