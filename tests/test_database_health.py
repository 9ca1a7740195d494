"""The health check of a connection kept between requests (CONN_HEALTH_CHECKS) looks at
its socket instead of sending `SELECT 1`: a connection the server ended is replaced
before the request uses it, and a healthy one is kept without a round trip. The socket
carries TCP keepalives, so a server that vanished without a word is found too."""

import os
import socket
import time
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.db import connection, connections

from civicpulse.core.database.base import DatabaseWrapper


@pytest.fixture
def kept(db) -> Iterator[DatabaseWrapper]:
    """A connection of its own, as a web thread keeps it from one request to the next."""
    conn = connections.create_connection("default")
    assert isinstance(conn, DatabaseWrapper)
    conn.set_schema_to_public()
    conn.ensure_connection()
    assert conn.health_check_enabled
    yield conn
    conn.close()


def _backend_pid(conn: DatabaseWrapper) -> int:
    with conn.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _next_request(conn: DatabaseWrapper) -> None:
    """What a kept connection goes through at its first use in the next request."""
    conn.health_check_done = False  # Django clears it when a request starts
    conn.close_if_health_check_failed()


def _last_statement(pid: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0]


def test_a_healthy_connection_is_kept_without_a_round_trip(kept) -> None:
    pid = _backend_pid(kept)
    _next_request(kept)
    assert kept.connection is not None
    assert _last_statement(pid) == "SELECT pg_backend_pid()"  # no SELECT 1 was sent
    assert _backend_pid(kept) == pid


def test_a_connection_the_server_ended_is_replaced_before_use(kept) -> None:
    pid = _backend_pid(kept)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + 10  # until the server's farewell has reached the socket
    while kept.is_usable() and time.monotonic() < deadline:
        time.sleep(0.05)
    _next_request(kept)
    assert kept.connection is None  # closed by the check, not by a failing statement
    assert _backend_pid(kept) != pid


def test_a_connection_inside_a_failed_transaction_is_not_usable(kept) -> None:
    from django.db import DatabaseError

    kept.set_autocommit(False)
    with pytest.raises(DatabaseError), kept.cursor() as cursor:
        cursor.execute("SELECT 1 / 0")
    assert not kept.is_usable()  # as SELECT 1 would have failed here
    kept.rollback()
    assert kept.is_usable()
    kept.set_autocommit(True)


def test_a_connection_gives_up_on_a_server_that_stops_answering(kept: DatabaseWrapper) -> None:
    """The socket libpq opened carries TCP keepalives and a user timeout (settings), so a
    server that vanished without a word fails its connection within about a minute
    instead of leaving a request, a task or a group's writer waiting on it."""
    assert kept.connection is not None
    options = settings.DATABASES["default"]["OPTIONS"]  # the project's, or DATABASE_URL's
    with socket.socket(fileno=os.dup(kept.connection.pgconn.socket)) as sock:
        if sock.family == socket.AF_UNIX:
            pytest.skip("a Unix socket has no TCP options")
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == int(options["keepalives"]) == 1
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == int(options["keepalives_idle"])
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == int(
            options["keepalives_interval"]
        )
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == int(options["keepalives_count"])
        timeout = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT)
        assert timeout == int(options["tcp_user_timeout"]) > 0
