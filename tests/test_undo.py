"""Merges, moves and splits undone from the trail: the previous grouping of reports and
the issues' fields come back exactly, or the undo is refused when things moved on."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone

from issues.models import Issue, IssueEvent
from issues.services.workflow import issue_transition
from reports.models import Report
from reports.services.intake import report_submit
from reports.services.pipeline import report_process
from reports.services.regrouping import issue_event_undo, issue_merge, issue_move_reports

LAT, LON = 39.80, -89.64
# Every field of an issue but the bookkeeping one.
ISSUE_FIELDS = [f.attname for f in Issue._meta.concrete_fields if f.name != "updated_at"]


@pytest.fixture
def staff(tenant_a):
    return get_user_model().objects.create_superuser("undoer", "u@example.org", "pw-undoer-123456")


def _report(text: str, lat: float = LAT, at=None, **kwargs) -> Report:
    report = report_submit(description=text, latitude=lat, longitude=LON, submitted_at=at, **kwargs).report
    report_process(report_id=report.pk)
    return Report.objects.get(pk=report.pk)


def _state() -> tuple[dict, dict, dict]:
    """Which report is on which issue (and why), and every issue's fields."""
    reports = {r.pk: r.issue_id for r in Report.objects.all()}
    matches = {r.pk: r.match for r in Report.objects.all()}
    issues = {i["id"]: i for i in Issue.objects.values(*ISSUE_FIELDS)}
    return reports, matches, issues


@pytest.fixture
def three_issues(tenant_a) -> tuple[Report, Report, Report, Report]:
    """Issue A with two reports (one hour apart), B with one of high severity, C
    acknowledged with one."""
    now = timezone.now()
    a1 = _report("Pothole outside the school", at=now - timedelta(hours=2))
    a2 = _report("Pothole outside the school again", lat=LAT + 0.0001, at=now - timedelta(hours=1))
    b = _report("Water leaking from the hydrant, flooding the street", lat=LAT + 0.01)
    c = _report("Graffiti on the bridge wall", lat=LAT + 0.02)
    issue_transition(issue_id=c.issue_id, to_status="acknowledged")
    assert a1.issue_id == a2.issue_id and len({a1.issue_id, b.issue_id, c.issue_id}) == 3
    return a1, a2, b, c


def test_merge_then_undo_restores_the_grouping_and_every_field(three_issues, staff) -> None:
    a1, a2, b, c = three_issues
    before = _state()
    target = issue_merge(issue_ids=[a1.issue_id, b.issue_id, c.issue_id], actor=staff)
    assert target.pk == a1.issue_id and target.report_count == 4 and target.severity == "high"
    assert Issue.objects.get(pk=b.issue_id).status == "closed"
    assert _state() != before
    merge_event = IssueEvent.objects.get(issue=target, kind="merged")

    undone = issue_event_undo(event_id=merge_event.pk, actor=staff)

    assert _state() == before
    assert undone.issue_id == target.pk and undone.kind == "undone" and undone.actor == staff
    assert undone.data["undoes"] == merge_event.pk
    # Every issue the merge touched says so on its trail.
    for issue_id in (a1.issue_id, b.issue_id, c.issue_id):
        assert (
            IssueEvent.objects.get(issue_id=issue_id, kind="undone").data["operation"]
            == merge_event.data["undo"]["operation"]
        )
    with pytest.raises(ValidationError, match="undone already"):
        issue_event_undo(event_id=merge_event.pk, actor=staff)
    # Undoing from a source issue's event is the same operation.
    source_event = IssueEvent.objects.get(issue_id=b.issue_id, kind="merged")
    with pytest.raises(ValidationError, match="undone already"):
        issue_event_undo(event_id=source_event.pk, actor=staff)


def test_split_then_undo_restores_the_grouping_and_closes_the_split_issue(tenant_a, staff) -> None:
    now = timezone.now()
    first = _report("Street light out on Elm Street", at=now - timedelta(hours=3))
    second = _report("Street light out on Elm Street tonight", lat=LAT + 0.0001, at=now - timedelta(hours=2))
    third = _report(
        "Street light out on Elm Street, still dark", lat=LAT + 0.0002, at=now - timedelta(hours=1)
    )
    assert first.issue_id == second.issue_id == third.issue_id
    before = _state()
    split = issue_move_reports(
        reports=Report.objects.filter(pk__in=[second.pk, third.pk]), to_issue_id=None, actor=staff
    )
    assert split.report_count == 2 and Issue.objects.get(pk=first.issue_id).report_count == 1
    event = IssueEvent.objects.get(issue_id=first.issue_id, kind="reports_moved")

    issue_event_undo(event_id=event.pk, actor=staff)

    reports, matches, issues = _state()
    split_now = issues.pop(split.pk)
    assert (reports, matches, issues) == before  # the split issue aside, exactly as before
    assert split_now["status"] == "closed" and split_now["report_count"] == 0
    assert split.events.filter(kind="undone").exists()


def test_move_to_another_issue_then_undo_reopens_the_emptied_issue(three_issues, staff) -> None:
    a1, a2, b, c = three_issues
    before = _state()
    issue_move_reports(reports=Report.objects.filter(pk=b.pk), to_issue_id=a1.issue_id, actor=staff)
    emptied = Issue.objects.get(pk=b.issue_id)
    assert emptied.status == "closed" and emptied.report_count == 0
    event = IssueEvent.objects.get(issue_id=b.issue_id, kind="reports_moved")

    issue_event_undo(event_id=event.pk, actor=staff)

    assert _state() == before
    assert Issue.objects.get(pk=b.issue_id).status == "open"


def test_undo_is_refused_once_the_issues_moved_on(three_issues, staff) -> None:
    a1, a2, b, c = three_issues
    target = issue_merge(issue_ids=[a1.issue_id, b.issue_id], actor=staff)
    merge_event = IssueEvent.objects.get(issue=target, kind="merged")
    # A new report joins the merged issue (at its centre, which the merge moved): undoing
    # would have to guess where it belongs.
    late = _report("Pothole outside the school is bigger", lat=target.latitude)
    assert late.issue_id == target.pk
    after = _state()
    with pytest.raises(ValidationError) as excinfo:
        issue_event_undo(event_id=merge_event.pk, actor=staff)
    message = " ".join(excinfo.value.messages)
    assert "moved on" in message and f"Issue #{target.pk} changed since (report_count" in message
    assert "report linked" in message
    assert _state() == after and not IssueEvent.objects.filter(kind="undone").exists()


def test_undo_is_refused_when_a_report_moved_again_and_works_in_reverse_order(three_issues, staff) -> None:
    a1, a2, b, c = three_issues
    before = _state()
    issue_move_reports(reports=Report.objects.filter(pk=a2.pk), to_issue_id=b.issue_id, actor=staff)
    first_move = IssueEvent.objects.filter(kind="reports_moved").latest("pk")
    issue_move_reports(reports=Report.objects.filter(pk=a2.pk), to_issue_id=c.issue_id, actor=staff)
    second_move = IssueEvent.objects.filter(kind="reports_moved").latest("pk")
    with pytest.raises(ValidationError) as excinfo:
        issue_event_undo(event_id=first_move.pk, actor=staff)
    assert f"Report {a2.tracking_id} is on issue #{c.issue_id} now" in " ".join(excinfo.value.messages)
    # Last first, then the earlier one: back where it all started.
    issue_event_undo(event_id=second_move.pk, actor=staff)
    issue_event_undo(event_id=first_move.pk, actor=staff)
    assert _state() == before


def test_a_status_change_since_blocks_the_undo(three_issues, staff) -> None:
    a1, a2, b, c = three_issues
    target = issue_merge(issue_ids=[a1.issue_id, b.issue_id], actor=staff)
    issue_transition(issue_id=target.pk, to_status="in_progress")
    with pytest.raises(ValidationError, match=r"changed since \(status"):
        issue_event_undo(event_id=IssueEvent.objects.get(issue=target, kind="merged").pk, actor=staff)


def test_only_merges_and_moves_with_their_record_can_be_undone(three_issues, staff) -> None:
    a1, *_ = three_issues
    created = IssueEvent.objects.get(issue_id=a1.issue_id, kind="created")
    with pytest.raises(ValidationError, match="Only merges and moves"):
        issue_event_undo(event_id=created.pk, actor=staff)
    legacy = IssueEvent.objects.create(issue_id=a1.issue_id, kind="merged", data={"into": 1, "reports": []})
    with pytest.raises(ValidationError, match="before changes could be undone"):
        issue_event_undo(event_id=legacy.pk, actor=staff)


def test_staff_undo_a_merge_from_the_issue_page(client_a, three_issues, staff) -> None:
    a1, a2, b, c = three_issues
    client_a.force_login(staff)
    before = _state()
    client_a.post("/admin/issues/issue/", {"action": "merge", "_selected_action": [a1.issue_id, b.issue_id]})
    event = IssueEvent.objects.get(issue_id=a1.issue_id, kind="merged")
    undo_url = f"/admin/issues/issue/{a1.issue_id}/undo/{event.pk}/"
    page = client_a.get(f"/admin/issues/issue/{a1.issue_id}/change/").content.decode()
    assert f'href="{undo_url}"' in page
    confirm = client_a.get(undo_url).content.decode()
    assert (
        "Undo this change" in confirm
        and f"1 report from issue #{a1.issue_id} back to issue #{b.issue_id}" in confirm
    )
    assert _state() != before  # looking changes nothing
    response = client_a.post(undo_url, follow=True)
    assert "undone." in response.content.decode()
    assert _state() == before
    page = client_a.get(f"/admin/issues/issue/{a1.issue_id}/change/").content.decode()
    assert f'href="{undo_url}"' not in page and ">undone<" in page
    # A second try says why nothing happens.
    refused = client_a.post(undo_url, follow=True).content.decode()
    assert "undone already" in refused


def test_a_move_beside_a_merge_waits_for_it_and_never_deadlocks(django_db_setup, django_db_blocker) -> None:
    """A merge locks issues, then their reports; a move takes them in the same order, so
    one moving a report of an issue being merged waits, then sees the report has moved."""
    import threading

    from django.db import connection, connections, transaction
    from django_tenants.utils import tenant_context

    from tests.support.factories import IssueFactory
    from tests.support.services import committed_tenant

    outcome: dict[str, BaseException | None] = {}
    with django_db_blocker.unblock(), committed_tenant("move-race", "Move race", "city") as tenant:
        with tenant_context(tenant):
            a, b, c = IssueFactory(), IssueFactory(), IssueFactory()
            report = Report.objects.create(
                description="Pothole", latitude=LAT, longitude=LON, issue=b, status="processed"
            )
        locked, mover_ready = threading.Event(), threading.Event()
        mover_pid: list[int] = []

        def merger() -> None:  # a merge of B into A, paused between its two steps
            try:
                connection.set_tenant(tenant)
                mover_ready.wait(10)
                with transaction.atomic():
                    list(Issue.objects.select_for_update().filter(pk__in=[a.pk, b.pk]).order_by("pk"))
                    locked.set()
                    with connection.cursor() as cursor:  # until the move waits for this very transaction
                        for _ in range(200):
                            cursor.execute("SELECT pg_backend_pid() = ANY(pg_blocking_pids(%s))", mover_pid)
                            if cursor.fetchone()[0]:
                                break
                            threading.Event().wait(0.05)
                    Report.objects.filter(pk=report.pk).update(issue=a)
                outcome["merge"] = None
            except BaseException as exc:
                outcome["merge"] = exc
            finally:
                connections.close_all()

        def mover() -> None:
            try:
                connection.set_tenant(tenant)
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    mover_pid.append(cursor.fetchone()[0])
                mover_ready.set()
                locked.wait(10)
                issue_move_reports(reports=Report.objects.filter(pk=report.pk), to_issue_id=c.pk, actor=None)
                outcome["move"] = None
            except BaseException as exc:
                outcome["move"] = exc
            finally:
                connections.close_all()

        threads = [threading.Thread(target=merger), threading.Thread(target=mover)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert outcome["merge"] is None
        assert isinstance(outcome["move"], ValidationError) and "changed issue meanwhile" in str(
            outcome["move"]
        )
        with tenant_context(tenant):
            assert Report.objects.get(pk=report.pk).issue_id == a.pk
