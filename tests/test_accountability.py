"""The public accountability page (no login) and the staff dashboard, through Django's
client: what each shows, what a tenant switched off, the minimum-sample rule, CSV
downloads, and the read-scope API of scores, trends, rankings and flags."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from analytics.rules.models import Flag, Rule
from analytics.rules.services import rules_evaluate
from analytics.scores.models import ScoreSettings
from analytics.scores.services import scores_compute
from civicpulse.apikeys.services import api_key_create
from tenants.models import Tenant
from tests.conftest import api
from tests.support.factories import AreaFactory, CategoryFactory, IssueFactory
from tests.support.scoring_helpers import resolved_issue


def _seed() -> tuple:
    roads = CategoryFactory(code="roads_acc", name="Roads")
    parks = CategoryFactory(code="parks_acc", name="Parks")
    ring = [[-87.70, 41.80], [-87.60, 41.80], [-87.60, 41.90], [-87.70, 41.90], [-87.70, 41.80]]
    north = AreaFactory(
        code="north_acc", name="Northside", boundary={"type": "Polygon", "coordinates": [ring]}
    )
    south = AreaFactory(code="south_acc", name="Southside")
    for n in range(12):
        resolved_issue(area=north, category=roads, used=0.4 if n % 4 else 1.5)
    for _ in range(3):
        resolved_issue(area=south, category=parks, used=0.2)
    IssueFactory(
        area=north,
        category=roads,
        latitude=41.85,
        longitude=-87.65,
        created_at=timezone.now() - timedelta(hours=1),
    )
    return roads, parks, north, south


@pytest.mark.slow
def test_public_page_shows_figures_targets_rankings_and_withholds_small_samples(client_a, tenant_a) -> None:
    _seed()
    scores_compute()
    page = client_a.get("/accountability/")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count("<svg") >= 6  # trend, reported and compliance per category and area, rankings
    assert "Northside" in html and "Southside" in html and "Roads" in html
    assert "too few fixed to judge" in html  # Southside and Parks: three fixes, fewer than ten
    assert "Areas ranked" in html and "Our published targets" in html
    assert 'name="viewport"' in html


def test_public_page_hides_what_the_tenant_switched_off(client_a, tenant_a) -> None:
    _seed()
    scores_compute()
    ScoreSettings.objects.filter(id=1).update(public_rankings=False)
    html = client_a.get("/accountability/").content.decode()
    assert "Areas ranked" not in html and "By area" in html
    Tenant.objects.filter(pk=tenant_a.pk).update(public_page_enabled=False)
    assert client_a.get("/accountability/").status_code == 404
    assert "How we are doing" not in client_a.get("/").content.decode()


def test_public_page_before_any_computation(client_a, tenant_a) -> None:
    html = client_a.get("/accountability/").content.decode()
    assert "after the first hourly computation" in html and "Our published targets" in html


def test_staff_dashboard_charts_tables_filters_and_csv(client_a, tenant_a) -> None:
    roads, _, north, _ = _seed()
    IssueFactory(
        area=north,
        category=roads,
        latitude=41.85,
        longitude=-87.65,
        status="in_progress",
        created_at=timezone.now() - timedelta(hours=1),
    )
    Rule.objects.filter(code="aging_open").update(params={"count": 1, "days": 0})
    rules_evaluate()
    get_user_model().objects.create_superuser("dash", "d@example.org", "pw-dash-123456")
    client_a.post("/admin/login/", {"username": "dash", "password": "pw-dash-123456"})
    url = "/admin/analytics/scorerun/dashboard/"
    html = client_a.get(url, {"period": 30, "area": north.pk}).content.decode()
    for title in (
        "Open issues by status and age",
        "SLA compliance per week",
        "Breaches by category",
        "Breaches by area",
        "Active flags",
        "Weighted concern by area",
        "Open issues on the map",
    ):
        assert title in html
    assert html.count('role="img"') == 7 and "<polygon" in html and "<circle" in html
    rows = list(
        csv.reader(io.StringIO(client_a.get(url, {"area": north.pk, "csv": "backlog"}).content.decode()))
    )
    assert rows[0][0] == "Status" and rows[1][0] == "Open" and rows[1][-1] == "1" and rows[3][-1] == "1"
    trend = client_a.get(url, {"csv": "trend"})
    assert trend["Content-Type"].startswith("text/csv") and "Compliance" in trend.content.decode()
    flags = list(csv.reader(io.StringIO(client_a.get(url, {"csv": "flags"}).content.decode())))
    assert any(row[0] == "aging_open" for row in flags[1:])
    client_a.logout()
    assert client_a.get(url).status_code == 302  # staff only


def test_api_scores_trend_rankings_and_flags(client_a, tenant_a) -> None:
    _, _, north, south = _seed()
    scores_compute()
    scores_compute()
    Rule.objects.filter(code="aging_open").update(params={"count": 1, "days": 0})
    rules_evaluate()
    key = api_key_create(name="scores", scopes=["read"])[1]
    client = api(client_a, key)
    latest = client.get("/api/v1/scores/").json()
    assert latest["weights"] == {"compliance": 0.7, "speed": 0.3} and latest["min_resolved"] == 10
    areas = {a["area"]: a for a in latest["areas"]}
    assert areas["north_acc"]["resolved"] == 12 and areas["north_acc"]["score"] is not None
    assert areas["south_acc"]["score"] is None and areas["south_acc"]["rank"] is None
    trend = client.get("/api/v1/scores/trend/?scope=area&area=north_acc&daily=false").json()
    assert trend["count"] == 2 and trend["results"][0]["area"] == "north_acc"
    assert client.get("/api/v1/scores/trend/?scope=area").status_code == 400
    assert client.get("/api/v1/scores/trend/?scope=area&area=nowhere").status_code == 404
    ranks = client.get("/api/v1/scores/rankings/").json()["results"]
    assert [r["area"] for r in ranks][:1] == ["north_acc"] and ranks[0]["rank"] == 1
    flags = client.get("/api/v1/flags/?rule=aging_open").json()
    assert flags["count"] >= 1 and flags["results"][0]["rule_version"] == 1
    assert flags["results"][0]["count"] == Flag.objects.filter(rule__code="aging_open").first().support
    submit_only = api_key_create(name="submitter", scopes=["submit"])[1]
    assert api(client_a, submit_only).get("/api/v1/scores/").status_code == 403
    assert api(client_a, None).get("/api/v1/flags/").status_code == 401


def test_api_scores_before_any_computation_is_404(client_a, tenant_a) -> None:
    key = api_key_create(name="scores", scopes=["read"])[1]
    response = api(client_a, key).get("/api/v1/scores/")
    assert response.status_code == 404 and "code" in response.json()


def test_the_runs_list_links_to_the_dashboard(client_a, tenant_a) -> None:
    scores_compute()
    get_user_model().objects.create_superuser("runs", "r@example.org", "pw-runs-123456")
    client_a.post("/admin/login/", {"username": "runs", "password": "pw-runs-123456"})
    html = client_a.get("/admin/analytics/scorerun/").content.decode()
    assert "/admin/analytics/scorerun/dashboard/" in html


def test_public_page_query_count_is_pinned(client_a, tenant_a, django_assert_num_queries) -> None:
    # The tenant by host, then settings, latest run, policies, the tenant's, categories'
    # and areas' snapshots and the trend (8 queries, and one SET search_path for the public
    # schema and one for the tenant's): however many issues and areas.
    _seed()
    scores_compute()
    client_a.get("/accountability/")
    with django_assert_num_queries(10):
        assert client_a.get("/accountability/").status_code == 200
    for _ in range(30):
        resolved_issue(used=0.5)
    scores_compute()
    with django_assert_num_queries(10):
        client_a.get("/accountability/")


def test_compute_scores_command_backfills_and_evaluates(tenant_a, capsys) -> None:
    from django.core.management import call_command

    from analytics.scores.models import ScoreRun

    _seed()
    call_command("compute_scores", "alpha", "--backfill-days", "3")
    out = capsys.readouterr().out
    assert "runs: 4" in out and "flags_raised:" in out
    assert ScoreRun.objects.count() == 4


def test_the_map_names_each_area_at_the_middle_of_its_outer_ring() -> None:
    from civicpulse.core.charts import points_map_svg

    square = [[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0], [0.0, 0.0]]
    hole = [[0.5, 0.5], [1.0, 0.5], [1.0, 1.0], [0.5, 0.5]]
    far = [[10.0, 0.0], [12.0, 0.0], [12.0, 2.0], [10.0, 2.0], [10.0, 0.0]]
    svg = str(
        points_map_svg(
            [
                ("Downtown", {"type": "Polygon", "coordinates": [square, hole]}),
                ("Islands", {"type": "MultiPolygon", "coordinates": [[far], [square]]}),
            ],
            [(1.0, 1.0, "a report")],
            title="Map",
            width=620,
            height=200,
        )
    )
    labels = re.findall(r'<text x="([0-9.]+)" y="([0-9.]+)"[^>]*>([^<]+)</text>', svg)
    assert [name for _, _, name in labels] == ["Downtown", "Islands"]  # once each, by its first outer ring
    (down_x, down_y, _), (isl_x, isl_y, _) = labels
    assert float(down_x) < float(isl_x) and down_y == isl_y  # Downtown's middle, then the far polygon's
    assert svg.count("<polygon") == 4 and "a report" in svg  # every ring drawn, holes too
