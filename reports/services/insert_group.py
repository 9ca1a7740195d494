"""Reports submitted at the same moment in one web process, written by one INSERT (a
group commit; docs/performance.md, "Reports written together").

Under load, many of a web process's threads reach their report's INSERT at once, each
paying a statement, a round trip and a commit for one row. Here the first to arrive
writes, on its own connection, the rows of every thread of its tenant waiting behind it
in one multi-row INSERT, which commits all of them at once in autocommit; while it does,
the next arrivals queue, and the first of them writes the next group. A lone request
writes its row alone, as before, with no wait: nothing is held back to make a group.

Every waiting thread returns only once its row is committed (its 201 still means the
report is durable), with the id of its own row, matched by a unique key the row carries
(not by the order rows come back in). What happens when the group's statement fails
depends on what is known of it:
- the database answered with an error (a duplicate external_id, a deadlock, a timeout):
  in autocommit nothing of the statement was stored, and each thread writes its row
  again alone, so each gets the answer its own insert gets;
- the connection was lost (no answer, or a connection error): whether it committed is
  unknown, so no row is written again, which could store a report twice; every thread of
  the group gets the error, as a lone insert's loss gives its request;
- a value could not be quoted (a NUL in text): nothing was sent, and the group is
  refused as the database refuses one.
A writer that hangs (a socket that never answers) holds back its own group only: a row
still waiting after QUEUE_WAIT_SECONDS writes the queue in its place."""

import threading
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, InterfaceError, OperationalError, connection

from civicpulse.core.inserts import InsertStatement, statement_sql
from civicpulse.core.tenancy import current_schema

# Rows one statement takes at most; the others wait for the next group. A process runs 16
# request threads by default (civicpulse/gunicorn_conf.py), so a group is seldom larger.
MAX_GROUP = 64
# How long a row waits in the queue for a writer: a writer at it longer than this (a
# socket that never answers) is left to its own group, and a waiting row writes the queue.
QUEUE_WAIT_SECONDS = 10.0
# SQLSTATE classes saying the connection, not the statement, failed: connection
# exceptions and operator intervention (shutdown, termination).
_CONNECTION_LOST = ("08", "57P")

Write = Callable[[list[Sequence[Any]]], list[tuple[int, Any]]]


@dataclass(eq=False)
class _Row:
    params: Sequence[Any]
    key: Any  # the value of the unique column RETURNING gives back beside the id
    written: threading.Event = field(default_factory=threading.Event)
    pk: int | None = None
    lead: bool = False  # this thread writes the next group
    refused: bool = False  # the database refused the group: nothing of it was stored
    failed: BaseException | None = None  # the group's fate is unknown: the writer's error


def _fate_unknown(exc: BaseException) -> bool:
    """Whether the statement may have committed: the server's answer says the connection
    failed, or no answer came on a connection that is lost or unusable (anything but a
    database error counts so too, as the ids' matching after the statement). Any other
    answer of the server is a refusal, and so is a value the client could not send: in
    autocommit, nothing of the statement was stored."""
    if not isinstance(exc, DatabaseError):
        return True
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    if sqlstate:
        return sqlstate.startswith(_CONNECTION_LOST)
    return isinstance(exc, OperationalError | InterfaceError)


class _Groups:
    """The rows waiting in this process, by tenant schema and statement: a group is
    written on the connection of one of its threads, whose search_path is that schema."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[Hashable, list[_Row]] = {}
        # The row whose thread writes each key's groups now, and since when.
        self._leading: dict[Hashable, tuple[_Row, float]] = {}

    def insert(self, group_key: Hashable, row: _Row, write: Write) -> int | None:
        """The row's id once it is committed, written with whatever rows of the same key
        wait beside it; None when it must be written alone (the database refused its
        group). Raises the writer's error when the group's fate is unknown."""
        with self._lock:
            self._waiting.setdefault(group_key, []).append(row)
            # One writer per key at a time: the rows arriving while it writes wait, and
            # make the next group.
            row.lead = group_key not in self._leading
            if row.lead:
                self._leading[group_key] = (row, time.monotonic())
        led = False
        try:
            while not row.lead and not row.written.wait(QUEUE_WAIT_SECONDS):
                with self._lock:
                    self._take_over_a_stuck_writer(group_key, row)
            if row.lead:
                led = True
                self._lead(group_key, row, write)
        finally:
            if not led:
                successor = None
                with self._lock:
                    # Leaving without writing what it was given to write (an exception in
                    # the wait): the next row leads. (A row a writer took already is
                    # written all the same, as an interrupted lone insert may be.)
                    self._unqueue(group_key, row)
                    if row.lead:
                        successor = self._hand_on(group_key, row)
                if successor is not None:
                    successor.written.set()
        if row.failed is not None:
            failed = row.failed
            raise (
                type(failed)(*failed.args) if isinstance(failed, DatabaseError) else DatabaseError()
            ) from failed
        return None if row.refused else row.pk

    def _take_over_a_stuck_writer(self, group_key: Hashable, row: _Row) -> None:
        """A row still queued when the writer has been at it longer than the wait (a
        socket that never answers) writes the queue itself, so the stuck writer holds back
        its own group only (called with the lock held)."""
        leader = self._leading.get(group_key)
        queued = row in self._waiting.get(group_key, [])
        if (
            not row.lead
            and queued
            and leader is not None
            and time.monotonic() - leader[1] >= QUEUE_WAIT_SECONDS
        ):
            row.lead = True
            self._leading[group_key] = (row, time.monotonic())

    def _unqueue(self, group_key: Hashable, row: _Row) -> None:
        queue = self._waiting.get(group_key, [])
        if row in queue:
            queue.remove(row)

    def _hand_on(self, group_key: Hashable, row: _Row) -> _Row | None:
        """After `row`'s writing, the next waiting row leads; none: the key is free.
        Nothing when another row took the writing over meanwhile (called with the lock
        held)."""
        leader = self._leading.get(group_key)
        if leader is None or leader[0] is not row:
            return None
        queue = self._waiting.get(group_key)
        if queue:
            queue[0].lead = True
            self._leading[group_key] = (queue[0], time.monotonic())
            return queue[0]
        self._waiting.pop(group_key, None)
        del self._leading[group_key]
        return None

    def _lead(self, group_key: Hashable, row: _Row, write: Write) -> None:
        with self._lock:
            queue = self._waiting[group_key]
            group, self._waiting[group_key] = queue[:MAX_GROUP], queue[MAX_GROUP:]
        try:
            ids = {key: pk for pk, key in write([r.params for r in group])}
            for r in group:
                r.pk = ids[r.key]
        except BaseException as exc:
            if len(group) == 1 or _fate_unknown(exc):
                for r in group:
                    if r is not row:
                        r.failed = exc
                raise  # the writer's own error, as it is
            for r in group:
                r.refused = True
        finally:
            with self._lock:
                successor = self._hand_on(group_key, row)
            for r in group:
                if r is not row:
                    r.written.set()
            if successor is not None:
                successor.written.set()


_groups = _Groups()


def row_insert(*, statement: InsertStatement, params: Sequence[Any], key: Any) -> int:
    """Insert one row and return its id. `key` is the row's value of the unique column
    `statement` returns beside the id. In autocommit the row goes with the rows other
    threads of this process insert with the same statement into the same tenant's table
    at the same moment, and the group's statement commits every row of it; when the
    database refused the group, which stored nothing, or inside a transaction, the row is
    written alone. Raises the error of a lone row's insert, and of a group whose fate is
    unknown (the connection was lost under it)."""

    def write(group: list[Sequence[Any]]) -> list[tuple[int, Any]]:
        with connection.cursor() as cursor:
            # Handed no parameters, psycopg sends the SQL as it is. (With the database's
            # server_side_binding option on, these values go inline all the same.)
            cursor.execute(statement_sql(statement, group, cursor))
            return cursor.fetchall()

    if connection.get_autocommit():
        pk = _groups.insert((current_schema(), statement), _Row(params, key), write)
        if pk is not None:
            return pk
    return write([params])[0][0]
