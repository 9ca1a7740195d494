"""A tenant cloned from the template is the same, object for object, as one migrated from
scratch; so skipping the migrations at provisioning time loses nothing."""

import pytest
from django.core.management import call_command
from django.db import connection
from psycopg import sql

from tenants.schema_clone import clone_schema

CATALOG = {
    "columns": """
        SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               a.attidentity, pg_get_expr(d.adbin, d.adrelid)
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relnamespace = %(ns)s::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
    """,
    "constraints": """
        SELECT c.relname, con.conname, pg_get_constraintdef(con.oid)
        FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
        WHERE c.relnamespace = %(ns)s::regnamespace
    """,
    "indexes": """
        SELECT ic.relname, replace(pg_get_indexdef(i.indexrelid), quote_ident(%(ns)s) || '.', '')
        FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
        WHERE ic.relnamespace = %(ns)s::regnamespace
    """,
    "relations": "SELECT relname, relkind FROM pg_class WHERE relnamespace = %(ns)s::regnamespace",
    "migrations": "SELECT app, name FROM django_migrations",
}


def _describe(schema: str) -> dict[str, set[tuple]]:
    described = {}
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("SET LOCAL search_path = {}, public")
            .format(sql.Identifier(schema))
            .as_string(cursor.connection)
        )
        for name, query in CATALOG.items():
            cursor.execute(query, {"ns": schema})
            described[name] = set(cursor.fetchall())
        cursor.execute("SET LOCAL search_path = public")
    return described


@pytest.mark.slow
def test_clone_matches_a_freshly_migrated_schema(public_schema) -> None:
    with connection.cursor() as cursor:
        cursor.execute('CREATE SCHEMA "fresh-migrated"')
    call_command("migrate_schemas", schema_name="fresh-migrated", interactive=False, verbosity=0)
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        clone_schema(cursor, "tenant_template", "fresh-clone")
    connection.set_schema_to_public()

    migrated, cloned = _describe("fresh-migrated"), _describe("fresh-clone")
    assert len(migrated["relations"]) > 30 and len(migrated["migrations"]) > 20
    for part in CATALOG:
        assert cloned[part] == migrated[part], part


def test_clone_copies_rows_and_moves_identity_past_them(public_schema) -> None:
    with connection.cursor() as cursor:
        clone_schema(cursor, "tenant_template", "row-clone")
        cursor.execute('SELECT count(*), max(id) FROM "row-clone".django_content_type')
        count, max_id = cursor.fetchone()
        assert count > 10
        cursor.execute(
            'INSERT INTO "row-clone".django_content_type (app_label, model) VALUES (%s, %s) RETURNING id',
            ["probe", "probe"],
        )
        assert cursor.fetchone()[0] == max_id + 1
