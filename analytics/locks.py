"""Serialising one kind of analytics pass (SLA evaluation, scores, rules) per tenant."""

import zlib

from django.db import connection

from civicpulse.core.tenancy import current_schema


def pass_lock(name: str) -> None:
    """Hold a transaction-level advisory lock for `name` in the current tenant until
    commit: two passes of the same kind would race on the same rows."""
    key = zlib.crc32(f"{name}:{current_schema()}".encode()) & 0x7FFFFFFF
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])
