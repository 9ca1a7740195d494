"""Rules: each fires at its threshold and not below it, is evaluated from its SQL file
with the thresholds of its row, and is versioned: an edit makes a new version, flags
keep the version that raised them, deactivation clears them; all through the admin too.
The rules' views in the database say what their files say."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.utils import timezone

from analytics.rules.definitions import RULE_DEFINITIONS
from analytics.rules.loader import load_rule_sql, rule_firing_sql
from analytics.rules.models import Flag, Rule, RuleVersion
from analytics.rules.services import rule_revise, rules_evaluate
from civicpulse.core.geo import METRES_PER_DEGREE
from issues.models import IssueStatus
from issues.services.workflow import issue_transition
from tests.support.factories import AreaFactory, CategoryFactory, IssueFactory
from tests.support.scoring_helpers import resolved_issue

METRE = 1 / METRES_PER_DEGREE  # degrees of latitude


def _active(code: str) -> list[Flag]:
    rules_evaluate()
    return list(Flag.objects.filter(rule__code=code, cleared_at=None).order_by("subject"))


def _only(code: str) -> None:
    """Switch the other rules off, so each test sees only the rule under test."""
    Rule.objects.exclude(code=code).update(active=False)


@pytest.mark.parametrize(
    ("offsets_m", "fires"),
    [
        ((0, 20, 40), True),  # three issues within 50 m of the first
        ((0, 20), False),  # two are fewer than three
        ((0, 20, 80), False),  # the third is too far
        ((0, 25, 49), True),  # just inside the radius
        ((0, 25, 51), False),  # just outside it
    ],
)
def test_repeat_location(tenant_a, offsets_m, fires) -> None:
    _only("repeat_location")
    issues = [IssueFactory(latitude=41.0 + m * METRE, longitude=-87.6) for m in offsets_m]
    IssueFactory(latitude=41.0, longitude=-87.6, created_at=timezone.now() - timedelta(days=31))  # too old
    flags = _active("repeat_location")
    if fires:
        assert len(flags) == 1 and flags[0].issue_id == issues[0].pk and flags[0].support == 3
        assert flags[0].rule_version == 1 and flags[0].params == {"count": 3, "radius_m": 50, "days": 30}
    else:
        assert flags == []


@pytest.mark.parametrize(("missed", "resolved", "fires"), [(3, 10, True), (2, 10, False), (9, 9, False)])
def test_chronic_breach_in_an_area(tenant_a, missed, resolved, fires) -> None:
    _only("chronic_breach")
    area = AreaFactory(code="breachy")
    for n in range(resolved):
        resolved_issue(area=area, used=1.5 if n < missed else 0.5)
    flags = _active("chronic_breach")
    assert [(f.subject, f.support) for f in flags] == ([(f"area:{area.pk}", missed)] if fires else [])


@pytest.mark.parametrize(("count", "age_days", "fires"), [(5, 31, True), (4, 31, False), (5, 29, False)])
def test_aging_open_issues(tenant_a, count, age_days, fires) -> None:
    _only("aging_open")
    area = AreaFactory(code="slow")
    for _ in range(count):
        IssueFactory(area=area, created_at=timezone.now() - timedelta(days=age_days))
    IssueFactory(
        area=area,
        created_at=timezone.now() - timedelta(days=60),
        status=IssueStatus.RESOLVED,
        resolved_at=timezone.now(),
    )  # not open: never counts
    flags = _active("aging_open")
    assert [(f.area_id, f.support) for f in flags] == ([(area.pk, count)] if fires else [])


def test_reopened_issue_fires_and_a_merely_resolved_one_does_not(tenant_a) -> None:
    _only("reopened")
    reopened, resolved = IssueFactory(), IssueFactory()
    for issue in (reopened, resolved):
        issue_transition(issue_id=issue.pk, to_status=IssueStatus.RESOLVED)
    issue_transition(issue_id=reopened.pk, to_status=IssueStatus.OPEN)
    flags = _active("reopened")
    assert [(f.issue_id, f.support) for f in flags] == [(reopened.pk, 1)]
    rule_revise(rule_id=Rule.objects.get(code="reopened").pk, params={"count": 2, "days": 30})
    assert _active("reopened") == []  # once is below a threshold of two


@pytest.mark.parametrize(("baseline", "recent", "fires"), [(8, 5, True), (8, 4, False), (24, 5, False)])
def test_category_surge_against_its_usual_rate(tenant_a, baseline, recent, fires) -> None:
    # Defaults: the last 7 days against the 56 before, at least 5 and twice the usual.
    _only("category_surge")
    potholes = CategoryFactory(code="surge_cat")
    now = timezone.now()
    for n in range(baseline):
        IssueFactory(category=potholes, created_at=now - timedelta(days=8 + n * 48 / max(baseline, 1)))
    for n in range(recent):
        IssueFactory(category=potholes, created_at=now - timedelta(days=n + 0.5))
    flags = _active("category_surge")
    assert [(f.category_id, f.support) for f in flags] == ([(potholes.pk, recent)] if fires else [])
    if fires:
        assert flags[0].detail == {"usual": round(baseline * 7 / 56, 2)}


def test_a_rule_edit_is_a_new_version_and_flags_keep_theirs(tenant_a) -> None:
    _only("aging_open")
    rule = Rule.objects.get(code="aging_open")
    area = AreaFactory(code="versions")
    for _ in range(3):
        IssueFactory(area=area, created_at=timezone.now() - timedelta(days=40))
    assert _active("aging_open") == []
    revised = rule_revise(rule_id=rule.pk, params={"count": 3, "days": 30})
    assert revised.version == 2
    [v2] = _active("aging_open")
    assert v2.rule_version == 2 and v2.params["count"] == 3
    assert rule_revise(rule_id=rule.pk, description="Reworded only.").version == 2  # words are no version
    rule_revise(rule_id=rule.pk, params={"count": 2, "days": 30})
    [v3] = _active("aging_open")
    v2.refresh_from_db()
    assert v3.rule_version == 3 and v2.cleared_at is not None and v2.rule_version == 2
    assert list(RuleVersion.objects.filter(rule=rule).values_list("version", flat=True)) == [3, 2, 1]
    # Evaluating again keeps the same flag.
    assert _active("aging_open") == [v3]
    rule_revise(rule_id=rule.pk, active=False)
    assert _active("aging_open") == []


def test_bad_thresholds_are_refused(tenant_a) -> None:
    from django.core.exceptions import ValidationError

    rule = Rule.objects.get(code="repeat_location")
    with pytest.raises(ValidationError):
        rule_revise(rule_id=rule.pk, params={"count": 3, "radius_m": -5, "days": 30})
    with pytest.raises(ValidationError):
        rule_revise(rule_id=rule.pk, params={"count": 3})


def test_deactivating_and_reweighting_is_an_admin_edit(client_a, tenant_a) -> None:
    get_user_model().objects.create_superuser("rules", "r@example.org", "pw-rules-123456")
    client_a.post("/admin/login/", {"username": "rules", "password": "pw-rules-123456"})
    rule = Rule.objects.get(code="reopened")
    form = {
        "description": rule.description,
        "params": '{"count": 1, "days": 30}',
        "weight": "2.5",
        "versions-TOTAL_FORMS": "1",
        "versions-INITIAL_FORMS": "1",
        "versions-MIN_NUM_FORMS": "0",
        "versions-MAX_NUM_FORMS": "1000",
        "versions-0-id": str(rule.versions.get().pk),
        "versions-0-rule": str(rule.pk),
    }
    response = client_a.post(f"/admin/analytics/rule/{rule.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    rule.refresh_from_db()
    assert (rule.weight, rule.active, rule.version) == (2.5, False, 2)
    assert client_a.get(f"/admin/analytics/rule/{rule.pk}/change/").status_code == 200


def test_flags_are_weighed_together_per_area_with_their_rules_weights(tenant_a, client_a) -> None:
    from analytics.dashboards.selectors import dashboard_concern_by_area

    _only("aging_open")
    rule = Rule.objects.get(code="aging_open")
    rule_revise(rule_id=rule.pk, params={"count": 3, "days": 30}, weight=2.5)
    alder, birch = AreaFactory(code="alder", name="Alder"), AreaFactory(code="birch", name="Birch")
    for area in (alder, birch):
        for _ in range(3):
            IssueFactory(area=area, created_at=timezone.now() - timedelta(days=40))
    assert len(_active("aging_open")) == 2
    # A flag on one issue counts for the issue's area.
    now = timezone.now()
    Flag.objects.create(
        rule=Rule.objects.get(code="reopened"),
        rule_version=1,
        params={},
        weight=1.0,
        subject="issue:alder",
        issue=IssueFactory(area=alder),
        support=2,
        first_seen_at=now,
        last_seen_at=now,
    )
    assert dashboard_concern_by_area().rows == [["Alder", 2, 3.5], ["Birch", 1, 2.5]]
    assert dashboard_concern_by_area(area_id=birch.pk).rows == [["Birch", 1, 2.5]]


def _as_parsed(cursor: CursorWrapper, name: str, query: str) -> str:
    """`query` as PostgreSQL reads it back from a view, read once more: a view copied from
    its printed definition (as the tenant template's schema is cloned) prints its casts
    differently the first time, then steadily."""
    for step in (1, 2):
        cursor.execute(f"CREATE TEMPORARY VIEW {name}_{step} AS {query}")
        cursor.execute("SELECT pg_get_viewdef(%s::regclass)", [f"{name}_{step}"])
        query = cursor.fetchone()[0]
    return query


def test_the_views_in_the_database_are_the_rule_files(tenant_a) -> None:
    """The migrations' views and the files the reconcile reads are one rule each: the same
    query, as PostgreSQL parses it (comments and layout aside)."""
    with connection.cursor() as cursor:
        for code in RULE_DEFINITIONS:
            cursor.execute("SELECT pg_get_viewdef(%s::regclass)", [f"analytics_rule_{code}"])
            installed = cursor.fetchone()[0]
            assert _as_parsed(cursor, f"db_{code}", installed) == _as_parsed(
                cursor, f"file_{code}", load_rule_sql(code)
            ), code


def test_the_rule_files_spell_no_status_and_read_together_as_the_union_view(tenant_a) -> None:
    for code in RULE_DEFINITIONS:
        query = load_rule_sql(code)
        assert "{" not in query and not query.endswith(";"), code
    assert "'acknowledged'" in load_rule_sql("aging_open")  # filled in from issues.models
    _only("aging_open")
    IssueFactory.create_batch(5, created_at=timezone.now() - timedelta(days=40))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT subject, support FROM ({rule_firing_sql()}) f ORDER BY subject")
        from_files = cursor.fetchall()
        cursor.execute("SELECT subject, support FROM analytics_rule_firing ORDER BY subject")
        assert cursor.fetchall() == from_files == [("area:none", 5)]
