"""Scores: the 70/30 weighting (and a tenant's own), the minimum-sample rule, rankings,
snapshots kept as history, open and backlog figures, and the copy to the public
leaderboard honouring the opt-out."""

import statistics
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from analytics.scores.models import ScoreRun, ScoreScope, ScoreSettings, ScoreSnapshot
from analytics.scores.selectors import score_trend
from analytics.scores.services import scores_compute
from tenants.models import LeaderboardEntry, Tenant
from tenants.selectors import leaderboard_latest
from tests.support.factories import AreaFactory, CategoryFactory, IssueFactory
from tests.support.scoring_helpers import resolved_issue


def _snap(run: ScoreRun, **lookup: object) -> ScoreSnapshot:
    return ScoreSnapshot.objects.get(run=run, **lookup)


def test_score_weights_compliance_and_speed_70_30_by_default(tenant_a) -> None:
    area = AreaFactory(code="north_sc")
    uses = [0.2, 0.4, 0.5, 0.9, 1.5, 3.0, 0.3, 0.6, 0.8, 2.0]  # 7 met, 3 missed
    for used in uses:
        resolved_issue(area=area, used=used)
    run = scores_compute()
    snap = _snap(run, scope=ScoreScope.AREA, area=area)
    speed = max(0.0, min(1.0, 1 - statistics.median(uses) / 2))
    assert snap.resolved == 10 and snap.met == 7 and snap.compliance == pytest.approx(0.7)
    assert snap.speed == pytest.approx(speed)
    assert snap.score == pytest.approx(round(100 * (0.7 * 0.7 + 0.3 * speed), 2))
    assert run.compliance_weight == 0.7 and run.min_resolved == 10


def test_a_tenant_chooses_its_own_weights(tenant_a) -> None:
    area = AreaFactory(code="south_sc")
    for used in [0.2] * 5 + [2.5] * 5:  # half met; median use 1.35: speed 0.325
        resolved_issue(area=area, used=used)
    ScoreSettings.objects.filter(id=1).update(compliance_weight=0.5)
    run = scores_compute()
    snap = _snap(run, scope=ScoreScope.AREA, area=area)
    assert snap.score == pytest.approx(100 * (0.5 * 0.5 + 0.5 * 0.325))
    assert run.compliance_weight == 0.5


def test_an_area_below_the_minimum_of_resolved_issues_gets_no_score_nor_rank(tenant_a) -> None:
    big, small, better = (
        AreaFactory(code="big_sc"),
        AreaFactory(code="small_sc"),
        AreaFactory(code="better_sc"),
    )
    for _ in range(10):
        resolved_issue(area=big, used=0.9)
        resolved_issue(area=better, used=0.1)
    for _ in range(9):
        resolved_issue(area=small, used=0.1)  # perfect, but nine are too few
    run = scores_compute()
    assert _snap(run, scope=ScoreScope.AREA, area=small).score is None
    assert _snap(run, scope=ScoreScope.AREA, area=small).rank is None
    assert (
        _snap(run, scope=ScoreScope.AREA, area=small).compliance == 1.0
    )  # figures stay, only the score goes
    assert _snap(run, scope=ScoreScope.AREA, area=better).rank == 1
    assert _snap(run, scope=ScoreScope.AREA, area=big).rank == 2
    ScoreSettings.objects.filter(id=1).update(min_resolved=9)
    again = scores_compute()
    assert _snap(again, scope=ScoreScope.AREA, area=small).score is not None


def test_reported_open_and_backlog_age_and_the_window(tenant_a) -> None:
    roads = CategoryFactory(code="roads_sc")
    now = timezone.now()
    IssueFactory(category=roads, created_at=now - timedelta(days=3))
    IssueFactory(category=roads, created_at=now - timedelta(days=40))  # open, reported before the window
    resolved_issue(category=roads, resolved_ago=timedelta(days=45))  # resolved before the window: not counted
    # Imported history resolved at an unknown time: neither open nor resolved in the window.
    IssueFactory(category=roads, created_at=now - timedelta(days=50), status="resolved", resolved_at=None)
    run = scores_compute(now=now)
    snap = _snap(run, scope=ScoreScope.CATEGORY, category=roads)
    assert (snap.reported, snap.open_count, snap.resolved) == (1, 2, 0)
    assert snap.backlog_max_hours == pytest.approx(40 * 24, abs=0.1)
    assert snap.backlog_median_hours == pytest.approx((40 + 3) / 2 * 24, abs=0.1)
    assert snap.score is None and snap.compliance is None and snap.speed is None
    whole = _snap(run, scope=ScoreScope.TENANT)
    assert whole.reported >= 1 and whole.open_count >= 2


def test_each_computation_is_kept_as_history(tenant_a) -> None:
    area = AreaFactory(code="hist_sc")
    now = timezone.now()
    for day in range(3):
        resolved_issue(area=area, used=0.5, resolved_ago=timedelta(days=day, hours=1), now=now)
    first = scores_compute(now=now - timedelta(days=1))
    second = scores_compute(now=now)
    assert ScoreRun.objects.count() == 2
    assert _snap(first, scope=ScoreScope.AREA, area=area).resolved == 2
    assert _snap(second, scope=ScoreScope.AREA, area=area).resolved == 3
    trend = list(score_trend(scope=ScoreScope.AREA, area_id=area.pk, daily=False))
    assert [s.resolved for s in trend] == [2, 3]


def test_the_tenant_figures_reach_the_leaderboard_unless_it_opted_out(tenant_a, tenant_pair) -> None:
    for _ in range(10):
        resolved_issue(used=0.5)
    scores_compute()
    entry = LeaderboardEntry.objects.get(tenant=tenant_a)
    assert entry.kind == "city" and entry.resolved >= 10 and entry.score is not None
    assert tenant_a.pk in [e.tenant_id for e in leaderboard_latest()["city"]]

    Tenant.objects.filter(pk=tenant_a.pk).update(leaderboard_enabled=False)
    scores_compute()
    assert LeaderboardEntry.objects.filter(tenant=tenant_a).count() == 1  # nothing new left the schema
    assert tenant_a.pk not in [e.tenant_id for e in leaderboard_latest().get("city", [])]
    # The public leaderboard page, on the public host, shows neither.
    connection.set_schema_to_public()
    from django.test import Client

    page = Client(HTTP_HOST="localhost").get("/leaderboard/").content.decode()
    assert tenant_a.name not in page


def test_leaderboard_compares_tenants_of_the_same_kind(tenant_a, tenant_pair) -> None:
    beta = tenant_pair[1]
    Tenant.objects.filter(pk=beta.pk).update(leaderboard_enabled=True)  # a hotel opts in
    LeaderboardEntry.objects.create(
        tenant=beta,
        kind=beta.kind,
        computed_at=timezone.now(),
        window_days=30,
        reported=5,
        resolved=5,
        compliance=1.0,
        median_hours=2.0,
        score=90.0,
    )
    for _ in range(10):
        resolved_issue(used=0.5)
    scores_compute()
    board = leaderboard_latest()
    assert [e.tenant_id for e in board["hotel"]] == [beta.pk]
    assert [e.tenant_id for e in board["city"]] == [tenant_a.pk]
    connection.set_schema_to_public()
    from django.test import Client

    page = Client(HTTP_HOST="localhost").get("/leaderboard/").content.decode()
    assert page.count("<svg") == 2 and "Beta Hotel" in page and "Alpha City" in page


def test_scores_and_rules_run_hourly_on_the_cpu_queue() -> None:
    from django.conf import settings

    from civicpulse.celery import app

    for name, task in (
        ("analytics-scores-compute", "analytics.scores_compute"),
        ("analytics-rules-evaluate", "analytics.rules_evaluate"),
    ):
        assert settings.CELERY_BEAT_SCHEDULE[name] == {
            "task": task,
            "schedule": 3600.0,
            "options": {"queue": "cpu"},
        }
        assert app.amqp.router.route({}, task)["queue"].name == "cpu"
        assert task in app.tasks


def test_the_tasks_call_their_services(tenant_a) -> None:
    from analytics.rules.models import Rule
    from analytics.rules.tasks import evaluate_rules
    from analytics.scores.tasks import compute_scores

    run_id = compute_scores.run()
    assert ScoreRun.objects.filter(pk=run_id).exists()
    Rule.objects.filter(code="aging_open").update(params={"count": 1, "days": 0})
    IssueFactory(area=AreaFactory(code="tasks_sc"), created_at=timezone.now() - timedelta(hours=1))
    counts = evaluate_rules.run()
    assert counts["raised"] >= 1 and counts["cleared"] == 0


def test_days_and_weeks_of_trends_are_the_tenants_own(tenant_a, client_a) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from analytics.dashboards.selectors import dashboard_compliance_trend

    # Tenant A keeps Chicago time. Sunday 10 March 2024 at 15:00 and at 22:00 there are
    # one local day, though 22:00 is Monday 03:00 in UTC.
    utc = ZoneInfo("UTC")
    afternoon, evening = datetime(2024, 3, 10, 20, tzinfo=utc), datetime(2024, 3, 11, 3, tzinfo=utc)
    scores_compute(now=afternoon)
    latest = scores_compute(now=evening)
    daily = list(score_trend(scope=ScoreScope.TENANT, since=afternoon - timedelta(hours=1), daily=True))
    assert [s.run_id for s in daily] == [latest.pk]
    # The API's dates are the tenant's days too: 10 March holds the evening run.
    from civicpulse.apikeys.services import api_key_create
    from tests.conftest import api

    reader = api(client_a, api_key_create(name="trend", scopes=["read"])[1])
    sunday = reader.get("/api/v1/scores/trend/?scope=tenant&since=2024-03-10&until=2024-03-10").json()[
        "results"
    ]
    assert [row["computed_at"] for row in sunday] == [evening.isoformat()]

    # The same evening closes the local week that began on Monday 4 March.
    for resolved_at in (evening, evening + timedelta(hours=12)):
        resolved_issue(now=resolved_at, resolved_ago=timedelta(0))
    trend = dashboard_compliance_trend(since=afternoon, until=evening + timedelta(days=1))
    assert [row[:2] for row in trend.rows] == [["2024-03-04", 1], ["2024-03-11", 1]]
