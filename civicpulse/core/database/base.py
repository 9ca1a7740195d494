"""django-tenants' PostgreSQL backend, minus two round trips that every request paid.

- The search_path: django-tenants forgets the one it set whenever a tenant is chosen, so a
  connection kept between requests (CONN_MAX_AGE) sent `SET search_path` again at the start
  of every request, even for the tenant it already served. Here choosing the tenant whose
  path is already set keeps it. django-tenants still forgets it wherever the session may
  have lost it: a closed connection, a ROLLBACK or ROLLBACK TO SAVEPOINT (which undo a SET
  made inside them; tests/test_search_path.py).
- The health check (CONN_HEALTH_CHECKS, and after an error): Django sends `SELECT 1` at
  the first use of a kept connection in each request. A server that closed the
  connection (a restart, an administrator's termination, an idle timeout) has by then
  sent its farewell or closed the socket, and an idle connection in good health has
  nothing to read: so the check looks at the connection's state and its socket instead.
"""

import select
from typing import Any

from django_tenants.postgresql_backend.base import DatabaseWrapper as TenantDatabaseWrapper
from psycopg.pq import TransactionStatus


class DatabaseWrapper(TenantDatabaseWrapper):
    # The search_path the session holds, as far as is known: set by a SET that went
    # through, forgotten wherever django-tenants forgets its own flag. django-tenants'
    # flag (search_path_set_schemas) is cleared by every tenant change, including the
    # switch to the public schema that resolving each request's tenant makes first.
    _session_search_path: list[str] | None = None

    def set_tenant(self, tenant: Any, include_public: bool = True) -> None:
        super().set_tenant(tenant, include_public)
        if self._session_search_path and self._session_search_path == self._get_cursor_search_paths():
            self.search_path_set_schemas = self._session_search_path

    def _handle_search_path(self, cursor: Any = None) -> None:
        super()._handle_search_path(cursor)
        if not self._setting_search_path:  # not the inner call made while setting it
            self._session_search_path = self.search_path_set_schemas

    def close(self) -> None:
        self._session_search_path = None
        super().close()

    def rollback(self) -> None:
        self._session_search_path = None
        super().rollback()

    def savepoint_rollback(self, sid: str) -> None:
        self._session_search_path = None
        super().savepoint_rollback(sid)

    def is_usable(self) -> bool:
        """What `SELECT 1` would answer, without sending it: whether the connection is open,
        not inside a failed transaction, and has nothing waiting to be read (a client that
        sent nothing is owed nothing: what waits is the server's farewell, or the end of
        the stream)."""
        raw = self.connection
        if raw is None or raw.closed or raw.broken:
            return False
        if raw.info.transaction_status in (TransactionStatus.INERROR, TransactionStatus.UNKNOWN):
            return False
        try:
            poller = select.poll()
            poller.register(raw.fileno(), select.POLLIN | select.POLLPRI)
            return not poller.poll(0)
        except (OSError, ValueError):
            return False
