"""Structured logs: one JSON object a line, each with the tenant and the request id."""

import json
import logging
from datetime import UTC, datetime

from civicpulse.core.context import request_id_var, tenant_var

_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "tenant",
    "request_id",
}


class ContextFilter(logging.Filter):
    """Stamps the current tenant and request id on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.tenant = tenant_var.get()
        record.request_id = request_id_var.get()
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
