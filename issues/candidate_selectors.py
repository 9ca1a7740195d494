"""The candidate issues a new report may join: one report's, or a whole batch's in one
statement (docs/grouping.md, "Candidates")."""

from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict, Unpack

from django.db import connection

from civicpulse.core.geo import search_box
from issues.statuses import OPEN_STATUSES_SQL


@dataclass(frozen=True)
class Candidate:
    issue_id: int
    distance_m: float | None
    time_gap_s: float
    similarity: float
    category_id: int | None = None
    # The issue's stored text embedding (civicpulse.core.vectors), None when it has none.
    embedding: bytes | None = None
    # The start of the issue's text (TEXT_READ characters at most, whole words), whose
    # language grouping compares.
    text: str = ""


# What is read of a candidate's text: enough to tell its language (the first report's, a
# sentence or two), not a whole long description for each of twenty candidates.
TEXT_READ = 280


# The search around one point, written once and rendered twice: with the report's own
# values for a report alone (constants the planner can read, so it always takes the point
# index), and with a row of parameters (`q`) per report for a batch. The GiST index on open
# issues' points (migration issues 0013) narrows to the box around the neighbourhood, then
# exact distance, the time window (either side: reports are not always processed in the
# order they were sent) and the category filter what is left, ranked by text similarity
# (pg_trgm). The grouping service then compares meanings (embeddings) and applies the
# minimum similarity to the better of the two, so a reworded duplicate is not dropped for
# sharing few trigrams.
_AROUND = f"""
    SELECT i.id,
           public.earth_distance(public.ll_to_earth({{lat}}, {{lon}}),
                                 public.ll_to_earth(i.latitude, i.longitude)) AS distance_m,
           EXTRACT(EPOCH FROM ({{at}} - i.last_report_at)) AS gap_s,
           public.similarity(i.text, {{text}}) AS sim,
           i.category_id, i.embedding, left(i.text, {TEXT_READ + 1}) AS text
    FROM issues_issue i
    WHERE i.status IN {OPEN_STATUSES_SQL} AND i.latitude IS NOT NULL
      AND point(i.longitude, i.latitude) <@ box(point({{west}}, {{south}}), point({{east}}, {{north}}))
      AND public.earth_distance(public.ll_to_earth({{lat}}, {{lon}}),
                                public.ll_to_earth(i.latitude, i.longitude)) <= {{radius}}
      AND i.last_report_at >= {{at}} - make_interval(hours => {{window}})
      AND i.created_at <= {{at}} + make_interval(hours => {{window}})
      AND ({{any_category}} OR i.category_id IS NULL OR i.category_id = ANY({{categories}}))
    ORDER BY sim DESC, distance_m
    LIMIT 20
"""
_NAMES = (
    "lat",
    "lon",
    "at",
    "text",
    "radius",
    "window",
    "any_category",
    "categories",
    "west",
    "south",
    "east",
    "north",
)
_GEO_CANDIDATES = _AROUND.format(**{name: f"%({name})s" for name in _NAMES})
# A batch's reports, one row of parameters each, in one statement: fifty reports cost about
# what two asked one by one cost (the planning and the round trip are paid once).
_GEO_CANDIDATES_MANY = f"""
    SELECT q.n, c.id, c.distance_m, c.gap_s, c.sim, c.category_id, c.embedding, c.text
    FROM unnest(%(n)s::int[], %(lat)s::float8[], %(lon)s::float8[], %(at)s::timestamptz[], %(text)s::text[],
                %(radius)s::float8[], %(window)s::int[], %(any_category)s::bool[], %(categories)s::text[],
                %(west)s::float8[], %(south)s::float8[], %(east)s::float8[], %(north)s::float8[])
         AS q(n, lat, lon, at, text, radius, "window", any_category, categories, west, south, east, north)
    CROSS JOIN LATERAL ({
    _AROUND.format(
        **{name: f"q.{name}" for name in _NAMES}
        | {"window": 'q."window"', "categories": "q.categories::int[]"}
    )
}) c
    ORDER BY q.n, c.sim DESC, c.distance_m
"""
_ADDRESS_CANDIDATES = f"""
    SELECT i.id, NULL::float8, EXTRACT(EPOCH FROM (%(at)s - i.last_report_at)), public.similarity(i.text, %(text)s),
           i.category_id, i.embedding, left(i.text, {TEXT_READ + 1})
    FROM issues_issue i
    WHERE i.status IN {OPEN_STATUSES_SQL} AND i.address_key = %(address_key)s AND i.latitude IS NULL
      AND i.last_report_at >= %(at)s - make_interval(hours => %(window)s)
      AND i.created_at <= %(at)s + make_interval(hours => %(window)s)
      AND (%(any_category)s OR i.category_id IS NULL OR i.category_id = ANY(%(categories)s))
    ORDER BY i.last_report_at DESC
    LIMIT 20
"""


class CandidateQuery(TypedDict):
    """What a new report brings to the search for its issue."""

    latitude: float | None
    longitude: float | None
    address_key: str
    at: datetime
    text: str
    category_ids: list[int] | None  # None: any category
    radius_m: float
    window_hours: int


# What candidate_query passes to the SQL, by placeholder name.
CandidateParams = dict[str, float | int | bool | str | datetime | list | None]


def _located(query: CandidateQuery) -> bool:
    return query["latitude"] is not None and query["longitude"] is not None


def _category_ids(query: CandidateQuery) -> list[int]:
    return [int(i) for i in query["category_ids"] or []]


def _geo_row(query: CandidateQuery) -> CandidateParams:
    """One located report's parameters, by placeholder name."""
    radius = float(query["radius_m"])
    west, south, east, north = search_box(query["latitude"] or 0.0, query["longitude"] or 0.0, radius)
    return {
        "lat": query["latitude"],
        "lon": query["longitude"],
        "at": query["at"],
        "text": query["text"],
        "radius": radius,
        "window": int(query["window_hours"]),
        "any_category": query["category_ids"] is None,
        "categories": _category_ids(query),
        "west": west,
        "south": south,
        "east": east,
        "north": north,
    }


def _geo_params(queries: list[CandidateQuery]) -> CandidateParams:
    """The located reports' parameters, one array per placeholder, one element per report."""
    rows = [_geo_row(query) for query in queries]
    params: CandidateParams = {"n": list(range(len(rows)))}
    params |= {name: [row[name] for row in rows] for name in _NAMES}
    # Arrays of differing lengths cannot share one array column: each travels as the text
    # of an int[] and is cast back in the query.
    params["categories"] = ["{" + ",".join(map(str, _category_ids(q))) + "}" for q in queries]
    return params


def candidate_query(**query: Unpack[CandidateQuery]) -> tuple[str, CandidateParams]:
    """The SQL of `issue_candidates` for one report and its parameters: by point where
    the report has one, else by standardised address."""
    if _located(query):
        return _GEO_CANDIDATES, _geo_row(query)
    return _ADDRESS_CANDIDATES, {
        "at": query["at"],
        "text": query["text"],
        "window": int(query["window_hours"]),
        "any_category": query["category_ids"] is None,
        "categories": query["category_ids"] or [],
        "address_key": query["address_key"],
    }


def _candidate(row: tuple) -> Candidate:
    text = row[6] or ""
    if len(text) > TEXT_READ:  # longer: its last word may be cut short ("de" of "desde")
        whole = text[:TEXT_READ].rsplit(None, 1)
        text = whole[0] if len(whole) == 2 else ""
    embedding = None if row[5] is None else bytes(row[5])
    return Candidate(row[0], row[1], float(row[2]), float(row[3]), row[4], embedding, text)


def issue_candidates(**query: Unpack[CandidateQuery]) -> list[Candidate]:
    """Open issues a new report may belong to, best first."""
    return issue_candidates_many([query])[0]


def issue_candidates_many(queries: list[CandidateQuery]) -> list[list[Candidate]]:
    """Each report's candidates, as `issue_candidates` gives them, in the order of
    `queries`: every located report's in one statement, each address's on its own."""
    found: list[list[Candidate]] = [[] for _ in queries]
    located = [index for index, query in enumerate(queries) if _located(query)]
    with connection.cursor() as cursor:
        if located:
            cursor.execute(_GEO_CANDIDATES_MANY, _geo_params([queries[index] for index in located]))
            for row in cursor.fetchall():
                found[located[row[0]]].append(_candidate(row[1:]))
        for index, query in enumerate(queries):
            if not _located(query):
                statement, params = candidate_query(**query)
                cursor.execute(statement, params)
                found[index] = [_candidate(row) for row in cursor.fetchall()]
    return found
