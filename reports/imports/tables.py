"""The tables a load writes, locked for it; for an onboarding load (a city's history before
it goes live) taken for itself, their indexes and foreign keys dropped and built again
once after, as PostgreSQL's manual advises for populating a table."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db.backends.utils import CursorWrapper
from psycopg import sql

from civicpulse.core.sql import run

# The tables a bulk load takes for itself, in the order the live pipeline locks them.
BULK_TABLES = ("reports_report", "issues_issue")
_ADD_CONSTRAINT = "ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"
_ADD_FOREIGN_KEY = """ALTER TABLE {table} ADD CONSTRAINT {name} {definition} NOT VALID;
                      ALTER TABLE {table} VALIDATE CONSTRAINT {name}"""


def is_bulk(cursor: CursorWrapper, work: str) -> bool:
    """A file larger than the threshold and than the reports already loaded: onboarding
    a city's history, when no one is using the tenant yet."""
    run(cursor, "SELECT count(*) FROM {work}.staging", work=work)
    rows = cursor.fetchone()[0]
    # The planner's estimate, read from the catalogue: counting the table would take a
    # lock before the exclusive one below (and a lock upgrade invites deadlocks).
    run(cursor, "SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = %s::regclass", ["reports_report"])
    estimate = cursor.fetchone()[0]
    return bool(rows >= settings.IMPORT_BULK_MIN_ROWS and rows > estimate)


@contextmanager
def bulk_load(cursor: CursorWrapper, bulk: bool) -> Iterator[bool]:
    """PostgreSQL's advice for populating a table ("Populating a Database" in its
    manual): drop the indexes and foreign keys, load, build them again. One build is
    far cheaper than a million index insertions and deferred key checks. Unique
    indexes go too, as the rows to load are checked against them set-based first:
    source ids when the rows to load are chosen, tracking ids before reports are
    written; imported rows have no external id; primary keys are given by sequences.
    Only the keys other tables' foreign keys point at (the issues' primary key) stay.
    Both tables are locked first, before this transaction touches them, so the lock is
    never an upgrade and cannot deadlock; a failed import rolls the drops back with
    the rest.

    Otherwise the tables are still locked in the order the live pipeline takes them,
    so two imports, or an import and a worker, never wait for each other in a circle.
    """
    tables = sql.SQL(", ").join(map(sql.Identifier, BULK_TABLES))
    if not bulk:
        run(cursor, "LOCK TABLE {tables} IN ROW EXCLUSIVE MODE", tables=tables)
        yield False
        return
    run(cursor, "LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE", tables=tables)
    # Key checks this transaction deferred (rows written before the import began) must
    # run before the tables can be altered; every key here is deferred by default again after.
    run(cursor, "SET CONSTRAINTS ALL IMMEDIATE; SET CONSTRAINTS ALL DEFERRED")
    oids = [list(BULK_TABLES)]
    # Indexes of their own (a unique constraint's index goes with its constraint).
    run(
        cursor,
        """SELECT n.nspname, c.relname, pg_get_indexdef(i.indexrelid)
           FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
             AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)""",
        oids,
    )
    indexes: list[tuple[str, str, str]] = cursor.fetchall()
    # Primary keys and unique constraints no foreign key depends on, then foreign keys
    # (re-added last).
    run(
        cursor,
        """SELECT n.nspname, t.relname, k.conname, pg_get_constraintdef(k.oid), k.contype = 'f'
           FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
           WHERE k.conrelid = ANY(%s::regclass[]) AND (k.contype = 'f' OR (k.contype IN ('p', 'u') AND NOT EXISTS (
               SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = k.conindid)))
           ORDER BY k.contype = 'f', k.conname""",
        oids,
    )
    constraints: list[tuple[str, str, str, str, bool]] = cursor.fetchall()
    for schema, table, name, _, _ in reversed(constraints):
        run(
            cursor,
            "ALTER TABLE {table} DROP CONSTRAINT {name}",
            table=sql.Identifier(schema, table),
            name=sql.Identifier(name),
        )
    for schema, name, _ in indexes:
        run(cursor, "DROP INDEX {index}", index=sql.Identifier(schema, name))
    yield True
    # The definitions as PostgreSQL itself prints them.
    for _, _, definition in indexes:
        run(cursor, "{definition}", definition=sql.SQL(definition))
    for schema, table, name, definition, foreign in constraints:
        # A foreign key is added unchecked, then checked in one pass over the table
        # rather than per row.
        run(
            cursor,
            _ADD_FOREIGN_KEY if foreign else _ADD_CONSTRAINT,
            table=sql.Identifier(schema, table),
            name=sql.Identifier(name),
            definition=sql.SQL(definition),
        )
