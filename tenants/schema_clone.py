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

    # Definitions are printed with the template first on the search path, so references
    # to its own objects come out unqualified and resolve to the new schema's objects when
    # replayed there; references elsewhere (public) stay as they were.
    run(sql.SQL("SET LOCAL search_path = {}, public").format(tpl))
    cursor.execute(
        """
        SELECT c.relname, con.conname, con.contype, pg_get_constraintdef(con.oid)
        FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
        WHERE c.relnamespace = %s AND con.contype IN ('p', 'u', 'x', 'f')
        -- keys before the foreign keys that need them
        ORDER BY con.contype = 'f', con.oid
        """,
        [src],
    )
    constraints = cursor.fetchall()
    # pg_get_indexdef always names the table with its schema: swap that one for the new.
    cursor.execute(
        """
        SELECT replace(pg_get_indexdef(i.indexrelid), ' ON ' || quote_ident(%s) || '.',
                       ' ON ' || quote_ident(%s) || '.')
        FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
        WHERE c.relnamespace = %s
          AND NOT EXISTS (SELECT 1 FROM pg_constraint con WHERE con.conindid = i.indexrelid
                          AND con.contype IN ('p', 'u', 'x'))
        ORDER BY i.indexrelid
        """,
        [template, target, src],
    )
    indexes = [r[0] for r in cursor.fetchall()]
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
        run(
            sql.SQL(
                "CREATE TABLE {}.{} (LIKE {}.{} INCLUDING DEFAULTS INCLUDING IDENTITY "
                "INCLUDING GENERATED INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS)"
            ).format(new, sql.Identifier(table), tpl, sql.Identifier(table))
        )
        # Copy rows before indexes exist: cheaper, and the same result.
        run(
            sql.SQL("INSERT INTO {}.{} SELECT * FROM {}.{}").format(
                new, sql.Identifier(table), tpl, sql.Identifier(table)
            )
        )

    run(sql.SQL("SET LOCAL search_path = {}, public").format(new))
    for table, name, _kind, definition in constraints:
        run(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(sql.Identifier(table), sql.Identifier(name))
            + sql.SQL(definition)
        )
    for definition in indexes:
        run(sql.SQL(definition))
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
