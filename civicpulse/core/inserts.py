"""New rows of a model written by an INSERT whose text is built once per model and row
count, the rows' values quoted into it by psycopg's own adapters: what its client-side
binding sends, without the work around it.

Django's insert compiler rebuilds the statement at every save() and bulk_create(), and
psycopg parses the placeholders of a statement again at every execution once it has more
than 50 parameters or 4,096 bytes (it keeps the parse of smaller ones only). For a
report's 42 columns, or a batch's issues at 20 each, that was most of the insert's CPU
(docs/performance.md, "Values quoted into a template built once" and "The workers freeze
what they loaded")."""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import psycopg
from django.db import DataError, connection, models, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models.fields import Field
from psycopg.adapt import Transformer

# Rows one statement of objects_insert takes at most: its text grows with them.
MAX_ROWS = 500


@dataclass(frozen=True)
class InsertStatement:
    """An INSERT of one table's rows: `prefix` is `INSERT INTO t (cols)`, `placeholders`
    one row's `(%s, …)`, `returning` its `RETURNING` clause."""

    prefix: str
    placeholders: str
    returning: str


@dataclass(frozen=True)
class ModelInsert:
    """The INSERT of a model's new rows and the fields it writes, in the statement's
    order: every concrete field but the generated id, which comes back first."""

    statement: InsertStatement
    fields: tuple[Field, ...]


@cache
def model_insert(model: type[models.Model], also_returned: str = "") -> ModelInsert | None:
    """The INSERT of `model`'s new rows as Django's insert compiler would build it,
    returning the id and, when named, the column of field `also_returned`. None when the
    model has something only Django's own insert writes right: a parent model, an order
    kept with respect to another, a field whose value goes in SQL of its own (ranges,
    geometries), or a value the database makes (generated, or a db_default with no Python
    default) that the instance would have to read back. (A save() of its own is for the
    caller replacing save() to heed, as reports.services.intake does: bulk_create never
    calls it.)"""
    meta = model._meta
    auto = meta.auto_field
    if (
        meta.parents
        or meta.order_with_respect_to
        or auto is None
        or not all(_plain_placeholder(f) for f in meta.local_concrete_fields)
        or any(f is not meta.pk and not f.has_default() for f in meta.db_returning_fields)
    ):
        return None
    fields = tuple(f for f in meta.local_concrete_fields if f is not auto)
    quote = connection.ops.quote_name
    returned = [quote(auto.column)]
    if also_returned:
        field = meta.get_field(also_returned)
        if not isinstance(field, Field) or not field.column:
            raise ValueError(f"{also_returned} is not a column of {meta.label}")
        returned.append(quote(field.column))
    return ModelInsert(
        statement=InsertStatement(
            prefix=f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)})",
            placeholders=f"({', '.join(['%s'] * len(fields))})",
            returning=f"RETURNING {', '.join(returned)}",
        ),
        fields=fields,
    )


def _plain_placeholder(field: Field) -> bool:
    """Whether the insert compiler writes the field's value as a plain `%s`: a field with
    no placeholder of its own, or bytes where the database takes them so (PostgreSQL)."""
    if not hasattr(field, "get_placeholder"):
        return True
    return isinstance(field, models.BinaryField) and connection.ops.binary_placeholder_sql(None) == "%s"


def insert_values(insert: ModelInsert, obj: models.Model, *, operation: str) -> list[Any] | None:
    """The values `obj`'s new row is written with, as `operation` (save or bulk_create)
    prepares them: related objects saved since they were set give their ids (an unsaved
    one raises, naming the operation), and pre_save stamps an auto_now field. None when a
    value is an SQL expression, which only Django's own insert writes."""
    obj._prepare_related_fields_for_save(operation_name=operation)  # type: ignore[attr-defined]
    values = [f.pre_save(obj, True) for f in insert.fields]
    if any(hasattr(value, "resolve_expression") for value in values):
        return None
    return [f.get_db_prep_save(value, connection) for f, value in zip(insert.fields, values, strict=True)]


def inserted(obj: models.Model, pk: int) -> None:
    """Mark `obj` as the row just written with id `pk`, as save() leaves it."""
    obj.pk = pk
    obj._state.adding = False
    obj._state.db = connection.alias


@cache
def _template(statement: InsertStatement, rows: int) -> bytes:
    """The statement for `rows` rows, whose `%s` the rows' values fill once quoted."""
    sql = f"{statement.prefix} VALUES {', '.join([statement.placeholders] * rows)} {statement.returning}"
    return sql.encode()  # Django connects in UTF8


def statement_sql(statement: InsertStatement, rows: Sequence[Sequence[Any]], cursor: CursorWrapper) -> str:
    """The SQL writing `rows`, their values quoted by psycopg's own adapters with the
    cursor's configuration: what psycopg's client-side binding would send. Execute it with
    no parameters. Raises DataError for a value that cannot be sent (a NUL in text, text
    UTF8 cannot carry), before anything is sent."""
    quote = Transformer.from_context(cursor.cursor).as_literal
    try:
        values = tuple(b"NULL" if value is None else quote(value) for row in rows for value in row)
    except (psycopg.DataError, UnicodeError) as exc:
        raise DataError(str(exc)) from exc
    return (_template(statement, len(rows)) % values).decode()


def objects_insert(objs: Sequence[models.Model]) -> None:
    """`bulk_create(objs)` for new objects of one model, by statements built once: each
    object gets its id. Goes through bulk_create when the model or a value needs it
    (model_insert, insert_values), or an object has its id already."""
    if not objs:
        return
    model = type(objs[0])
    insert = model_insert(model)
    if insert is None or any(type(obj) is not model or obj.pk is not None for obj in objs):
        model._default_manager.bulk_create(objs)
        return
    # An event refers to an issue the batch wrote just before it: its id is taken here.
    rows = [insert_values(insert, obj, operation="bulk_create") for obj in objs]
    if any(row is None for row in rows):
        model._default_manager.bulk_create(objs)
        return
    # All of it or nothing, as bulk_create: in autocommit, each statement would commit alone.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        for start in range(0, len(objs), MAX_ROWS):
            chunk = rows[start : start + MAX_ROWS]
            cursor.execute(statement_sql(insert.statement, chunk, cursor))  # type: ignore[arg-type]
            # PostgreSQL returns an INSERT's rows in the order of its VALUES, as
            # bulk_create relies on too.
            for obj, (pk,) in zip(objs[start : start + MAX_ROWS], cursor.fetchall(), strict=True):
                inserted(obj, pk)
