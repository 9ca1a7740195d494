"""Open and finished statuses as SQL statements spell them, rendered from the one
definition in `issues.models`, so a Python filter and a SQL statement can never
disagree on what is open."""

from collections.abc import Iterable

from psycopg import sql

from issues.models import FINISHED_STATUSES, OPEN_STATUSES


def sql_string_list(values: Iterable[str]) -> str:
    """`('a', 'b')`: a parenthesised list of SQL string literals, for `IN` in a statement."""
    return "(" + ", ".join("'" + str(value).replace("'", "''") + "'" for value in values) + ")"


def sql_literal_list(values: Iterable[str]) -> sql.Composed:
    """The same list for statements composed with psycopg's `sql` module."""
    return sql.Composed([sql.SQL("("), sql.SQL(", ").join(sql.Literal(str(v)) for v in values), sql.SQL(")")])


OPEN_STATUSES_SQL = sql_string_list(OPEN_STATUSES)
FINISHED_STATUSES_SQL = sql_string_list(FINISHED_STATUSES)
