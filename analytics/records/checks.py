"""Checking staged record rows, set-based: each field parsed by its kind, the reason a
row cannot be loaded if any, its source id (or a hash of its fields) and the hash that
tells a correction from a repeat. Parsing is plain SQL (functions in the work schema that
PostgreSQL inlines, and the date expression written out): anything unreadable is NULL (the row is rejected with the value quoted), never an error
that would end the whole import."""

from django.db.backends.utils import CursorWrapper
from django.utils import timezone
from psycopg import sql

from analytics.records.datasets import ADDRESS_FIELDS, DatasetSpec
from analytics.records.formats import Fields
from civicpulse.core.sql import compose, run

_FUNCTIONS = r"""
CREATE FUNCTION {work}.rec_int(v text) RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN v ~ '^[-+]?[0-9]{1,9}(\.0+)?$' THEN split_part(v, '.', 1)::integer END
$$;
-- One expression, no FROM: PostgreSQL inlines it (so each is; a function it cannot
-- inline costs a hundred times more per row).
CREATE FUNCTION {work}.rec_number(v text) RETURNS numeric LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN regexp_replace(v, '[$,[:space:]]', '', 'g') ~ '^-?[0-9]{1,12}(\.[0-9]{1,6})?$'
            THEN round(regexp_replace(v, '[$,[:space:]]', '', 'g')::numeric, 2) END
$$;
CREATE FUNCTION {work}.rec_bool(v text) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN lower(v) IN ('true', 't', 'yes', 'y', '1') THEN true
            WHEN lower(v) IN ('false', 'f', 'no', 'n', '0') THEN false END
$$;
-- analytics.records.pins.pin_normalise, the same rule.
CREATE FUNCTION {work}.rec_pin(v text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT CASE WHEN btrim(v) ~ '^[0-9]+(-[0-9]+)*$' THEN
    CASE length(replace(btrim(v), '-', '')) WHEN 14 THEN replace(btrim(v), '-', '')
                                            WHEN 10 THEN replace(btrim(v), '-', '') || '0000' END END
$$;
CREATE FUNCTION {work}.rec_pins(v text) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
SELECT COALESCE(array_agg(DISTINCT {work}.rec_pin(x)) FILTER (WHERE {work}.rec_pin(x) IS NOT NULL), '{}')
FROM unnest(regexp_split_to_array(v, '[|,;[:space:]]+')) AS x
$$
"""
# Braces of the regular expressions doubled for composition; `{work}` kept.
_FUNCTIONS = _FUNCTIONS.replace("{", "{{").replace("}", "}}").replace("{{work}}", "{work}")
_NUMBER = r"^[-+]?[0-9]{1,3}(\.[0-9]+)?$"
_PARSE = {
    "int": "{work}.rec_int({v})",
    "number": "{work}.rec_number({v})",
    "bool": "{work}.rec_bool({v})",
    "pin": "{work}.rec_pin({v})",
    "pins": "{work}.rec_pins({v})",
}

# Three layers: the format's fields as text; then parsed, with the row's hash; then the
# reason and the source id (the row's hash when the format has no id).
_ROWS = """
CREATE UNLOGGED TABLE {work}.rows AS
SELECT p.*, {derived} {source_id} AS source_id, CASE {reasons} END AS reason
FROM (
    SELECT f.line, f.problem, f.source_text, {texts}, {parsed},
           CASE WHEN f.latitude ~ {number} THEN f.latitude::float8 END AS lat,
           CASE WHEN f.longitude ~ {number} THEN f.longitude::float8 END AS lon,
           md5(concat_ws(chr(31), {hashed})) AS row_hash
    FROM (SELECT s.line, s.problem, {fields} FROM {work}.staging s) f
    -- Not folded into the outer query, which reads each parsed value several times:
    -- each is computed once.
    OFFSET 0
) p
"""


def date_sql(v: sql.Composable) -> sql.Composable:
    """A date from text: `MM/DD/YYYY` or `M/D/YY` (optionally with a time after it, as the
    portal's CSV writes dates) or ISO 8601 (the portal's API); NULL for anything else or a
    day the month lacks. Two-digit years are 20YY up to next year, 19YY before. Written
    out inline rather than as a function: PostgreSQL cannot inline a function this
    size, and calling one costs a hundred times more per row."""
    cutoff = timezone.localdate().year % 100 + 1

    def valid(y: str, m: str, d: str) -> str:
        last = (
            f"CASE WHEN {m} IN (4, 6, 9, 11) THEN 30 WHEN {m} = 2 THEN CASE WHEN {y} % 4 = 0"
            f" AND ({y} % 100 <> 0 OR {y} % 400 = 0) THEN 29 ELSE 28 END ELSE 31 END"
        )
        return f"CASE WHEN {y} >= 1 AND {m} BETWEEN 1 AND 12 AND {d} BETWEEN 1 AND {last} THEN make_date({y}, {m}, {d}) END"

    year = "split_part(split_part({v}, '/', 3), ' ', 1)"
    us_year = (
        f"CASE WHEN length({year}) = 4 THEN {year}::int WHEN {year}::int <= {cutoff} THEN 2000 + {year}::int"
        f" ELSE 1900 + {year}::int END"
    )
    template = (
        "CASE WHEN {v} ~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}([T ]|$)' THEN "
        + valid("substr({v}, 1, 4)::int", "substr({v}, 6, 2)::int", "substr({v}, 9, 2)::int")
        + " WHEN {v} ~ '^[0-9]{{1,2}}/[0-9]{{1,2}}/([0-9]{{4}}|[0-9]{{2}})( |$)' THEN "
        + valid(f"({us_year})", "split_part({v}, '/', 1)::int", "split_part({v}, '/', 2)::int")
        + " END"
    )
    return compose(template, v=v)


def functions_create(cursor: CursorWrapper, work: str) -> None:
    run(cursor, _FUNCTIONS, work=work)


def _id(name: str) -> sql.Identifier:
    return sql.Identifier(name)


def rows_check(cursor: CursorWrapper, work: str, spec: DatasetSpec, fields: Fields, *, has_id: bool) -> None:
    """`{work}.rows`: every staged row with its text fields (`<name>`), parsed ones
    (`<name>_v`), point (`lat`, `lon`), `source_id`, `row_hash` and `reason`."""
    names = [f.name for f in spec.fields]
    texts = [*names, *ADDRESS_FIELDS]
    typed = [f for f in spec.fields if f.kind != "text"]
    reasons: list[sql.Composable] = [
        sql.SQL("WHEN p.problem IS NOT NULL THEN p.problem"),
    ]
    if has_id:
        reasons.append(sql.SQL("WHEN p.source_text = '' THEN 'no source id'"))
        reasons.append(
            sql.SQL("WHEN length(p.source_text) > 100 THEN 'source id longer than 100 characters'")
        )
    for f in spec.fields:
        if f.required:
            reasons.append(
                compose(
                    "WHEN p.{n} = '' THEN {why}",
                    n=_id(f.name),
                    why=sql.Literal(f"no {f.name.replace('_', ' ')}"),
                )
            )
    for f in typed:
        if f.kind == "pins":
            continue  # what is not a PIN in a list is left out
        reasons.append(
            compose(
                "WHEN p.{n} <> '' AND p.{v} IS NULL THEN {why} || left(p.{n}, 40)",
                n=_id(f.name),
                v=_id(f"{f.name}_v"),
                why=sql.Literal(f"unreadable {f.name.replace('_', ' ')}: "),
            )
        )
    reasons.append(
        sql.SQL(
            "WHEN (p.latitude <> '' AND p.lat IS NULL) OR (p.longitude <> '' AND p.lon IS NULL)"
            " THEN 'unreadable coordinates: ' || left(p.latitude || ' ' || p.longitude, 40)"
            " WHEN p.lat NOT BETWEEN -90 AND 90 OR p.lon NOT BETWEEN -180 AND 180 THEN 'coordinates out of range'"
            " WHEN (p.lat IS NULL) <> (p.lon IS NULL) THEN 'latitude and longitude must come together'"
        )
    )
    if spec.located:
        reasons.append(
            sql.SQL(
                "WHEN p.lat IS NULL AND p.address = '' AND p.street_name = '' THEN 'no point and no address'"
            )
        )
    derived = sql.SQL("").join(
        compose("{expr} AS {name}, ", expr=sql.SQL(expr), name=_id(f"{name}_d"))
        for name, expr in spec.derived
    )
    run(
        cursor,
        _ROWS,
        work=work,
        number=sql.Literal(_NUMBER),
        derived=derived,
        hashed=sql.SQL(", ").join(compose("f.{n}", n=_id(n)) for n in texts),
        source_id=sql.SQL("p.source_text" if has_id else "p.row_hash"),
        reasons=sql.SQL(" ").join(reasons),
        texts=sql.SQL(", ").join(compose("f.{n}", n=_id(n)) for n in texts),
        parsed=sql.SQL(", ").join(
            compose(
                "{fn} AS {v}",
                fn=date_sql(compose("f.{n}", n=_id(f.name)))
                if f.kind == "date"
                else compose(_PARSE[f.kind], work=work, v=compose("f.{n}", n=_id(f.name))),
                v=_id(f"{f.name}_v"),
            )
            for f in typed
        )
        or sql.SQL("NULL AS no_typed_fields"),
        fields=sql.SQL(", ").join(
            compose(
                "{value} AS {name}",
                value=fields.get("source_id" if n == "source_text" else n, sql.SQL("''")),
                name=_id(n),
            )
            for n in ["source_text", *texts]
        ),
    )
    run(cursor, "ANALYZE {work}.rows", work=work)


def column_value(spec: DatasetSpec, name: str) -> sql.Composable:
    """The SQL over `{work}.rows r` of the value column `name` of the dataset's table."""
    if any(n == name for n, _ in spec.derived):
        return compose("r.{c}", c=_id(f"{name}_d"))
    if name in ("latitude", "longitude"):
        return compose("r.{c}", c=_id(name[:3]))
    field = next((f for f in spec.fields if f.name == name), None)
    if field is not None and field.kind != "text":
        return compose("r.{c}", c=_id(f"{name}_v"))
    return compose("r.{c}", c=_id(name))
