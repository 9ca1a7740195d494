"""The SLA API (scope `read`): policies, one issue's SLA, paginated metrics; keys of
another tenant are unknown, keys without `read` are refused."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone

from analytics.sla.models import PauseReason
from analytics.sla.services.evaluation import sla_evaluate, sla_metrics_recompute
from analytics.sla.services.pauses import issue_pause
from civicpulse.apikeys.services import api_key_create
from issues.models import IssueStatus, Severity
from tests.conftest import api
from tests.support.factories import CategoryFactory, IssueFactory

CHICAGO = ZoneInfo("America/Chicago")


def test_policies_lists_the_current_versions(client_a, api_key_a) -> None:
    response = api(client_a, api_key_a).get("/api/v1/sla/policies/")
    assert response.status_code == 200
    rows = response.json()["results"]
    high = next(r for r in rows if r["category"] is None and r["severity"] == Severity.HIGH)
    assert high == {
        **high,
        "acknowledge_hours": 4.0,
        "resolve_hours": 72.0,
        "clock": "business",
        "version": 1,
        "superseded_at": None,
    }


def test_issue_sla_shows_state_deadlines_time_left_and_paused_time(client_a, api_key_a) -> None:
    now = timezone.now()
    issue = IssueFactory(severity=Severity.HIGH, created_at=now - timedelta(days=20))
    issue_pause(
        issue_id=issue.pk,
        reason=PauseReason.objects.get(code="resident"),
        actor=None,
        at=now - timedelta(hours=2),
    )
    sla_evaluate(now=now)
    body = api(client_a, api_key_a).get(f"/api/v1/issues/{issue.pk}/sla/").json()
    assert body["state"] == "breached" and body["paused"] is True
    assert body["paused_hours"] >= 2.0 and body["time_left_hours"] < 0
    assert body["policy"]["version"] == 1 and body["acknowledge_due_at"] is not None
    assert api(client_a, api_key_a).get("/api/v1/issues/999999/sla/").status_code == 404


def test_metrics_are_filtered_and_paginated(client_a, api_key_a) -> None:
    roads = CategoryFactory(code="roads_api")
    for day in (4, 5, 6):
        IssueFactory(
            category=roads,
            severity=Severity.LOW,
            created_at=datetime(2026, 5, day, 9, tzinfo=CHICAGO),
            status=IssueStatus.RESOLVED,
            resolved_at=datetime(2026, 5, day, 12, tzinfo=CHICAGO),
        )
    IssueFactory(
        severity=Severity.LOW,
        created_at=datetime(2026, 5, 4, 9, tzinfo=CHICAGO),
        status=IssueStatus.CLOSED,
        resolved_at=datetime(2026, 5, 4, 10, tzinfo=CHICAGO),
    )
    assert sla_metrics_recompute() == 4
    client = api(client_a, api_key_a)
    body = client.get("/api/v1/sla/metrics/?category=roads_api&since=2026-05-05&page_size=1").json()
    assert body["count"] == 2 and len(body["results"]) == 1 and body["next"]
    first = body["results"][0]
    assert first["category"] == "roads_api" and first["resolve_hours"] == 3.0 and first["resolve_met"] is True
    assert first["policy"]["version"] == 1
    bad = client.get("/api/v1/sla/metrics/?since=yesterday")
    assert bad.status_code == 400 and "since" in bad.json()["fields"]


def test_scope_and_tenant_are_enforced(client_a, client_b, api_key_a, tenant_a) -> None:
    _, submit_only = api_key_create(name="submitter", scopes=["submit"])
    assert api(client_a, submit_only).get("/api/v1/sla/policies/").status_code == 403
    assert api(client_a, None).get("/api/v1/sla/policies/").status_code == 401
    assert api(client_b, api_key_a).get("/api/v1/sla/policies/").status_code == 401
