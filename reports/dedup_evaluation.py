"""How well grouping finds duplicates: replay labelled reports through the real grouping
(`issues.services.issue_group_report`, with a tenant's categories and grouping policy)
in a throwaway schema, and compare the issues it makes with the true groups.

The throwaway schema is a clone of the migrated template made inside a transaction that
is always rolled back, so the tenant's own tables are only read (its categories and
policy) and nothing of the run survives it, not even the schema.

Labelled data: one row per report with an id, text, a point (or an address), a time and
the id of the report it duplicates, if any. Rows sharing an id are the same report sent
twice (311 exports repeat rows), so they are one true group too.
"""
import csv
import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from math import comb, cos, radians, sin
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction

from issues.models import Category, GroupingPolicy
from issues.selectors import grouping_policy_get
from issues.services import issue_group_report
from llm.offline import classify_offline
from reports.addresses import normalise_address
from reports.services import category_info
from tenants.schema_clone import clone_schema


@dataclass(frozen=True)
class LabelledReport:
    ref: str
    text: str
    latitude: float | None
    longitude: float | None
    at: datetime
    duplicate_of: str = ""
    category: str = ""
    address: str = ""


@dataclass(frozen=True)
class Columns:
    """Which CSV column holds what. `category` and `address` are optional."""

    id: str = "id"
    text: str = "text"
    latitude: str = "latitude"
    longitude: str = "longitude"
    time: str = "time"
    duplicate_of: str = "duplicate_of"
    category: str = ""
    address: str = ""


def _parse_time(value: str) -> datetime:
    """Unix seconds or ISO 8601; a time without a zone is taken as UTC."""
    value = value.strip()
    if value.replace(".", "", 1).isdigit():
        return datetime.fromtimestamp(float(value), tz=dt_timezone.utc)
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt_timezone.utc)


def _parse_float(value: str | None) -> float | None:
    try:
        number = float(value) if value not in (None, "") else None
    except ValueError:
        return None
    return number if number is not None and number == number else None  # NaN is no number


def labelled_reports_read(path: Path, columns: Columns = Columns()) -> list[LabelledReport]:
    """Rows of a labelled CSV. Raises ValueError naming a missing column or a bad row."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        named = [columns.id, columns.text, columns.latitude, columns.longitude, columns.time, columns.category,
                 columns.address]
        # The duplicate column may be absent when it was not named: then only rows that
        # share an id are duplicates (a plain 311 export).
        if columns.duplicate_of != Columns.duplicate_of:
            named.append(columns.duplicate_of)
        missing = [c for c in named if c and c not in header]
        if missing:
            raise ValueError(f"{path}: no column {', '.join(map(repr, missing))} (columns: {', '.join(header)})")
        rows = []
        for line, row in enumerate(reader, start=2):
            try:
                at = _parse_time(row[columns.time] or "")
            except ValueError as exc:
                raise ValueError(f"{path}, line {line}: unreadable time {row[columns.time]!r}") from exc
            latitude, longitude = _parse_float(row[columns.latitude]), _parse_float(row[columns.longitude])
            if latitude is None or longitude is None:
                latitude = longitude = None
            rows.append(LabelledReport(
                ref=(row[columns.id] or "").strip() or f"line-{line}",
                text=row[columns.text] or "",
                latitude=latitude,
                longitude=longitude,
                at=at,
                duplicate_of=(row.get(columns.duplicate_of) or "").strip() if columns.duplicate_of else "",
                category=(row.get(columns.category) or "").strip() if columns.category else "",
                address=(row.get(columns.address) or "").strip() if columns.address else "",
            ))
    return rows


def labelled_reports_write(rows: Iterable[LabelledReport], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "latitude", "longitude", "time", "duplicate_of", "category"])
        for r in rows:
            writer.writerow([r.ref, r.text, r.latitude, r.longitude, r.at.isoformat(), r.duplicate_of, r.category])


# ---------------------------------------------------------------------------
# Figures


def true_groups(rows: list[LabelledReport]) -> list[str]:
    """Each row's true group (a representative id): rows sharing an id or linked by
    `duplicate_of`, transitively."""
    parent: dict[str, str] = {}

    def find(ref: str) -> str:
        parent.setdefault(ref, ref)
        while parent[ref] != ref:
            parent[ref] = parent[parent[ref]]
            ref = parent[ref]
        return ref

    for row in rows:
        find(row.ref)
        if row.duplicate_of and row.duplicate_of != row.ref:
            a, b = find(row.ref), find(row.duplicate_of)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return [find(row.ref) for row in rows]


def dedup_figures(truth: list[str], predicted: list[object]) -> dict[str, float | int]:
    """Pairwise precision and recall of the predicted grouping against the true one
    (a pair of rows is positive when both are in one group), their F1, and the share
    of predicted groups holding rows of more than one true group. With no pair
    predicted, precision is 1 (nothing was wrongly put together); with no true pair,
    recall is 1."""
    if len(truth) != len(predicted):
        raise ValueError("truth and predicted differ in length")

    def pairs(counts: Counter) -> int:
        return sum(comb(n, 2) for n in counts.values())

    true_pairs = pairs(Counter(truth))
    predicted_pairs = pairs(Counter(predicted))
    both = pairs(Counter(zip(truth, predicted, strict=True)))
    precision = both / predicted_pairs if predicted_pairs else 1.0
    recall = both / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    members: dict[object, set[str]] = {}
    for t, p in zip(truth, predicted, strict=True):
        members.setdefault(p, set()).add(t)
    mixed = sum(1 for groups in members.values() if len(groups) > 1)
    return {
        "rows": len(truth),
        "true_groups": len(set(truth)),
        "issues": len(members),
        "true_pairs": true_pairs,
        "predicted_pairs": predicted_pairs,
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(f1, 3),
        "mixed_issue_share": round(mixed / len(members), 3) if members else 0.0,
    }


# ---------------------------------------------------------------------------
# The replay


class _RolledBack(Exception):
    pass


def dedup_evaluate(
    *, tenant: object, rows: list[LabelledReport], use_category: bool = False,
    progress: Callable[[int], object] | None = None,
) -> dict[str, float | int]:
    """Group `rows` (in time order) as the pipeline would, with the tenant's categories
    and grouping policy, in a throwaway schema; return the figures. Each row's category
    is the offline classifier's pick, or (`use_category`) the row's own when it names one
    of the tenant's categories by code or name. Rows with neither a point nor an address
    cannot be grouped and are left out (`rows_skipped`)."""
    usable = [i for i, row in enumerate(rows) if row.latitude is not None or normalise_address(row.address)]
    issue_of: dict[int, int] = {}
    previous = connection.tenant
    try:
        with transaction.atomic():
            connection.set_tenant(tenant)
            categories = list(Category.objects.prefetch_related("related").order_by("pk"))
            policy = grouping_policy_get()
            scratch = f"dedup_eval_{uuid.uuid4().hex[:12]}"
            with connection.cursor() as cursor:
                clone_schema(cursor, settings.TENANT_TEMPLATE_SCHEMA, scratch)
            connection.set_schema(scratch)
            by_code = _taxonomy_copy(categories, policy)
            by_name = {c.name.lower(): c for c in by_code.values()}
            infos = [category_info(c) for c in by_code.values() if c.active]
            for index in sorted(usable, key=lambda i: (rows[i].at, i)):
                row = rows[index]
                given = (by_code.get(row.category) or by_name.get(row.category.lower())) if use_category else None
                classification = classify_offline(row.text, infos)
                result = issue_group_report(
                    text=row.text, summary=classification.summary,
                    category=given or by_code.get(classification.category or ""),
                    severity=classification.severity, latitude=row.latitude, longitude=row.longitude,
                    address_key="" if row.latitude is not None else normalise_address(row.address),
                    at=row.at, report_ref=row.ref, actor_label="evaluation",
                )
                issue_of[index] = result.issue.pk
                if progress is not None:
                    progress(1)
            raise _RolledBack  # the scratch schema and everything in it go
    except _RolledBack:
        pass
    finally:
        connection.set_tenant(previous)
    truth = true_groups(rows)
    kept = sorted(issue_of)
    figures = dedup_figures([truth[i] for i in kept], [issue_of[i] for i in kept])
    return {**figures, "rows_skipped": len(rows) - len(kept)}


def _taxonomy_copy(categories: list[Category], policy: GroupingPolicy) -> dict[str, Category]:
    """The tenant's categories (same ids, related links, grouping values) and policy in
    the throwaway schema. Departments stay behind: routing plays no part in grouping."""
    Category.objects.all().delete()
    copies = Category.objects.bulk_create(
        Category(
            pk=c.pk, code=c.code, name=c.name, description=c.description, keywords=c.keywords,
            default_severity=c.default_severity, active=c.active, group_radius_m=c.group_radius_m,
            group_window_hours=c.group_window_hours, group_min_similarity=c.group_min_similarity,
            group_join_score=c.group_join_score, group_borderline_low=c.group_borderline_low,
            group_borderline_high=c.group_borderline_high,
        )
        for c in categories
    )
    Category.related.through.objects.bulk_create(
        Category.related.through(from_category_id=c.pk, to_category_id=other.pk)
        for c in categories for other in c.related.all()
    )
    GroupingPolicy.objects.update_or_create(pk=1, defaults={
        f.name: getattr(policy, f.name) for f in GroupingPolicy._meta.concrete_fields if not f.primary_key
    })
    return {c.code: c for c in copies}


# ---------------------------------------------------------------------------
# Generated labelled data


# Per category code: what residents call the thing, what is wrong with it. Duplicates of
# one incident pick other words from the same lists, so they read alike without being
# copies.
_PHRASES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "potholes": (("pothole", "big pothole", "deep pothole", "hole in the road", "pot hole in the asphalt"),
                 ("getting deeper", "damaged my tire", "needs filling", "full of water", "cars swerving around it")),
    "street_lights": (("street light", "streetlight", "street lamp", "lamp post light", "light on the pole"),
                      ("is out", "flickering all night", "dark for a week", "not working", "stays off at night")),
    "graffiti": (("graffiti", "spray paint tags", "graffiti tags", "vandalism with spray paint", "fresh graffiti"),
                 ("on the wall", "all over the fence", "on the bus shelter", "on the side of the shop", "came back")),
    "sanitation": (("trash", "garbage bags", "overflowing bin", "litter and garbage", "recycling bin"),
                   ("not collected", "piling up", "spilling onto the sidewalk", "left for days", "attracting rats")),
    "trees_parks": (("tree branch", "fallen tree", "large branch", "dead tree", "tree limb"),
                    ("blocking the path", "hanging over the road", "fell in the storm", "about to fall", "down")),
    "water_sewer": (("water main", "fire hydrant", "sewer drain", "water leak", "manhole"),
                    ("leaking", "flooding the street", "gushing water", "overflowing", "bubbling up")),
    "traffic_signals": (("traffic light", "traffic signal", "signal at the crossing", "pedestrian signal",
                         "red light"),
                        ("stuck on red", "flashing", "not working", "out at the intersection", "never changes")),
    "abandoned_vehicles": (("abandoned car", "abandoned vehicle", "derelict car", "car with no plates",
                            "parked vehicle"),
                           ("for weeks", "not moved in a month", "with flat tires", "with broken windows",
                            "dumped here")),
    "sidewalks": (("sidewalk", "broken sidewalk", "uneven pavement", "cracked curb", "sidewalk slab"),
                  ("trip hazard", "lifted by roots", "crumbling", "someone tripped", "needs repair")),
    "noise": (("loud music", "party noise", "car alarm", "barking dog", "loud noise"),
              ("every night", "after midnight", "all weekend", "for hours", "again tonight")),
}
_STREETS = ("Main St", "Oak Ave", "Elm St", "Maple Ave", "2nd St", "5th St", "Washington Ave", "Lincoln Blvd",
            "Park Rd", "Cedar Ln", "Jefferson St", "Madison Ave", "Spring St", "Grand Ave", "River Rd", "Hill St")
_OPENINGS = ("", "", "There is a ", "Please fix the ", "Reporting a ", "The ")
_REPEATS = ("", "", "still ", "again, ", "second report: ")


def _describe(rng: random.Random, code: str, place: str) -> str:
    things, wrongs = _PHRASES[code]
    opening, thing, wrong = rng.choice(_OPENINGS), rng.choice(things), rng.choice(wrongs)
    text = f"{opening}{thing} {wrong}" if opening else f"{thing.capitalize()} {wrong}"
    return f"{text} {place}" if rng.random() < 0.8 else text


def _typo(rng: random.Random, text: str) -> str:
    """One swapped pair of letters in a longer word: residents type on phones."""
    words = text.split()
    long = [i for i, w in enumerate(words) if len(w) > 5]
    if not long:
        return text
    i = rng.choice(long)
    j = rng.randrange(1, len(words[i]) - 2)
    w = words[i]
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2:]
    return " ".join(words)


def labelled_reports_generate(
    count: int, *, seed: int = 7, centre: tuple[float, float] = (39.80, -89.64), start: datetime | None = None,
) -> list[LabelledReport]:
    """`count` labelled reports over a city of about 8 by 8 km and 60 days. Most problems
    are reported once; some by two to six residents, a few metres (rarely some tens of
    metres) apart, minutes to a day or two apart, in their own words (a few resend the
    same text seconds later). Some problems are near lookalikes of others: the same kind
    of problem a block away on the same street, or another kind at the same corner."""
    rng = random.Random(seed)
    start = start or datetime(2026, 1, 5, tzinfo=dt_timezone.utc)
    lat0, lon0 = centre
    metres_lon = 111_320 * cos(radians(lat0))
    rows: list[LabelledReport] = []
    incident = 0
    while len(rows) < count:
        incident += 1
        code = rng.choice(list(_PHRASES))
        street = rng.choice(_STREETS)
        number = rng.randrange(1, 400) * 2
        place = rng.choice((f"outside {number} {street}", f"at {number} {street}", f"on {street} near number {number}"))
        if rows and rng.random() < 0.15:
            # A lookalike: next to an earlier problem, another kind or the same kind a block away.
            other = rng.choice(rows)
            shift = 0.0 if rng.random() < 0.5 else rng.uniform(80, 200)
            lat, lon = other.latitude + shift / 111_320, other.longitude
            code = rng.choice([c for c in _PHRASES if c != other.category]) if shift == 0.0 else other.category
            at0 = other.at + timedelta(hours=rng.uniform(-48, 48))
        else:
            lat = lat0 + rng.uniform(-4000, 4000) / 111_320
            lon = lon0 + rng.uniform(-4000, 4000) / metres_lon
            at0 = start + timedelta(minutes=rng.uniform(0, 60 * 24 * 60))
        size = rng.choices((1, 2, 3, 4, 5, 6), weights=(62, 18, 9, 5, 3, 3))[0]
        first_ref = f"g{incident}-1"
        first_text = _describe(rng, code, place)
        rows.append(LabelledReport(first_ref, first_text, round(lat, 7), round(lon, 7), at0, "", code))
        at = at0
        for n in range(2, size + 1):
            if rng.random() < 0.1:  # sent twice by mistake: same words, seconds later
                text, at = first_text, at + timedelta(seconds=rng.uniform(2, 60))
                dist = rng.uniform(0, 3)
            else:
                text = _describe(rng, code, place)
                repeat = rng.choice(_REPEATS)
                text = repeat.capitalize() + text[0].lower() + text[1:] if repeat else text
                text = _typo(rng, text) if rng.random() < 0.2 else text
                at = at + timedelta(minutes=rng.expovariate(1 / 600))
                # GPS and where each resident stands: mostly within 25 m, sometimes farther.
                dist = rng.uniform(2, 25) if rng.random() < 0.9 else rng.uniform(25, 70)
            angle = rng.uniform(0, 6.283)
            dlat = dist * cos(angle) / 111_320
            dlon = dist * sin(angle) / metres_lon
            rows.append(LabelledReport(
                f"g{incident}-{n}", text, round(lat + dlat, 7), round(lon + dlon, 7), at, first_ref, code
            ))
    return rows[:count]
