"""Clone the migrated template schema into a new tenant's schema.

Every query here reads pg_catalog filtered by the template's namespace oid, so the cost
stays flat as tenants (and so catalog rows) multiply; the information_schema views a
generic clone function walks get slower with every schema added.

What is copied: tables with their columns, defaults, identity, NOT NULL and CHECK
constraints; primary, unique and exclusion keys, foreign keys and indexes under their
original names (later migrations drop and rename them by name); views; and every row
(migration history, content types, permissions), with identity sequences moved past the
copied ids. Tenant migrations create nothing else; the test suite compares a clone with
a freshly migrated schema to keep it that way.
"""

from django.db.backends.utils import CursorWrapper
from psycopg import sql

from civicpulse.core.tenancy import tenant_connection


def _restore_index_names(cursor: CursorWrapper, run, src: int, target: str) -> None:
    """Give the copied indexes (and so their primary/unique constraints) the template's
    names: migrations drop and rename them by name. LIKE copies a table's indexes in oid
    order, so the n-th index of a copied table is the n-th of its template table."""
    cursor.execute(
        """
        SELECT t.relname, array_agg(i.relname ORDER BY i.oid)
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
        WHERE t.relnamespace = %s GROUP BY t.relname
        """,
        [src],
    )
    wanted = dict(cursor.fetchall())
    cursor.execute(
        """
        SELECT t.relname, array_agg(i.relname ORDER BY i.oid)
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
        WHERE t.relnamespace = %s::regnamespace GROUP BY t.relname
        """,
        [sql.Identifier(target).as_string(cursor.connection)],
    )
    renames = [
        (have, want)
        for table, names in cursor.fetchall()
        for have, want in zip(names, wanted.get(table, []), strict=True)
        if have != want
    ]
    new = sql.Identifier(target)
    # Two steps, so a generated name that happens to be another index's wanted name
    # never collides.
    for n, (have, _) in enumerate(renames):
        run(
            sql.SQL("ALTER INDEX {}.{} RENAME TO {}").format(
                new, sql.Identifier(have), sql.Identifier(f"_clone_{n}")
            )
        )
    for n, (_, want) in enumerate(renames):
        run(
            sql.SQL("ALTER INDEX {}.{} RENAME TO {}").format(
                new, sql.Identifier(f"_clone_{n}"), sql.Identifier(want)
            )
        )


def clone_schema(cursor: CursorWrapper, template: str, target: str) -> None:
    """Create `target` as a copy of `template`, inside the caller's transaction."""
    conn = cursor.connection

    def run(statement: sql.Composable, params: list | None = None) -> None:
        cursor.execute(statement.as_string(conn), params)

    cursor.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", [template])
    row = cursor.fetchone()
    if row is None:
        raise ValueError(f"template schema {template!r} does not exist")
    src = row[0]
    tpl, new = sql.Identifier(template), sql.Identifier(target)

    cursor.execute(
        "SELECT relname FROM pg_class WHERE relnamespace = %s AND relkind IN ('r', 'p') ORDER BY oid",
        [src],
    )
    tables = [r[0] for r in cursor.fetchall()]

    # Foreign keys and views are printed with the template first on the search path, so
    # references to its own tables come out unqualified and resolve to the new schema's
    # tables when replayed there; references elsewhere (public) stay as they were.
    run(sql.SQL("SET LOCAL search_path = {}, public").format(tpl))
    cursor.execute(
        """
        SELECT c.relname, con.conname, pg_get_constraintdef(con.oid)
        FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
        WHERE c.relnamespace = %s AND con.contype = 'f'
        ORDER BY con.oid
        """,
        [src],
    )
    foreign_keys = cursor.fetchall()
    cursor.execute(
        "SELECT relname, pg_get_viewdef(oid) FROM pg_class WHERE relnamespace = %s AND relkind = 'v' ORDER BY oid",
        [src],
    )
    views = cursor.fetchall()
    cursor.execute(
        """
        SELECT c.relname, a.attname
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        WHERE c.relnamespace = %s AND a.attidentity <> '' AND NOT a.attisdropped
        """,
        [src],
    )
    identities = cursor.fetchall()

    run(sql.SQL("CREATE SCHEMA {}").format(new))
    for table in tables:
        # LIKE copies index definitions structurally (no print-and-parse round trip, which
        # can rewrite an expression), but under generated names: renamed below.
        run(
            sql.SQL("CREATE TABLE {}.{} (LIKE {}.{} INCLUDING ALL)").format(
                new, sql.Identifier(table), tpl, sql.Identifier(table)
            )
        )
        # Every column but generated ones, which PostgreSQL computes (and refuses values for).
        cursor.execute(
            """
            SELECT array_agg(a.attname ORDER BY a.attnum) FROM pg_attribute a
            WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
            """,
            [sql.Identifier(template, table).as_string(conn)],
        )
        columns = sql.SQL(", ").join(map(sql.Identifier, cursor.fetchone()[0]))
        run(
            sql.SQL("INSERT INTO {}.{} ({}) SELECT {} FROM {}.{}").format(
                new, sql.Identifier(table), columns, columns, tpl, sql.Identifier(table)
            )
        )
    _restore_index_names(cursor, run, src, target)

    run(sql.SQL("SET LOCAL search_path = {}, public").format(new))
    for table, name, definition in foreign_keys:
        run(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(sql.Identifier(table), sql.Identifier(name))
            + sql.SQL(definition)
        )
    for name, definition in views:
        run(sql.SQL("CREATE VIEW {} AS ").format(sql.Identifier(name)) + sql.SQL(definition))
    for table, column in identities:
        qualified = sql.SQL("{}.{}").format(new, sql.Identifier(table)).as_string(conn)
        run(
            sql.SQL(
                "SELECT setval(pg_get_serial_sequence(%s, %s), COALESCE(MAX({}), 0) + 1, false) FROM {}"
            ).format(sql.Identifier(column), sql.Identifier(table)),
            [qualified, column],
        )
    run(sql.SQL("SET LOCAL search_path = public"))
    # Set by hand, behind the backend: the next statement through Django sets the
    # tenant's path again instead of trusting the one it remembers.
    tenant_connection().search_path_forget()
