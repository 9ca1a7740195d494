"""django-tenants' PostgreSQL backend, minus two round trips that every request paid.

- The search_path: django-tenants forgets the one it set whenever a tenant is chosen, so a
  connection kept between requests (CONN_MAX_AGE) sent `SET search_path` again at the start
  of every request, even for the tenant it already served. Here choosing the tenant whose
  path is already set keeps it. django-tenants still forgets it wherever the session may
  have lost it: a closed connection, a ROLLBACK or ROLLBACK TO SAVEPOINT (which undo a SET
  made inside them; tests/test_search_path.py), and code that sets the path by hand says
  so (`search_path_forget`).
- The health check (CONN_HEALTH_CHECKS, and after an error): Django sends `SELECT 1` at
  the first use of a kept connection in each request. A server that closed the
  connection (a restart, an administrator's termination, an idle timeout) has by then
  sent its farewell or closed the socket, and an idle connection in good health has
  nothing to read: so the check looks at the connection's state and its socket instead.
"""

import select
from typing import Any

import psycopg
from django_tenants.postgresql_backend.base import DatabaseWrapper as TenantDatabaseWrapper
from django_tenants.utils import get_limit_set_calls
from psycopg.pq import TransactionStatus


class DatabaseWrapper(TenantDatabaseWrapper):
    # The search_path the session holds, as far as is known: set by a SET that went
    # through, forgotten wherever django-tenants forgets its own flag. django-tenants'
    # flag (search_path_set_schemas) is cleared by every tenant change, including the
    # switch to the public schema that resolving each request's tenant makes first.
    _session_search_path: list[str] | None = None
    search_path_set_schemas: list[str] | None  # django-tenants' flag: set, or to be set

    def set_tenant(self, tenant: Any, include_public: bool = True) -> None:
        super().set_tenant(tenant, include_public)
        if self._session_search_path and self._session_search_path == self._get_cursor_search_paths():
            self.search_path_set_schemas = self._session_search_path

    def _handle_search_path(self, cursor: Any = None) -> None:
        sends_set = not self._setting_search_path and not (
            get_limit_set_calls() and self.search_path_set_schemas
        )
        if sends_set:  # unknown until the SET's outcome is recorded, whatever interrupts it
            self._session_search_path = None
        super()._handle_search_path(cursor)
        if sends_set:  # what the SET left: its paths, or None when it failed
            self._session_search_path = self.search_path_set_schemas

    def search_path_forget(self) -> None:
        """The session's search_path was changed behind the backend (a raw `SET` or
        `SET LOCAL`): send the SET again before the next statement."""
        self.search_path_set_schemas = None
        self._session_search_path = None

    # Forgotten after the statement, not before: sending it takes a cursor, which must not
    # record the path the rollback is about to undo.
    def close(self) -> None:
        try:
            super().close()
        finally:
            self._session_search_path = None

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._session_search_path = None

    def savepoint_rollback(self, sid: str) -> None:
        try:
            super().savepoint_rollback(sid)
        finally:
            self._session_search_path = None

    def is_usable(self) -> bool:
        """What `SELECT 1` would answer, without sending it: whether the connection is open,
        not inside a failed transaction, and has nothing waiting to be read (a client that
        sent nothing is owed nothing: what waits is the server's farewell, or the end of
        the stream)."""
        raw = self.connection
        if raw is None or raw.closed or raw.broken:
            return False
        if raw.info.transaction_status in (
            TransactionStatus.ACTIVE,
            TransactionStatus.INERROR,
            TransactionStatus.UNKNOWN,
        ):
            return False
        try:
            poller = select.poll()
            poller.register(raw.fileno(), select.POLLIN | select.POLLPRI)
            return not poller.poll(0)
        except (OSError, ValueError, psycopg.Error):  # psycopg: the socket is gone
            return False
