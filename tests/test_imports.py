"""Bulk import of 311 exports: formats, rejected rows with reasons, both Chicago date
forms, re-import idempotence, PARENT_SR_NUMBER grouping, provenance, and imported rows
left alone by the live pipeline."""

import csv
import gzip
import hashlib
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.utils import timezone

from issues.models import Issue
from reports.imports.load import import_reports
from reports.models import RejectedRow, Report
from reports.services.pipeline import report_sweep_stuck

HOBOKEN = Path(__file__).resolve().parents[2] / "shared" / "data" / "hoboken_publicstuff_311.csv"
PUBLICSTUFF_HEADER = [
    "Attachment URL",
    "ID",
    "Title",
    "Description",
    "Status",
    "Address",
    "Location",
    "Zip Code",
    "Date Created",
    "Num Of Comments",
    "Num Of Followers",
    "Num Of Supporters",
    "Latitude",
    "Longitude",
    "Rank",
    "User",
]
CHICAGO_HEADER = [
    "SR_NUMBER",
    "SR_TYPE",
    "SR_SHORT_CODE",
    "STATUS",
    "CREATED_DATE",
    "CLOSED_DATE",
    "STREET_ADDRESS",
    "CITY",
    "ZIP_CODE",
    "DUPLICATE",
    "PARENT_SR_NUMBER",
    "LATITUDE",
    "LONGITUDE",
]


def _chicago_row(
    sr: str,
    created: str = "2024-05-01T08:00:00",
    lat: str = "41.8",
    lon: str = "-87.6",
    *,
    kind: str = "Pothole in Street Complaint",
    status: str = "Open",
    closed: str = "",
    parent: str = "",
) -> list[str]:
    """One line of a Chicago 311 export, in CHICAGO_HEADER's columns."""
    return [sr, kind, "", status, created, closed, "1 A ST", "CHICAGO", "", "false", parent, lat, lon]


def _write(path: Path, header: list[str], rows: list[list[str]], gzipped: bool = False) -> Path:
    opener = gzip.open if gzipped else open
    with opener(path, "wt", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _publicstuff(tmp_path: Path) -> Path:
    row = lambda i, title, status, ts, lat="40.745", lon="-74.03": [  # noqa: E731
        "",
        str(i),
        title,
        f"{title} near {i} Washington St",
        status,
        f"{i} Washington St",
        "",
        "07030",
        str(ts),
        "0",
        "0",
        "0",
        lat,
        lon,
        "1",
        "1",
    ]
    return _write(
        tmp_path / "publicstuff.csv",
        PUBLICSTUFF_HEADER,
        [
            row(1, "Pothole", "completed", 1538492521),
            row(1, "Pothole", "completed", 1538492521),  # the export repeats rows
            row(2, "Street Light or Lamp", "in progress", 1538492600),
            row(3, "Graffiti - Public or Private Property", "received", 1538492700),
            row(4, "Pothole", "received", "yesterday"),  # rejected: unreadable date
            row(5, "Pothole", "received", 1538492800, lat="95.0"),  # rejected: out of range
            row(6, "Alien landing", "received", 1538492900),  # unknown category: other
        ],
    )


def test_publicstuff_import_with_repeats_rejects_and_idempotence(tenant_a, tmp_path) -> None:
    path = _publicstuff(tmp_path)
    result = import_reports(path=path, fmt="publicstuff")
    batch = result.batch
    assert result.summary() == "read 7, loaded 4, rejected 2, skipped 1 (already imported)"
    assert (batch.status, batch.checksum) == ("done", hashlib.sha256(path.read_bytes()).hexdigest())
    reasons = dict(RejectedRow.objects.filter(batch=batch).values_list("source_id", "reason"))
    assert reasons["4"].startswith("unreadable creation date") and reasons["5"] == "coordinates out of range"
    assert (
        RejectedRow.objects.get(source_id="4").raw["title"] == "Pothole"
    )  # the row as it came, for download
    assert result.unknown_categories == 1
    assert Report.objects.get(source_id="6").category.code == "other"
    pothole = Report.objects.select_related("issue", "category").get(source_id="1")
    assert (
        pothole.category.code == "potholes" and pothole.status == "processed" and pothole.channel == "import"
    )
    assert pothole.submitted_at == datetime.fromtimestamp(1538492521, tz=ZoneInfo("UTC"))
    # Completed without a closing time: resolved, but no made-up resolution time.
    assert pothole.issue.status == "resolved" and pothole.issue.resolved_at is None
    assert Report.objects.get(source_id="2").issue.status == "in_progress"
    # Again: nothing loaded twice.
    again = import_reports(path=path, fmt="publicstuff")
    assert again.summary() == "read 7, loaded 0, rejected 2, skipped 5 (already imported)"
    assert Report.objects.count() == 4 and Issue.objects.count() == 4


def test_chicago_dates_parents_and_gzip(tenant_a, tmp_path) -> None:
    # Tenant A's time zone is America/Chicago: dates without an offset are local time.
    path = _write(
        tmp_path / "chicago.csv.gz",
        [h.lower() if i % 2 else h for i, h in enumerate(CHICAGO_HEADER)],
        [
            [
                "SR1",
                "Pothole in Street Complaint",
                "PHF",
                "Completed",
                "01/15/2024 09:30:00 AM",
                "01/17/2024 04:00:00 PM",
                "100 N STATE ST",
                "CHICAGO",
                "60602",
                "false",
                "",
                "41.88",
                "-87.63",
            ],
            [
                "SR2",
                "Pothole in Street Complaint",
                "PHF",
                "Completed - Dup",
                "2024-01-15T10:00:00",
                "2024-01-15T11:00:00",
                "102 N STATE ST",
                "CHICAGO",
                "60602",
                "true",
                "SR1",
                "41.8801",
                "-87.6301",
            ],
            [
                "SR3",
                "Street Light Out Complaint",
                "SLA",
                "Open",
                "2024-02-01T20:15:00-06:00",
                "",
                "5 W MADISON ST",
                "CHICAGO",
                "60602",
                "false",
                "",
                "41.88",
                "-87.628",
            ],
            [
                "SR4",
                "Graffiti Removal Request",
                "GRAF",
                "Open",
                "13/45/2024 09:00:00 AM",
                "",
                "1 X ST",
                "CHICAGO",
                "",
                "false",
                "",
                "41.9",
                "-87.6",
            ],
            [
                "",
                "Graffiti Removal Request",
                "GRAF",
                "Open",
                "2024-02-01T20:15:00",
                "",
                "1 X ST",
                "CHICAGO",
                "",
                "false",
                "",
                "41.9",
                "-87.6",
            ],
        ],
        gzipped=True,
    )
    result = import_reports(path=path, fmt="chicago311")
    assert result.summary() == "read 5, loaded 3, rejected 2, skipped 0 (already imported)"
    reasons = sorted(RejectedRow.objects.values_list("reason", flat=True))
    assert reasons == ["no source id", "unreadable creation date: 13/45/2024 09:00:00 AM"]
    chicago = ZoneInfo("America/Chicago")
    sr1 = Report.objects.select_related("issue").get(source_id="SR1")
    assert sr1.submitted_at == datetime(2024, 1, 15, 9, 30, tzinfo=chicago)
    assert sr1.issue.resolved_at == datetime(2024, 1, 17, 16, 0, tzinfo=chicago)
    assert Report.objects.get(source_id="SR2").submitted_at == datetime(2024, 1, 15, 10, 0, tzinfo=chicago)
    assert Report.objects.get(source_id="SR3").submitted_at == datetime(
        2024, 2, 2, 2, 15, tzinfo=ZoneInfo("UTC")
    )
    # The duplicate joined its parent's issue.
    sr2 = Report.objects.get(source_id="SR2")
    assert sr2.issue_id == sr1.issue_id and sr2.match == {"method": "source_parent"}
    assert Issue.objects.get(pk=sr1.issue_id).report_count == 2 and Issue.objects.count() == 2


def test_a_parent_loaded_earlier_is_joined_later(tenant_a, tmp_path) -> None:
    first = _write(
        tmp_path / "a.csv",
        CHICAGO_HEADER,
        [
            [
                "SR10",
                "Pothole in Street Complaint",
                "PHF",
                "Open",
                "2024-03-01T08:00:00",
                "",
                "1 A ST",
                "CHICAGO",
                "",
                "false",
                "",
                "41.8",
                "-87.6",
            ],
        ],
    )
    second = _write(
        tmp_path / "b.csv",
        CHICAGO_HEADER,
        [
            [
                "SR11",
                "Pothole in Street Complaint",
                "PHF",
                "Open",
                "2024-03-02T08:00:00",
                "",
                "1 A ST",
                "CHICAGO",
                "",
                "true",
                "SR10",
                "41.8",
                "-87.6",
            ],
        ],
    )
    import_reports(path=first, fmt="chicago311")
    import_reports(path=second, fmt="chicago311")
    sr10, sr11 = (Report.objects.get(source_id=s) for s in ("SR10", "SR11"))
    assert sr11.issue_id == sr10.issue_id and Issue.objects.get(pk=sr10.issue_id).report_count == 2


def test_imported_rows_are_traced_and_left_alone_by_the_sweeper(tenant_a, tmp_path) -> None:
    import_reports(path=_publicstuff(tmp_path), fmt="publicstuff")
    issue = Issue.objects.get(reports__source_id="3")
    batch = issue.reports.get().import_batch
    assert (batch.file_name, batch.source_format) == ("publicstuff.csv", "publicstuff")
    assert report_sweep_stuck(now=timezone.now() + timedelta(days=1)) == {"requeued": 0, "failed": 0}


def test_import_command_prints_one_line(tenant_pair, tmp_path, capsys, db) -> None:
    call_command("import_reports", "alpha", str(_publicstuff(tmp_path)), "--format", "publicstuff")
    assert (
        capsys.readouterr().out.strip().splitlines()[-1]
        == "read 7, loaded 4, rejected 2, skipped 1 (already imported)"
    )


@pytest.mark.skipif(not HOBOKEN.exists(), reason="the shared Hoboken export is not beside this checkout")
def test_the_hoboken_export(tenant_a) -> None:
    result = import_reports(path=HOBOKEN, fmt="publicstuff")
    assert result.summary() == "read 91, loaded 46, rejected 0, skipped 45 (already imported)"
    assert not Report.objects.filter(category=None).exists()


def test_rejected_rows_download_as_csv_from_the_batch_page(client_a, tenant_a, tmp_path) -> None:
    from django.contrib.auth import get_user_model

    batch = import_reports(path=_publicstuff(tmp_path), fmt="publicstuff").batch
    get_user_model().objects.create_superuser("importer", "i@example.org", "pw-import-123456")
    client_a.post("/admin/login/?next=/admin/", {"username": "importer", "password": "pw-import-123456"})
    listing = client_a.get("/admin/reports/importbatch/").content.decode()
    assert "2 rows (CSV)" in listing
    response = client_a.get(f"/admin/reports/importbatch/{batch.pk}/rejected.csv")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(response.content.decode().splitlines()))
    assert rows[0][:3] == ["line", "source_id", "reason"] and "title" in rows[0]
    assert [r[1] for r in rows[1:]] == ["4", "5"]
    assert rows[1][2].startswith("unreadable creation date")


def test_mapped_format_with_a_yaml_mapping(tenant_a, tmp_path) -> None:
    from reports.imports.formats import Mapping

    mapping_file = tmp_path / "ourcity.yaml"
    mapping_file.write_text(
        "columns:\n  source_id: Ticket\n  created: Opened\n  status: State\n  category: Kind\n"
        "  description: Notes\n  address: Where\n"
        "categories:\n  Road hole: potholes\n  Lamp: street_lights\n"
    )
    data = _write(
        tmp_path / "ourcity.csv",
        ["Ticket", "Opened", "State", "Kind", "Notes", "Where"],
        [
            ["T-1", "2024-05-01T10:00:00", "open", "Road hole", "Big one by the bakery", "12 Main St"],
            ["T-2", "2024-05-02T10:00:00", "closed", "Lamp", "Dark corner", "3 Oak Ave"],
            ["T-3", "2024-05-03T10:00:00", "open", "Lamp", "", "3 Oak Ave"],
        ],
    )
    result = import_reports(path=data, fmt="mapped", mapping=Mapping.load(mapping_file))
    assert result.summary() == "read 3, loaded 2, rejected 1, skipped 0 (already imported)"
    assert Report.objects.get(source_id="T-1").category.code == "potholes"
    assert Report.objects.get(source_id="T-2").category.code == "street_lights"
    assert Report.objects.get(source_id="T-1").source == "ourcity"  # the mapping file names the source
    assert RejectedRow.objects.get().reason == "no description"
    # Address-only rows keep no point and are grouped by address.
    assert Report.objects.get(source_id="T-1").issue.address_key == "12 main st"


@pytest.mark.parametrize(
    "yaml_text, message",
    [
        ("columns:\n  source_id: A\n  created: B\n", "map description"),
        (
            "columns:\n  source_id: A\n  created: B\n  description: C\n",
            "map address, or latitude and longitude",
        ),
        ("columns:\n  ticket: A\n", "unknown report fields ticket"),
        ("columns: [unclosed", "not valid YAML"),
    ],
)
def test_bad_mappings_are_explained(tmp_path, yaml_text: str, message: str) -> None:
    from reports.imports.formats import Mapping

    path = tmp_path / "m.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ValueError, match=message):
        Mapping.load(path)


def test_rows_are_grouped_set_based_with_the_pipelines_rules(tenant_a, tmp_path) -> None:
    path = _write(
        tmp_path / "grouping.csv",
        CHICAGO_HEADER,
        [
            _chicago_row("G1", "2024-04-01T08:00:00", "41.880000", "-87.630000"),
            _chicago_row(
                "G2", "2024-04-01T09:00:00", "41.880090", "-87.630000"
            ),  # 10 m, an hour later: same problem
            _chicago_row(
                "G3", "2024-04-02T09:00:00", "41.880000", "-87.630100"
            ),  # 8 m, next day: same problem
            _chicago_row("G4", "2024-04-01T10:00:00", "41.884500", "-87.630000"),  # 500 m away: another
            _chicago_row("G5", "2024-04-20T08:00:00", "41.880000", "-87.630000"),  # weeks later: another
            _chicago_row(
                "G6", "2024-04-01T11:00:00", "41.880000", "-87.630000", kind="Street Light Out Complaint"
            ),  # other kind
            _chicago_row(
                "G7", "2024-04-03T09:00:00", "41.900000", "-87.600000", parent="G8"
            ),  # a chain of parents...
            _chicago_row("G8", "2024-04-03T08:00:00", "41.900000", "-87.600000", parent="G9"),
            _chicago_row("G9", "2024-04-03T07:00:00", "41.950000", "-87.650000"),  # ...to its root
        ],
    )
    assert import_reports(path=path, fmt="chicago311").batch.rows_loaded == 9
    issue_of = dict(Report.objects.values_list("source_id", "issue_id"))
    assert issue_of["G1"] == issue_of["G2"] == issue_of["G3"]
    assert len({issue_of[s] for s in ("G1", "G4", "G5", "G6")}) == 4
    assert issue_of["G7"] == issue_of["G8"] == issue_of["G9"]
    assert Report.objects.get(source_id="G2").match == {"method": "import_grouped"}
    assert Report.objects.get(source_id="G7").match == {"method": "source_parent"}
    assert Issue.objects.get(pk=issue_of["G1"]).report_count == 3
    assert Issue.objects.count() == 5


@pytest.mark.parametrize("bulk", [False, True])
def test_grouping_by_cells_finds_what_comparing_every_pair_finds(
    tenant_a, tmp_path, monkeypatch, bulk: bool
) -> None:
    """Hundreds of rows in a few hundred metres over a few days, so pairs straddle cell
    edges everywhere: the issues the import forms are exactly those that comparing every
    row with every earlier one (great-circle distance, window, earliest first) forms."""
    import math
    import random

    from civicpulse.core.geo import EARTH_RADIUS_M
    from issues.models import Category
    from issues.selectors import grouping_thresholds
    from reports.imports import load

    # Either road, whatever the table's statistics say.
    monkeypatch.setattr(load, "is_bulk", lambda cursor, work: bulk)
    rng = random.Random(7)
    start = datetime(2024, 4, 1, 8, 0)
    rows = []
    for n in range(400):
        at = start + timedelta(minutes=rng.randrange(0, 6 * 24 * 60))
        # Rounded as the file writes them, so both sides measure the same points.
        rows.append(
            (f"P{n}", at, round(41.88 + rng.uniform(0, 0.02), 6), round(-87.63 + rng.uniform(0, 0.02), 6))
        )
    path = _write(
        tmp_path / "cells.csv",
        CHICAGO_HEADER,
        [
            [
                sr,
                "Pothole in Street Complaint",
                "",
                "Open",
                at.isoformat(),
                "",
                "",
                "CHICAGO",
                "",
                "false",
                "",
                f"{lat:.6f}",
                f"{lon:.6f}",
            ]
            for sr, at, lat, lon in rows
        ],
    )
    assert import_reports(path=path, fmt="chicago311").batch.rows_loaded == 400

    rules = grouping_thresholds(Category.objects.get(reports__source_id="P0"))

    def metres(a: tuple, b: tuple) -> float:
        (_, _, lat1, lon1), (_, _, lat2, lon2) = a, b
        p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
        h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
        return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))

    # Each row joins the earliest earlier row within the distance and window; the first
    # row of a chain opens the issue.
    order = {sr: line for line, (sr, *_) in enumerate(rows)}
    earlier = sorted(rows, key=lambda r: (r[1], order[r[0]]))
    root: dict[str, str] = {}
    for i, row in enumerate(earlier):
        parent = next(
            (
                e
                for e in earlier[:i]
                if e[1] >= row[1] - timedelta(hours=rules.window_hours) and metres(row, e) <= rules.radius_m
            ),
            None,
        )
        root[row[0]] = root[parent[0]] if parent else row[0]
    expected = {frozenset(sr for sr in root if root[sr] == r) for r in set(root.values())}
    issue_of = dict(Report.objects.values_list("source_id", "issue_id"))
    found = {frozenset(sr for sr in issue_of if issue_of[sr] == i) for i in set(issue_of.values())}
    assert 100 < len(expected) < 370, (rules, len(expected))  # both joining and opening happen
    assert found == expected


@pytest.mark.parametrize(
    "address, key, parts",
    [
        (
            "12 North Main Street, Apt. 3, Hoboken NJ 07030",
            "12 n main st apt 3",
            {
                "number": "12",
                "direction": "n",
                "street": "main",
                "street_type": "st",
                "unit": "apt 3",
                "zip": "07030",
            },
        ),
        (
            "12 N. Main St",
            "12 n main st",
            {"number": "12", "direction": "n", "street": "main", "street_type": "st"},
        ),
        ("100 N STATE ST, CHICAGO, 60602", "100 n state st", {"zip": "60602"}),
        ("845  Bloomfield St", "845 bloomfield st", {"street": "bloomfield"}),
        ("Müllerstraße 5", "müllerstrasse 5", {"number": ""}),  # not US-style: words kept
        ("#---", "", {}),
    ],
)
def test_address_standardisation(address: str, key: str, parts: dict) -> None:
    from reports.addresses import standardise_address

    std = standardise_address(address)
    assert std.key == key
    for name, value in parts.items():
        assert getattr(std, name) == value


def test_imported_addresses_fill_locations_that_place_later_reports(tenant_a, tmp_path) -> None:
    from reports.models import Location
    from reports.services.intake import report_submit

    path = _write(
        tmp_path / "loc.csv",
        CHICAGO_HEADER,
        [
            [
                "L1",
                "Pothole in Street Complaint",
                "",
                "Open",
                "2024-06-01T08:00:00",
                "",
                "100 N STATE ST",
                "CHICAGO",
                "60602",
                "false",
                "",
                "41.883",
                "-87.628",
            ],
            [
                "L2",
                "Graffiti Removal Request",
                "",
                "Open",
                "2024-06-02T08:00:00",
                "",
                "100 N State Street",
                "CHICAGO",
                "60602",
                "false",
                "",
                "41.884",
                "-87.629",
            ],
        ],
    )
    import_reports(path=path, fmt="chicago311")
    location = Location.objects.get()
    assert (location.address_key, location.street, location.zip) == ("100 n state st", "state", "60602")
    assert (location.latitude, location.longitude) == (41.883, -87.628)  # the first report's point
    assert location.source == "import"  # the city's own records: trusted (docs/security.md)
    placed = report_submit(description="Another pothole", address="100 North State St").report
    assert (placed.latitude, placed.longitude, placed.needs_placement) == (41.883, -87.628, False)


@pytest.mark.worker
def test_two_concurrent_imports_sharing_addresses(django_db_setup, django_db_blocker, tmp_path) -> None:
    import threading

    from django.db import connection, connections
    from django_tenants.utils import tenant_context

    from reports.models import Location
    from tests.support.services import committed_tenant

    files = []
    for n in range(2):
        rows = [
            [
                f"C{n}-{i}",
                "Pothole in Street Complaint",
                "",
                "Open",
                f"2024-07-0{1 + n}T08:00:00",
                "",
                f"{i} N STATE ST",
                "CHICAGO",
                "",
                "false",
                "",
                f"{41.8 + i / 1000:.4f}",
                "-87.6",
            ]
            for i in range(1, 200)
        ]
        files.append(_write(tmp_path / f"c{n}.csv", CHICAGO_HEADER, rows))
    errors: list[BaseException] = []
    with django_db_blocker.unblock(), committed_tenant("import-race", "Import race", "city") as tenant:
        barrier = threading.Barrier(2)

        def run(path: Path) -> None:
            try:
                connection.set_tenant(tenant)
                barrier.wait(10)
                import_reports(path=path, fmt="chicago311")
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=run, args=(p,)) for p in files]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        with tenant_context(tenant):
            assert Location.objects.count() == 199  # each shared address once
            assert Report.objects.count() == 398


def test_seed_history_generates_and_imports_once(tenant_pair, db, capsys) -> None:
    from django_tenants.utils import tenant_context

    call_command("seed_history", "alpha", "--rows", "300")
    assert capsys.readouterr().out.strip() == "read 300, loaded 300, rejected 0, skipped 0 (already imported)"
    with tenant_context(tenant_pair[0]):
        assert Report.objects.filter(channel="import").count() == 300
        assert Report.objects.filter(match__method="source_parent").exists()  # about 5 % name a parent
        assert (
            Issue.objects.filter(status="resolved").exclude(resolved_at=None).exists()
        )  # "Completed" with a closing time
    call_command("seed_history", "alpha", "--rows", "300")
    assert capsys.readouterr().out.strip() == "read 300, loaded 0, rejected 0, skipped 300 (already imported)"


def _grouping_file(tmp_path: Path) -> Path:
    return _write(
        tmp_path / "bulk.csv",
        CHICAGO_HEADER,
        [
            _chicago_row("B1", "2024-04-01T08:00:00", "41.880000", "-87.630000"),
            _chicago_row("B2", "2024-04-01T09:00:00", "41.880090", "-87.630000"),
            _chicago_row("B3", "2024-04-01T10:00:00", "41.890000", "-87.630000", parent="B1"),
            _chicago_row("B4", "2024-04-01T11:00:00", "41.950000", "-87.630000"),
        ],
    )


def test_bulk_issue_ids_leave_gaps_for_lines_that_open_none(tenant_a, tmp_path, monkeypatch) -> None:
    """One block of ids, one per line: a rejected first line, a repeated row and a last
    row that joins an earlier one take none, and ids follow the file's order past the
    issues already there."""
    from reports.imports import load
    from tests.support.factories import IssueFactory

    monkeypatch.setattr(load, "is_bulk", lambda cursor, work: True)
    earlier = IssueFactory(latitude=10.0, longitude=10.0)
    row = partial(_chicago_row, lon="-87.630000")
    path = _write(
        tmp_path / "gaps.csv",
        CHICAGO_HEADER,
        [
            row("C0", "not a date", "41.800000"),  # line 2: rejected
            row("C1", "2024-04-01T08:00:00", "41.880000"),
            row("C1", "2024-04-01T08:00:00", "41.880000"),  # repeated
            row("C2", "2024-04-01T09:00:00", "41.950000"),
            row("C3", "2024-04-01T10:00:00", "41.990000", parent="C1"),  # line 6: joins
        ],
    )
    assert import_reports(path=path, fmt="chicago311").batch.rows_loaded == 3
    issue_of = dict(Report.objects.values_list("source_id", "issue_id"))
    assert issue_of["C3"] == issue_of["C1"] < issue_of["C2"]
    assert earlier.pk < issue_of["C1"] and issue_of["C2"] - issue_of["C1"] == 2  # line 4 left unused
    assert IssueFactory().pk > max(issue_of.values())


def _table_shape() -> set[tuple]:
    """The indexes and foreign keys of the two bulk-loaded tables, as the catalogue has
    them (a rebuilt partial index may print its predicate differently)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT c.relname, a.amname, i.indkey::text, i.indisunique, pg_get_expr(i.indexprs, i.indrelid),
                      i.indpred IS NOT NULL
               FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
               WHERE i.indrelid IN ('reports_report'::regclass, 'issues_issue'::regclass)
               UNION ALL
               SELECT conname, contype::text, conkey::text, convalidated, confrelid::regclass::text,
                      condeferrable AND condeferred
               FROM pg_constraint WHERE conrelid IN ('reports_report'::regclass, 'issues_issue'::regclass)"""
        )
        return set(cursor.fetchall())


def test_a_bulk_load_rebuilds_indexes_and_keys_as_they_were(tenant_a, tmp_path, monkeypatch) -> None:
    from reports.imports import load
    from tests.support.factories import IssueFactory

    # This small file counts as an onboarding load, whatever the table's statistics say.
    monkeypatch.setattr(load, "is_bulk", lambda cursor, work: True)
    before = _table_shape()
    assert import_reports(path=_grouping_file(tmp_path), fmt="chicago311").batch.rows_loaded == 4
    assert _table_shape() == before
    issue_of = dict(Report.objects.values_list("source_id", "issue_id"))
    assert issue_of["B1"] == issue_of["B2"] == issue_of["B3"] != issue_of["B4"]
    assert sorted(Issue.objects.values_list("report_count", flat=True)) == [1, 3]
    # The ids taken as one block leave the sequence past them: the next issue fits.
    assert IssueFactory().pk > max(issue_of.values())


def test_rows_join_an_issue_already_in_the_tenant_when_it_was_open(tenant_a, tmp_path) -> None:
    from issues.models import Category
    from tests.support.factories import IssueFactory

    potholes = Category.objects.get(code="potholes")
    at = datetime(2024, 5, 1, 8, 0, tzinfo=ZoneInfo("America/Chicago"))
    live = IssueFactory(category=potholes, latitude=41.88, longitude=-87.63, created_at=at, last_report_at=at)
    resolved = IssueFactory(
        category=potholes,
        latitude=41.90,
        longitude=-87.63,
        created_at=at,
        last_report_at=at,
        status="resolved",
        resolved_at=at + timedelta(minutes=30),
    )

    row = partial(_chicago_row, lon="-87.630000")

    path = _write(
        tmp_path / "later.csv",
        CHICAGO_HEADER,
        [
            row("E1", "2024-05-01T09:00:00", "41.880050"),  # 6 m from the open issue, an hour later: joins it
            row("E2", "2024-03-01T07:00:00", "41.880050"),  # before that issue existed: its own
            row(
                "E3", "2024-05-01T09:00:00", "41.900050"
            ),  # near the other, but it was resolved by then: its own
        ],
    )
    import_reports(path=path, fmt="chicago311")
    issue_of = dict(Report.objects.values_list("source_id", "issue_id"))
    assert issue_of["E1"] == live.pk and issue_of["E2"] != live.pk and issue_of["E3"] != resolved.pk
    live.refresh_from_db()
    assert live.report_count == 2 and live.last_report_at == at + timedelta(hours=1)
    assert Report.objects.get(source_id="E1").match == {"method": "import_grouped"}


def test_chicago_split_address_columns_are_used(tenant_a, tmp_path) -> None:
    from reports.models import Location

    header = [*CHICAGO_HEADER, "STREET_NUMBER", "STREET_DIRECTION", "STREET_NAME", "STREET_TYPE"]
    path = _write(
        tmp_path / "split.csv",
        header,
        [
            # The one-line address says "Street", the split columns "ST": one place, from the columns.
            [
                "S1",
                "Pothole in Street Complaint",
                "",
                "Open",
                "2024-06-01T08:00:00",
                "",
                "2111 N. Clark Street",
                "CHICAGO",
                "60614",
                "false",
                "",
                "41.92",
                "-87.64",
                "2111",
                "N",
                "CLARK",
                "ST",
            ],
            [
                "S2",
                "Pothole in Street Complaint",
                "",
                "Open",
                "2024-06-09T08:00:00",
                "",
                "2111 N CLARK ST",
                "CHICAGO",
                "60614",
                "false",
                "",
                "41.92",
                "-87.64",
                "2111",
                "N",
                "CLARK",
                "ST",
            ],
        ],
    )
    import_reports(path=path, fmt="chicago311")
    location = Location.objects.get()
    assert (
        location.address_key,
        location.number,
        location.direction,
        location.street,
        location.street_type,
        location.zip,
    ) == ("2111 n clark st", "2111", "n", "clark", "st", "60614")
    assert set(Report.objects.values_list("address_key", flat=True)) == {"2111 n clark st"}


def test_a_malformed_file_is_read_row_by_row_and_bad_dates_are_rejected(tenant_a, tmp_path) -> None:

    path = _write(
        tmp_path / "ragged.csv",
        CHICAGO_HEADER,
        [
            _chicago_row("R1", "02/29/2024 11:59:59 PM"),  # a leap day
            [*_chicago_row("R2", "2024-03-01T08:00:00"), "an extra field"],
            _chicago_row("R3", "02/30/2024 08:00:00 AM"),  # no such day
            _chicago_row("R4", "2023-02-29T08:00:00"),  # not a leap year
            _chicago_row("R5", "2099-01-01T08:00:00"),
            _chicago_row("R6", "2024-03-01"),  # a day without a time: midnight, local
            _chicago_row("R7", "1709280000"),  # Unix seconds
        ],
    )
    result = import_reports(path=path, fmt="chicago311")
    assert result.summary() == "read 7, loaded 3, rejected 4, skipped 0 (already imported)"
    reasons = dict(RejectedRow.objects.values_list("source_id", "reason"))
    assert reasons == {
        "R2": "expected 13 fields, found 14",
        "R3": "unreadable creation date: 02/30/2024 08:00:00 AM",
        "R4": "unreadable creation date: 2023-02-29T08:00:00",
        "R5": "creation date in the future: 2099-01-01T08:00:00",
    }
    assert RejectedRow.objects.get(source_id="R2").line == 3
    chicago = ZoneInfo("America/Chicago")
    submitted = dict(Report.objects.values_list("source_id", "submitted_at"))
    assert submitted["R1"] == datetime(2024, 2, 29, 23, 59, 59, tzinfo=chicago)
    assert submitted["R6"] == datetime(2024, 3, 1, tzinfo=chicago)
    assert submitted["R7"] == datetime.fromtimestamp(1709280000, tz=ZoneInfo("UTC"))


def test_portal_dates_read_the_fast_way_match_the_strict_checks(tenant_a, tmp_path) -> None:
    # A file whose every date is in the portal's CSV form is read by PostgreSQL's own
    # timestamp input; one impossible date sends a file through the strict checks.
    # Both ways must give the same instants.
    dates = [
        "03/10/2024 01:59:59 AM",
        "03/10/2024 03:00:00 AM",
        "11/03/2024 12:00:00 AM",
        "12/31/2024 12:30:00 PM",
        "02/29/2024 11:59:59 PM",
    ]

    # What PostgreSQL's input takes but the strict checks do not is rejected both ways.
    odd = ["01/02/2024 00:15:00 AM", "01/02/2024 10:30:60 AM", "01/02/0999 10:00:00 AM"]
    fast = _write(
        tmp_path / "fast.csv",
        CHICAGO_HEADER,
        [_chicago_row(f"F{i}", d) for i, d in enumerate(dates)]
        + [_chicago_row(f"FX{i}", d) for i, d in enumerate(odd)],
    )
    strict = _write(
        tmp_path / "strict.csv",
        CHICAGO_HEADER,
        [_chicago_row(f"S{i}", d) for i, d in enumerate(dates)]
        + [_chicago_row(f"SX{i}", d) for i, d in enumerate(odd)]
        + [_chicago_row("S9", "02/30/2024 08:00:00 AM")],
    )
    assert import_reports(path=fast, fmt="chicago311").batch.rows_rejected == 3
    assert import_reports(path=strict, fmt="chicago311").batch.rows_rejected == 4
    assert set(RejectedRow.objects.values_list("source_id", flat=True)) == {
        "FX0",
        "FX1",
        "FX2",
        "SX0",
        "SX1",
        "SX2",
        "S9",
    }
    submitted = dict(Report.objects.values_list("source_id", "submitted_at"))
    chicago = ZoneInfo("America/Chicago")
    expected = [
        datetime(2024, 3, 10, 1, 59, 59, tzinfo=chicago),
        datetime(2024, 3, 10, 3, 0, tzinfo=chicago),
        datetime(2024, 11, 3, 0, 0, tzinfo=chicago),
        datetime(2024, 12, 31, 12, 30, tzinfo=chicago),
        datetime(2024, 2, 29, 23, 59, 59, tzinfo=chicago),
    ]
    assert [submitted[f"F{i}"] for i in range(5)] == [submitted[f"S{i}"] for i in range(5)] == expected
    # 01:59:59 and 03:00:00 on the night the clocks spring forward are one second apart.
    assert submitted["F1"] - submitted["F0"] == timedelta(seconds=1)


@pytest.mark.parametrize("bulk", [True, False])
def test_tracking_id_clashes_are_settled(tenant_a, tmp_path, monkeypatch, bulk: bool) -> None:
    """In a bulk load (no unique index while rows are written) clashes are settled before
    writing; in a small one the rows that met one are written again with new ids."""
    from psycopg import sql

    from reports.imports import checks, load

    # Either road, whatever the table's statistics say.
    monkeypatch.setattr(load, "is_bulk", lambda cursor, work: bulk)
    Report.objects.create(
        tracking_id="AAAAAAAAAA", description="An earlier report", latitude=41.8, longitude=-87.6
    )
    # Every row drawn the same tracking id when the rows are checked, one a report already
    # has (the ids drawn again to settle clashes, in `writes`, stay random).
    monkeypatch.setattr(checks, "tracking_sql", lambda expr: sql.Literal("AAAAAAAAAA"))
    assert import_reports(path=_grouping_file(tmp_path), fmt="chicago311").batch.rows_loaded == 4
    ids = list(Report.objects.values_list("tracking_id", flat=True))
    assert len(ids) == len(set(ids)) == 5 and ids.count("AAAAAAAAAA") == 1


def test_drawn_tracking_ids_use_the_whole_alphabet_in_every_position(tenant_a) -> None:
    """A bit fixed by the UUID's version or variant would halve the characters some
    position can take: over 20,000 ids every character shows up in every position."""
    from django.db import connection
    from psycopg import sql

    from reports.imports.checks import tracking_sql
    from reports.models import TRACKING_ALPHABET, TRACKING_LENGTH

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {tracking_sql(sql.Identifier('u')).as_string(cursor.connection)} "
            "FROM (SELECT uuid_send(gen_random_uuid()) AS u FROM generate_series(1, 20000)) g"
        )
        ids = [row[0] for row in cursor.fetchall()]
    assert {len(i) for i in ids} == {TRACKING_LENGTH} and len(set(ids)) == len(ids)
    for position in range(TRACKING_LENGTH):
        assert {i[position] for i in ids} == set(TRACKING_ALPHABET), position


def test_the_work_schema_goes_with_the_import(tenant_a, tmp_path, monkeypatch) -> None:
    from django.db import connection
    from django.db.backends.utils import CursorWrapper

    from reports.imports import load

    def work_schemas() -> list[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'import_work%%'")
            return [name for (name,) in cursor.fetchall()]

    import_reports(path=_grouping_file(tmp_path), fmt="chicago311")
    assert work_schemas() == []

    # A failure at the last step, while the work schema still exists: it goes with the rest.
    def fail(cursor: CursorWrapper, work: str) -> None:
        assert work_schemas() != []
        raise RuntimeError("disk full")

    monkeypatch.setattr(load, "locations_write", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        import_reports(
            path=_write(
                tmp_path / "more.csv",
                CHICAGO_HEADER,
                [
                    [
                        "M1",
                        "Pothole in Street Complaint",
                        "",
                        "Open",
                        "2024-06-01T08:00:00",
                        "",
                        "1 A ST",
                        "CHICAGO",
                        "",
                        "false",
                        "",
                        "41.8",
                        "-87.6",
                    ]
                ],
            ),
            fmt="chicago311",
        )
    assert work_schemas() == [] and not Report.objects.filter(source_id="M1").exists()


def test_reasons_closing_times_and_parent_cycles(tenant_a, tmp_path) -> None:

    path = _write(
        tmp_path / "cases.csv",
        CHICAGO_HEADER,
        [
            _chicago_row("C1", lat="41.8", lon=""),  # one coordinate only
            _chicago_row("X" * 101),  # a source id too long to keep
            [
                "C3",
                "Pothole in Street Complaint",
                "",
                "Open",
                "2024-05-01T08:00:00",
                "",
                "",
                "",
                "",
                "false",
                "",
                "",
                "",
            ],
            _chicago_row("C4", lat="abc"),  # unreadable
            _chicago_row(
                "C5", status="Completed", closed="2024-04-30T08:00:00"
            ),  # closed before it was opened
            _chicago_row("C6", status="Canceled", closed="2024-05-02T08:00:00", lat="41.9"),
            _chicago_row("C7", lat="41.81", parent="C8"),  # C7 and C8 name each other
            _chicago_row("C8", lat="41.82", parent="C7"),
        ],
    )
    assert (
        import_reports(path=path, fmt="chicago311").summary()
        == "read 8, loaded 4, rejected 4, skipped 0 (already imported)"
    )
    assert dict(RejectedRow.objects.values_list("source_id", "reason")) == {
        "C1": "latitude and longitude must come together",
        "X" * 100: "source id longer than 100 characters",
        "C3": "no point and no address",
        "C4": "unreadable coordinates: abc -87.6",
    }
    issue = {r.source_id: r.issue for r in Report.objects.select_related("issue")}
    # An unusable closing time is unknown, not made up: resolved without a time.
    assert issue["C5"].status == "resolved" and issue["C5"].resolved_at is None
    chicago = ZoneInfo("America/Chicago")
    assert issue["C6"].status == "closed" and issue["C6"].closed_at == datetime(2024, 5, 2, 8, tzinfo=chicago)
    # Rows caught in a cycle of parents stand on their own.
    assert issue["C7"].pk != issue["C8"].pk and issue["C7"].report_count == issue["C8"].report_count == 1


def test_the_import_command_refuses_what_it_cannot_load(tenant_pair, tmp_path, db) -> None:
    from django.core.management.base import CommandError

    path = _publicstuff(tmp_path)
    with pytest.raises(CommandError, match="No tenant 'nowhere'"):
        call_command("import_reports", "nowhere", str(path))
    broken = tmp_path / "broken.yaml"
    broken.write_text("columns: [unclosed", encoding="utf-8")
    with pytest.raises(CommandError, match="not valid YAML"):
        call_command("import_reports", "alpha", str(path), "--format", "mapped", "--mapping", str(broken))
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes(",".join(CHICAGO_HEADER).encode() + b"\n" + b"L1,caf\xe9\n" * 5000)
    with pytest.raises(CommandError, match="latin1.csv is not UTF-8 text"):
        call_command("import_reports", "alpha", str(latin1), "--format", "chicago311")


def test_a_file_of_another_format_is_refused_before_anything_is_loaded(tenant_a, tmp_path) -> None:
    from reports.models import ImportBatch

    with pytest.raises(
        ValueError, match="has no column sr_number, sr_type, created_date: is it a chicago311 file"
    ):
        import_reports(path=_publicstuff(tmp_path), fmt="chicago311")
    assert not ImportBatch.objects.exists() and not Report.objects.exists()


def test_a_file_with_only_its_header_loads_nothing(tenant_a, tmp_path) -> None:
    path = _write(tmp_path / "empty.csv", CHICAGO_HEADER, [])
    assert (
        import_reports(path=path, fmt="chicago311").summary()
        == "read 0, loaded 0, rejected 0, skipped 0 (already imported)"
    )


def test_imported_issues_get_the_area_a_live_report_would(tenant_a, tmp_path) -> None:
    from issues.selectors import area_for_point
    from issues.services.taxonomy import area_upsert

    square = lambda x0, y0, x1, y1: [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]  # noqa: E731
    # Downtown with a hole (a park, not downtown), and a two-part Riverside further east.
    downtown = area_upsert(
        code="downtown",
        name="Downtown",
        boundary={
            "type": "Polygon",
            "coordinates": [square(-87.70, 41.80, -87.60, 41.90), square(-87.66, 41.84, -87.64, 41.86)],
        },
    )
    riverside = area_upsert(
        code="riverside",
        name="Riverside",
        boundary={
            "type": "MultiPolygon",
            "coordinates": [[square(-87.55, 41.80, -87.50, 41.85)], [square(-87.45, 41.80, -87.40, 41.85)]],
        },
    )
    points = {
        "A1": ("41.82", "-87.68"),
        "A2": ("41.85", "-87.65"),
        "A3": ("41.82", "-87.42"),
        "A4": ("41.95", "-87.20"),
    }
    rows = [
        [
            sr,
            "Graffiti Removal Request",
            "",
            "Open",
            f"2024-0{n + 1}-01T08:00:00",
            "",
            "1 A ST",
            "CHICAGO",
            "",
            "false",
            "",
            lat,
            lon,
        ]
        for n, (sr, (lat, lon)) in enumerate(points.items())
    ]
    import_reports(path=_write(tmp_path / "areas.csv", CHICAGO_HEADER, rows), fmt="chicago311")
    area_of = dict(
        Issue.objects.filter(reports__source_id__in=points).values_list("reports__source_id", "area_id")
    )
    assert area_of == {"A1": downtown.pk, "A2": None, "A3": riverside.pk, "A4": None}  # A2: in the park
    for sr, (lat, lon) in points.items():
        live = area_for_point(float(lat), float(lon))
        assert area_of[sr] == (live.pk if live else None)
