"""The one way set-based SQL (bulk loads) is written: psycopg's composition. The work
schema (and any other schema or table name) is an `Identifier`, quoted, as tenant schemas
and the work schemas named after them may hold a hyphen; a fragment of SQL is a
`Composable`; a value is a parameter of the statement, never text pasted into it.
Literal braces in a template are doubled, as in `str.format`; `%` is doubled in a
statement that takes parameters."""

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, TypeAlias

import psycopg
from django.db.backends.utils import CursorWrapper
from psycopg import sql

Params: TypeAlias = Mapping[str, Any] | Sequence[Any] | None


def compose(template: str, *, work: str | None = None, **parts: sql.Composable) -> sql.Composed:
    """`template` with `{work}` the work schema's name and every other `{name}` its part."""
    if work is not None:
        parts["work"] = sql.Identifier(work)
    return sql.SQL(template).format(**parts)


def run(
    cursor: CursorWrapper,
    template: str,
    params: Params = None,
    *,
    work: str | None = None,
    **parts: sql.Composable,
) -> None:
    """Execute the composed statement (several, `;`-separated, are allowed)."""
    cursor.execute(compose(template, work=work, **parts).as_string(cursor.connection), params)


def run_many(
    cursor: CursorWrapper,
    template: str,
    rows: Sequence[Sequence[Any]],
    *,
    work: str | None = None,
    **parts: sql.Composable,
) -> None:
    """Execute the composed statement once per row of parameters."""
    cursor.executemany(compose(template, work=work, **parts).as_string(cursor.connection), rows)


def copy(
    cursor: CursorWrapper,
    template: str,
    *,
    work: str | None = None,
    **parts: sql.Composable,
) -> AbstractContextManager[psycopg.Copy]:
    """A COPY ... FROM STDIN through the connection the cursor's search_path is set on."""
    raw: psycopg.Cursor[Any] = cursor.cursor
    return raw.copy(compose(template, work=work, **parts))
