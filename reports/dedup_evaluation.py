"""How well grouping finds duplicates: replay labelled reports through the real grouping
(`issues.services.grouping.issue_group_report`, with a tenant's categories and grouping policy)
in a throwaway schema, and compare the issues it makes with the true groups.

The throwaway schema is a clone of the migrated template made inside a transaction that
is always rolled back, so the tenant's own tables are only read (its categories and
policy) and nothing of the run survives it, not even the schema.

Labelled data: one row per report with an id, text, a point (or an address), a time and
the id of the report it duplicates, if any. Rows sharing an id are the same report sent
twice (311 exports repeat rows), so they are one true group too. `reports.dedup_samples`
makes such data up.
"""

import csv
import math
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from math import comb
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction

from civicpulse.core.geo import EARTH_RADIUS_M
from civicpulse.core.tenancy import tenant_connection
from issues.models import Category
from issues.selectors import grouping_policy_get
from issues.services.grouping import issue_group_report
from issues.services.taxonomy import taxonomy_copy_into_scratch
from llm.embeddings import embed_stored
from llm.services import classify_untrained
from reports.addresses import normalise_address
from reports.services.pipeline import category_info
from tenants.models import Tenant
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
        return datetime.fromtimestamp(float(value), tz=UTC)
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_float(value: str | None) -> float | None:
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number else None  # NaN is no number


def labelled_reports_read(path: Path, columns: Columns = Columns()) -> list[LabelledReport]:
    """Rows of a labelled CSV. Raises ValueError naming a missing column or a bad row."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        named = [
            columns.id,
            columns.text,
            columns.latitude,
            columns.longitude,
            columns.time,
            columns.category,
            columns.address,
        ]
        # The duplicate column may be absent when it was not named: then only rows that
        # share an id are duplicates (a plain 311 export).
        if columns.duplicate_of != Columns.duplicate_of:
            named.append(columns.duplicate_of)
        missing = [c for c in named if c and c not in header]
        if missing:
            raise ValueError(
                f"{path}: no column {', '.join(map(repr, missing))} (columns: {', '.join(header)})"
            )
        rows = []
        for line, row in enumerate(reader, start=2):
            try:
                at = _parse_time(row[columns.time] or "")
            except ValueError as exc:
                raise ValueError(f"{path}, line {line}: unreadable time {row[columns.time]!r}") from exc
            latitude, longitude = _parse_float(row[columns.latitude]), _parse_float(row[columns.longitude])
            if latitude is None or longitude is None:
                latitude = longitude = None
            rows.append(
                LabelledReport(
                    ref=(row[columns.id] or "").strip() or f"line-{line}",
                    text=row[columns.text] or "",
                    latitude=latitude,
                    longitude=longitude,
                    at=at,
                    duplicate_of=(row.get(columns.duplicate_of) or "").strip()
                    if columns.duplicate_of
                    else "",
                    category=(row.get(columns.category) or "").strip() if columns.category else "",
                    address=(row.get(columns.address) or "").strip() if columns.address else "",
                )
            )
    return rows


def labelled_reports_write(rows: Iterable[LabelledReport], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "latitude", "longitude", "time", "duplicate_of", "category"])
        for r in rows:
            writer.writerow(
                [r.ref, r.text, r.latitude, r.longitude, r.at.isoformat(), r.duplicate_of, r.category]
            )


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


# Real duplicates are mostly a few metres apart; the figures split recall at this distance
# so a change that finds far duplicates by losing near ones shows.
NEAR_M = 50


def _distance_m(a: LabelledReport, b: LabelledReport) -> float | None:
    """Great-circle distance on the sphere the database measures with (earthdistance)."""
    if a.latitude is None or a.longitude is None or b.latitude is None or b.longitude is None:
        return None
    lat1, lon1, lat2, lon2 = map(math.radians, (a.latitude, a.longitude, b.latitude, b.longitude))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def recall_by_distance(
    rows: list[LabelledReport], truth: list[str], predicted: dict[int, int]
) -> dict[str, float | int]:
    """Recall of the true pairs within NEAR_M of each other and of those farther apart
    (pairs without two points count as near: they share an address)."""
    members: dict[str, list[int]] = {}
    for index in predicted:
        members.setdefault(truth[index], []).append(index)
    found = {"near": 0, "far": 0}
    total = {"near": 0, "far": 0}
    for group in members.values():
        for position, i in enumerate(group):
            for j in group[position + 1 :]:
                distance = _distance_m(rows[i], rows[j])
                side = "far" if distance is not None and distance > NEAR_M else "near"
                total[side] += 1
                found[side] += predicted[i] == predicted[j]
    return {
        f"recall_within_{NEAR_M}m": round(found["near"] / total["near"], 3) if total["near"] else 1.0,
        f"recall_beyond_{NEAR_M}m": round(found["far"] / total["far"], 3) if total["far"] else 1.0,
        f"true_pairs_beyond_{NEAR_M}m": total["far"],
    }


def dedup_evaluate(
    *,
    tenant: Tenant,
    rows: list[LabelledReport],
    use_category: bool = False,
    label_map: dict[str, str] | None = None,
    progress: Callable[[int], object] | None = None,
) -> dict[str, float | int]:
    """Group `rows` (in time order) as the pipeline would, with the tenant's categories
    and grouping policy, in a throwaway schema; return the figures. Each row's category
    is what a tenant with no training picks (llm.services.classify_untrained), or
    (`use_category`) the row's own when it names one of the tenant's categories by code
    or name, or through `label_map` (label folded to lower case → code). Rows with neither
    a point nor an address cannot be grouped and are left out (`rows_skipped`)."""
    usable = [i for i, row in enumerate(rows) if row.latitude is not None or normalise_address(row.address)]
    issue_of: dict[int, int] = {}
    db = tenant_connection()
    previous = db.tenant
    try:
        with transaction.atomic():
            db.set_tenant(tenant)
            categories = list(Category.objects.prefetch_related("related").order_by("pk"))
            policy = grouping_policy_get()
            scratch = f"dedup_eval_{uuid.uuid4().hex[:12]}"
            with connection.cursor() as cursor:
                clone_schema(cursor, settings.TENANT_TEMPLATE_SCHEMA, scratch)
            db.set_schema(scratch)
            by_code = taxonomy_copy_into_scratch(scratch_schema=scratch, categories=categories, policy=policy)
            by_name = {c.name.lower(): c for c in by_code.values()}
            infos = [category_info(c) for c in by_code.values() if c.active]
            for index in sorted(usable, key=lambda i: (rows[i].at, i)):
                row = rows[index]
                given = None
                if use_category and label_map is not None:
                    given = by_code.get(label_map.get(row.category.lower(), ""))
                elif use_category:
                    given = by_code.get(row.category) or by_name.get(row.category.lower())
                classification = classify_untrained(row.text, infos)
                result = issue_group_report(
                    text=row.text,
                    summary=classification.summary,
                    category=given or by_code.get(classification.category or ""),
                    severity=classification.severity,
                    latitude=row.latitude,
                    longitude=row.longitude,
                    address_key="" if row.latitude is not None else normalise_address(row.address),
                    at=row.at,
                    report_ref=row.ref,
                    actor_label="evaluation",
                    embedding=embed_stored(row.text),
                )
                issue_of[index] = result.issue.pk
                if progress is not None:
                    progress(1)
            raise _RolledBack  # the scratch schema and everything in it go
    except _RolledBack:
        pass
    finally:
        db.set_tenant(previous)
    truth = true_groups(rows)
    kept = sorted(issue_of)
    figures = dedup_figures([truth[i] for i in kept], [issue_of[i] for i in kept])
    return {**figures, **recall_by_distance(rows, truth, issue_of), "rows_skipped": len(rows) - len(kept)}
