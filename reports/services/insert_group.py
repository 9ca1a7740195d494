"""Reports submitted at the same moment in one web process, written by one INSERT (a
group commit; docs/performance.md, "Reports written together").

Under load, many of a web process's threads reach their report's INSERT at once, each
paying a statement, a round trip and a commit for one row. Here the first to arrive
writes, on its own connection, the rows of every thread of its tenant waiting behind it
in one multi-row INSERT, which commits all of them at once in autocommit; while it does,
the next arrivals queue, and the first of them writes the next group. A lone request
writes its row alone, as before, with no wait: nothing is held back to make a group.

Every waiting thread returns only once its row is committed (its 201 still means the
report is durable). If the group's statement fails (a duplicate external_id, a lost
connection), nothing of it was written, and every thread of the group writes its own
row again alone, so each gets the answer its own insert gets."""

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.db import DatabaseError, DataError, IntegrityError, connection

from civicpulse.core.tenancy import current_schema

# Rows one statement takes at most; the others wait for the next group. A process runs 16
# request threads by default (civicpulse/gunicorn_conf.py), so a group is seldom larger.
MAX_GROUP = 64


@dataclass(eq=False)
class _Row:
    params: Sequence[Any]
    written: threading.Event = field(default_factory=threading.Event)
    pk: int | None = None
    lead: bool = False  # this thread writes the next group
    refused: bool = False  # the database refused the group: nothing was written
    failed: BaseException | None = None  # the group's fate is unknown: the leader's error


class _Groups:
    """The rows waiting in this process, by tenant schema: a group is written on the
    connection of one of its threads, whose search_path is that schema."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, list[_Row]] = {}
        self._leading: set[str] = set()  # schemas whose group a thread is writing

    def insert(
        self, schema: str, params: Sequence[Any], write: Callable[[list[Sequence[Any]]], list[int]]
    ) -> int | None:
        """This row's id once it is committed, written with whatever rows of `schema`
        wait beside it; None when the database refused the group, so the row must be
        written alone. Raises the leader's error when the group's fate is unknown (the
        connection was lost): writing the rows again could store them twice."""
        row = _Row(params)
        with self._lock:
            self._waiting.setdefault(schema, []).append(row)
            # One writer per schema at a time: the rows arriving while it writes wait, and
            # make the next group.
            row.lead = schema not in self._leading
            self._leading.add(schema)
        if not row.lead:
            row.written.wait()
        if row.lead:
            self._lead(schema, row, write)
        if row.failed is not None:
            raise DatabaseError("the report's insert failed with the group it was written in") from row.failed
        return None if row.refused else row.pk

    def _lead(self, schema: str, row: _Row, write: Callable[[list[Sequence[Any]]], list[int]]) -> None:
        with self._lock:
            queue = self._waiting[schema]
            group, self._waiting[schema] = queue[:MAX_GROUP], queue[MAX_GROUP:]
        try:
            ids = write([r.params for r in group])
            for r, pk in zip(group, ids, strict=True):
                r.pk = pk
        except (IntegrityError, DataError):  # refused as a whole: no row of it is stored
            for r in group:
                r.refused = True
        except BaseException as exc:
            for r in group:
                if r is not row:  # the leader raises its own error as it is
                    r.failed = exc
            raise
        finally:
            with self._lock:
                rest = self._waiting[schema]
                successor = rest[0] if rest else None
                if successor is None:
                    del self._waiting[schema]
                    self._leading.discard(schema)
                else:
                    successor.lead = True  # and the schema stays led
            for r in group:
                r.written.set()
            if successor is not None:
                successor.written.set()


_groups = _Groups()


@cache
def _statement(prefix: str, placeholders: str, returning: str, rows: int) -> str:
    return f"{prefix} VALUES {', '.join([placeholders] * rows)} {returning}"


def rows_insert(*, prefix: str, placeholders: str, returning: str, params: Sequence[Any]) -> int | None:
    """Insert one row (`prefix` is `INSERT INTO t (cols)`, `placeholders` one row's
    `(%s, …)`, `returning` the `RETURNING pk` clause) with the rows other threads of this
    process insert into the same tenant's table at the same moment. Only for a connection
    in autocommit: the group's statement commits every row of it. Returns the row's id,
    or None when the group failed: the caller then writes the row alone."""

    def write(group: list[Sequence[Any]]) -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute(
                _statement(prefix, placeholders, returning, len(group)),
                [value for params in group for value in params],
            )
            # PostgreSQL returns the rows of an INSERT … VALUES in the order given (Django's
            # bulk_create relies on it too).
            return [pk for (pk,) in cursor.fetchall()]

    return _groups.insert(current_schema(), params, write)
