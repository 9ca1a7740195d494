"""`manage.py evaluate_dedup`: labelled reports replayed through the real grouping in a
throwaway schema; pairwise figures; the tenant's own data untouched."""

import csv
import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from civicpulse.core.geo import METRES_PER_DEGREE
from issues.models import Category, GroupingPolicy, Issue, IssueEvent
from reports.dedup_evaluation import (
    Columns,
    dedup_figures,
    labelled_reports_read,
    labelled_reports_write,
    true_groups,
)
from reports.dedup_samples import labelled_reports_generate
from tests.support.factories import IssueFactory

FIGURES = {
    "rows",
    "true_groups",
    "issues",
    "true_pairs",
    "predicted_pairs",
    "precision",
    "recall",
    "f1",
    "mixed_issue_share",
    "recall_within_50m",
    "recall_beyond_50m",
    "true_pairs_beyond_50m",
    "rows_skipped",
}


def _tenant_state() -> tuple:
    return (
        list(Issue.objects.order_by("pk").values_list("pk", "report_count", "status", "latitude")),
        IssueEvent.objects.count(),
        list(Category.objects.order_by("pk").values_list("code", "group_radius_m")),
        list(GroupingPolicy.objects.values_list("radius_m", "join_score")),
    )


def _scratch_schemas() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'dedup_eval%%'")
        return [row[0] for row in cursor.fetchall()]


def test_pairwise_figures_by_hand() -> None:
    # True groups a a b b c; predicted issues 1 1 1 2 3.
    figures = dedup_figures(["a", "a", "b", "b", "c"], [1, 1, 1, 2, 3])
    # Predicted pairs: three in issue 1, of which one (the two a's) is true; true pairs: a-a, b-b.
    assert (figures["predicted_pairs"], figures["true_pairs"]) == (3, 2)
    assert (figures["precision"], figures["recall"], figures["f1"]) == (0.333, 0.5, 0.4)
    assert figures["mixed_issue_share"] == 0.333 and figures["issues"] == 3 and figures["true_groups"] == 3
    perfect = dedup_figures(["a", "a", "b"], [7, 7, 8])
    assert (perfect["precision"], perfect["recall"], perfect["mixed_issue_share"]) == (1.0, 1.0, 0.0)


def test_true_groups_join_repeated_ids_and_duplicate_chains(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    # A 311-style export: its own column names, Unix times, one report sent twice, a chain.
    rows = [
        ["ID", "Description", "Lat", "Lon", "Created", "Parent"],
        ["10", "Pothole on Main", "39.8", "-89.64", "1700000000", ""],
        ["10", "Pothole on Main", "39.8", "-89.64", "1700000005", ""],
        ["11", "Pothole on Main again", "39.8", "-89.64", "1700000100", "10"],
        ["12", "Still there", "39.8", "-89.64", "1700000200", "11"],
        ["13", "Graffiti", "", "", "2023-11-14T22:13:20", ""],
    ]
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    columns = Columns(
        id="ID", text="Description", latitude="Lat", longitude="Lon", time="Created", duplicate_of="Parent"
    )
    read = labelled_reports_read(path, columns)
    assert [r.ref for r in read] == ["10", "10", "11", "12", "13"]
    assert read[0].at.timestamp() == 1700000000 and read[4].at.utcoffset().total_seconds() == 0
    assert read[4].latitude is None
    groups = true_groups(read)
    assert len(set(groups[:4])) == 1 and groups[4] != groups[0]
    with pytest.raises(ValueError, match="no column 'Nope'"):
        labelled_reports_read(path, Columns(id="Nope"))


def test_generated_data_has_duplicates_near_in_space_and_time() -> None:
    rows = labelled_reports_generate(300, seed=3)
    assert len(rows) == 300 and rows == labelled_reports_generate(300, seed=3)  # seeded
    by_ref = {r.ref: r for r in rows}
    duplicates = [r for r in rows if r.duplicate_of]
    assert 0.2 < len(duplicates) / len(rows) < 0.6
    reworded = [r for r in duplicates if r.text != by_ref[r.duplicate_of].text]
    assert len(reworded) > len(duplicates) / 2
    for r in duplicates:
        first = by_ref[r.duplicate_of]
        assert abs(r.latitude - first.latitude) * METRES_PER_DEGREE < 80 and r.at >= first.at


def test_the_command_measures_grouping_without_touching_the_tenant(tenant_a, tmp_path: Path) -> None:
    path = tmp_path / "labelled.csv"
    rows = labelled_reports_generate(120, seed=11)
    labelled_reports_write(rows, path)
    # A real open issue right where (and when) a generated report is: the replay must not see it.
    first = rows[0]
    real = IssueFactory(
        title=first.text,
        text=first.text,
        latitude=first.latitude,
        longitude=first.longitude,
        created_at=first.at,
        last_report_at=first.at,
        category=Category.objects.get(code=first.category),
    )
    before = _tenant_state()

    out = io.StringIO()
    call_command("evaluate_dedup", "alpha", "--csv", str(path), "--json", stdout=out, stderr=io.StringIO())

    figures = json.loads(out.getvalue())
    assert set(figures) == FIGURES
    assert figures["rows"] == 120 and figures["rows_skipped"] == 0
    assert figures["true_pairs"] > 20
    for name in ("precision", "recall", "f1", "mixed_issue_share"):
        assert 0.0 <= figures[name] <= 1.0, name
    # Reworded duplicates a few metres apart are found, and different problems kept apart.
    assert figures["precision"] >= 0.8 and figures["recall"] >= 0.5 and figures["mixed_issue_share"] <= 0.1
    assert figures["true_groups"] <= figures["issues"] < figures["rows"]
    assert connection.schema_name == "alpha"
    assert _tenant_state() == before
    real.refresh_from_db()
    assert real.report_count == 1
    assert _scratch_schemas() == []


def test_the_command_prints_one_line_per_figure_and_can_generate(tenant_a, tmp_path: Path) -> None:
    saved = tmp_path / "made.csv"
    out = io.StringIO()
    call_command(
        "evaluate_dedup", "alpha", "--generate", "40", "--save", str(saved), stdout=out, stderr=io.StringIO()
    )
    lines = out.getvalue().strip().splitlines()
    parsed = dict(line.split(": ", 1) for line in lines)
    assert set(parsed) == FIGURES and parsed["rows"] == "40"
    assert 0 <= float(parsed["f1"]) <= 1
    assert len(labelled_reports_read(saved)) == 40
    with pytest.raises(CommandError, match="No tenant"):
        call_command("evaluate_dedup", "nowhere", "--generate", "5", stdout=io.StringIO())


def test_the_taxonomy_copy_refuses_a_tenants_own_schema(tenant_a) -> None:
    """It replaces every category where it runs: never in a schema a tenant lives in."""
    from issues.services.taxonomy import taxonomy_copy_into_scratch

    before = Category.objects.count()
    assert before > 0
    for scratch in (tenant_a.schema_name, "dedup_eval_elsewhere"):
        with pytest.raises(ValueError, match="not a scratch schema"):
            taxonomy_copy_into_scratch(
                scratch_schema=scratch,
                categories=list(Category.objects.all()),
                policy=GroupingPolicy.objects.get(),
            )
    assert Category.objects.count() == before
