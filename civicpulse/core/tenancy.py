"""The database connection as django-tenants shapes it. Django's own connection type
knows nothing of schemas, so code that asks which tenant it serves goes through these
typed accessors instead of reaching for attributes the type checker cannot see."""

from typing import Any, Protocol, cast

from django.db import connection


class TenantConnection(Protocol):
    """What django-tenants' database backend adds to a connection."""

    schema_name: str
    tenant: Any  # the tenant row (or django-tenants' stand-in for the public schema)

    def set_tenant(self, tenant: Any, include_public: bool = True) -> None: ...

    def set_schema(self, schema_name: str, include_public: bool = True) -> None: ...

    def set_schema_to_public(self) -> None: ...

    def search_path_forget(self) -> None: ...


def tenant_connection() -> TenantConnection:
    # The ENGINE is always django-tenants' backend (civicpulse.core.database, set by settings).
    return cast(TenantConnection, connection)


def current_schema() -> str:
    """The schema the default connection is set to: a tenant's slug, or `public`."""
    return tenant_connection().schema_name
