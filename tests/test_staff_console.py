"""The staff console: bulk actions, merge/move/split through services with events, the
review lists, search by tracking id, and a change list whose query count does not grow."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from issues.models import Issue, IssueEvent
from reports.models import Report
from reports.services.intake import report_submit
from reports.services.pipeline import report_process
from tests.support.factories import IssueFactory

PASSWORD = "pw-console-123456"


@pytest.fixture
def staff_client(client_a, tenant_a):
    get_user_model().objects.create_superuser("console", "c@example.org", PASSWORD)
    assert (
        client_a.post("/admin/login/?next=/admin/", {"username": "console", "password": PASSWORD}).status_code
        == 302
    )
    return client_a


def _report(text: str, lat: float = 39.8, **kwargs) -> Report:
    report = report_submit(description=text, latitude=lat, longitude=-89.64, **kwargs).report
    report_process(report_id=report.pk)
    return Report.objects.get(pk=report.pk)


def test_merge_selected_keeps_the_most_reported_and_records_it(staff_client) -> None:
    a = _report("Pothole outside the school")
    a2 = _report("Pothole outside the school again")
    b = _report("Water leaking from the hydrant", lat=39.81)
    assert a.issue_id == a2.issue_id != b.issue_id
    response = staff_client.post(
        "/admin/issues/issue/", {"action": "merge", "_selected_action": [a.issue_id, b.issue_id]}, follow=True
    )
    assert f"Merged into #{a.issue_id}" in response.content.decode()
    target, source = Issue.objects.get(pk=a.issue_id), Issue.objects.get(pk=b.issue_id)
    assert target.report_count == 3 and source.report_count == 0 and source.status == "closed"
    assert Report.objects.get(pk=b.pk).issue_id == target.pk
    merged = IssueEvent.objects.get(issue=source, kind="merged")
    assert merged.data["into"] == target.pk and merged.data["reports"] == [b.pk]
    assert merged.data["before"]["status"] == "open" and merged.actor.username == "console"
    assert IssueEvent.objects.get(issue=target, kind="merged").data["from"] == [source.pk]


def test_split_out_and_move_reports(staff_client) -> None:
    first = _report("Street light out on Elm Street")
    second = _report("Street light out on Elm Street tonight")
    assert first.issue_id == second.issue_id
    staff_client.post(
        "/admin/reports/report/", {"action": "split_out", "_selected_action": [second.pk], "to_issue": ""}
    )
    second.refresh_from_db()
    assert second.issue_id != first.issue_id
    assert Issue.objects.get(pk=first.issue_id).report_count == 1
    assert Issue.objects.get(pk=second.issue_id).report_count == 1
    assert IssueEvent.objects.filter(issue_id=first.issue_id, kind="reports_moved").exists()
    # And back again with "move to issue".
    staff_client.post(
        "/admin/reports/report/",
        {"action": "move_to_issue", "_selected_action": [second.pk], "to_issue": first.issue_id},
    )
    second.refresh_from_db()
    assert second.issue_id == first.issue_id and Issue.objects.get(pk=first.issue_id).report_count == 2
    refused = staff_client.post(
        "/admin/reports/report/",
        {"action": "move_to_issue", "_selected_action": [second.pk], "to_issue": "999999"},
        follow=True,
    )
    assert "existing issue" in refused.content.decode()


def test_a_move_that_loses_a_deadlock_says_so_instead_of_failing(staff_client, monkeypatch) -> None:
    import psycopg
    from django.db import OperationalError

    from reports.services import regrouping

    report = _report("Street light out on Oak Street")

    def deadlocked(**kwargs: object) -> None:
        try:
            raise psycopg.errors.DeadlockDetected("deadlock detected")
        except psycopg.errors.DeadlockDetected as cause:
            raise OperationalError("deadlock detected") from cause

    monkeypatch.setattr(regrouping, "_move_reports", deadlocked)
    answer = staff_client.post(
        "/admin/reports/report/",
        {"action": "split_out", "_selected_action": [report.pk], "to_issue": ""},
        follow=True,
    )
    assert answer.status_code == 200 and "nothing was moved" in answer.content.decode()
    assert Report.objects.get(pk=report.pk).issue_id == report.issue_id


def test_assign_to_me_and_bulk_workflow(staff_client) -> None:
    issues = [IssueFactory() for _ in range(3)]
    ids = [i.pk for i in issues]
    staff_client.post("/admin/issues/issue/", {"action": "assign_to_me", "_selected_action": ids})
    staff_client.post("/admin/issues/issue/", {"action": "acknowledge", "_selected_action": ids})
    for issue in Issue.objects.filter(pk__in=ids):
        assert issue.assignee.username == "console" and issue.status == "acknowledged"
        assert set(issue.events.values_list("kind", flat=True)) == {"assigned", "status_changed"}
    staff_client.post("/admin/issues/issue/", {"action": "start", "_selected_action": ids[:1]})
    staff_client.post("/admin/issues/issue/", {"action": "close", "_selected_action": ids[1:]})
    assert Issue.objects.get(pk=ids[0]).status == "in_progress"
    assert set(Issue.objects.filter(pk__in=ids[1:]).values_list("status", flat=True)) == {"closed"}


def test_search_by_tracking_id_and_filters(staff_client) -> None:
    report = _report("Graffiti on the bridge wall")
    old = IssueFactory(title="Ancient problem", created_at=timezone.now() - timedelta(days=40))
    page = staff_client.get("/admin/issues/issue/", {"q": report.tracking_id.lower()}).content.decode()
    assert "Graffiti on the bridge wall" in page and "Ancient problem" not in page
    aged = staff_client.get("/admin/issues/issue/", {"age": "30d+"}).content.decode()
    assert "Ancient problem" in aged and "Graffiti on the bridge wall" not in aged
    assert f">{old.pk}<" in aged


def test_search_finds_words_in_title_or_text_and_uses_the_trigram_indexes(staff_client) -> None:
    from django.db import connection

    from issues.admin import IssueAdmin

    titled = IssueFactory(title="Broken swing", text="Broken swing")  # text is its title, as imported issues
    texted = IssueFactory(title="Playground", text="The swing chain snapped near the slide")
    other = IssueFactory(title="Pothole", text="Deep pothole on Main Street")

    def found(q: str) -> set[int]:
        page = staff_client.get("/admin/issues/issue/", {"q": q}).content.decode()
        return {i.pk for i in (titled, texted, other) if f'href="/admin/issues/issue/{i.pk}/change/' in page}

    assert found("swing") == {titled.pk, texted.pk}
    assert found("SWING chain") == {texted.pk}  # every word, in either field, any case
    assert found("broken") == {titled.pk}
    assert found('"main street"') == {other.pk}  # a quoted phrase is one word
    assert found('"chain swing"') == set() and found("chain swing") == {texted.pk}
    assert found("slide pothole") == set()

    # The text arm carries the partial index's condition, so PostgreSQL can answer from
    # the two trigram indexes instead of reading every issue.
    results, _ = IssueAdmin(Issue, None).get_search_results(None, Issue.objects.all(), "chain")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        # Nor a walk of a whole b-tree (issue_public_recent is the smallest): on a few rows
        # the planner would take one, as it takes a sequential scan.
        cursor.execute("SET LOCAL enable_indexscan = off")
        compiled, params = results.values("pk").query.sql_with_params()
        cursor.execute(f"EXPLAIN {compiled}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "issue_title_search" in plan and "issue_text_search" in plan, plan


def test_merge_prefers_an_open_issue_and_keeps_closing_times(staff_client) -> None:
    from issues.services.workflow import issue_transition
    from reports.services.regrouping import issue_merge

    closed = IssueFactory(report_count=5, status="open")
    issue_transition(issue_id=closed.pk, to_status="closed")
    closed.refresh_from_db()
    closed_at = closed.closed_at
    open_one = IssueFactory(report_count=1)
    target = issue_merge(issue_ids=[closed.pk, open_one.pk], actor=None)
    assert target.pk == open_one.pk and target.status == "open"
    closed.refresh_from_db()
    assert closed.closed_at == closed_at


def test_moved_reports_say_so_and_an_emptied_issue_is_closed(staff_client) -> None:
    lone = _report("Graffiti on the bridge wall")
    other = _report("Street light out on Elm Street", lat=39.81)
    lone_issue = lone.issue_id
    staff_client.post(
        "/admin/reports/report/",
        {"action": "move_to_issue", "_selected_action": [lone.pk], "to_issue": other.issue_id},
    )
    lone.refresh_from_db()
    assert lone.match["method"] == "moved" and lone.match["by"] == "console"
    emptied = Issue.objects.get(pk=lone_issue)
    assert emptied.report_count == 0 and emptied.status == "closed"
    assert emptied.events.get(kind="reports_moved").data["before"]["status"] == "open"
    page = staff_client.get(f"/admin/issues/issue/{other.issue_id}/change/").content.decode()
    assert "moved here by console" in page
    assert f"?issue__id__exact={other.issue_id}" in page  # the way to move or split from the issue page


def test_review_lists(staff_client) -> None:
    unsure = _report("Something odd is going on")  # no category word: low confidence
    placed = _report("Broken bench", category_code="trees_parks")
    unplaced = report_submit(description="Bench broken", address="7 Unknown Road").report
    page = staff_client.get("/admin/reports/report/", {"review": "confidence"}).content.decode()
    assert unsure.tracking_id in page and placed.tracking_id not in page
    page = staff_client.get("/admin/reports/report/", {"review": "placement"}).content.decode()
    assert unplaced.tracking_id in page and placed.tracking_id not in page
    Report.objects.filter(pk=placed.pk).update(status="failed", last_error="boom")
    page = staff_client.get("/admin/reports/report/", {"review": "failed"}).content.decode()
    assert placed.tracking_id in page and unsure.tracking_id not in page


def test_issue_page_shows_reports_with_reasons_and_map(staff_client) -> None:
    first = _report("Pothole outside the school")
    second = _report("Pothole outside the school again", lat=39.8001)
    page = staff_client.get(f"/admin/issues/issue/{first.issue_id}/change/").content.decode()
    assert first.tracking_id in page and second.tracking_id in page
    assert "opened the issue" in page and "similarity" in page
    assert "<svg" in page and "2 report(s) within" in page


def test_issue_list_query_count_does_not_grow_with_rows(staff_client, django_assert_max_num_queries) -> None:
    def count_queries() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            assert staff_client.get("/admin/issues/issue/").status_code == 200
        return len(ctx.captured_queries)

    IssueFactory.create_batch(3)
    few = count_queries()
    IssueFactory.create_batch(30)
    assert count_queries() == few
    # Pinned at what it takes today (session, user, rows, the filters' choices, search
    # paths, the page's SLA states), so a new per-page query is noticed, not only a per-row one.
    assert few == 14


def test_unfiltered_issue_list_uses_the_planner_estimate(tenant_a, django_assert_num_queries) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from civicpulse.core.admin import EstimatedCountPaginator

    IssueFactory.create_batch(4)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE issues_issue")
    paginator = EstimatedCountPaginator(Issue.objects.order_by("pk"), 50)
    paginator.estimate_above = 0  # as if the table were large
    with CaptureQueriesContext(connection) as ctx:
        assert paginator.count == 4  # ANALYZE made the estimate exact here
    assert not any("COUNT(" in q["sql"].upper() for q in ctx.captured_queries)
    assert any("reltuples" in q["sql"] for q in ctx.captured_queries)
    # Filtered lists are counted for real.
    filtered = EstimatedCountPaginator(Issue.objects.filter(status="open").order_by("pk"), 50)
    filtered.estimate_above = 0
    with CaptureQueriesContext(connection) as ctx:
        assert filtered.count == 4
    assert any("COUNT(" in q["sql"].upper() for q in ctx.captured_queries)


def test_staff_place_an_address_only_report(staff_client) -> None:
    from reports.models import Location

    unplaced = report_submit(description="Bench broken by the fountain", address="7 Fountain Square").report
    report_process(report_id=unplaced.pk)
    unplaced.refresh_from_db()
    assert unplaced.needs_placement and unplaced.issue.latitude is None
    form = staff_client.get(f"/admin/reports/report/{unplaced.pk}/change/").content.decode()
    assert 'name="latitude"' in form
    response = staff_client.post(
        f"/admin/reports/report/{unplaced.pk}/change/",
        {
            "category": unplaced.category_id or "",
            "severity": unplaced.severity,
            "latitude": "39.801",
            "longitude": "-89.641",
        },
    )
    assert response.status_code == 302, response.content.decode()[:1500]
    unplaced.refresh_from_db()
    assert (unplaced.latitude, unplaced.longitude, unplaced.needs_placement) == (39.801, -89.641, False)
    issue = Issue.objects.get(pk=unplaced.issue_id)
    assert (issue.latitude, issue.longitude, issue.address_key) == (39.801, -89.641, "")
    assert issue.events.get(kind="updated").data["placed"] is True
    assert Location.objects.get(address_key="7 fountain sq").latitude == 39.801
    # The next report of that address is placed by itself.
    assert report_submit(description="Bench still broken", address="7 Fountain Sq.").report.latitude == 39.801
    # A report that has its point cannot be moved around from here.
    placed_form = staff_client.get(f"/admin/reports/report/{unplaced.pk}/change/").content.decode()
    assert 'name="latitude"' not in placed_form


def test_the_trail_offers_undo_until_the_operation_is_undone(staff_client) -> None:
    from reports.services.regrouping import issue_event_undo, issue_merge

    a, b = _report("Broken bench in the park"), _report("Fallen tree on Main Street", lat=39.9)
    target = issue_merge(issue_ids=[a.issue_id, b.issue_id], actor=None)
    page = f"/admin/issues/issue/{target.pk}/change/"
    assert "Undo…" in staff_client.get(page).content.decode()
    issue_event_undo(event_id=IssueEvent.objects.get(issue=target, kind="merged").pk, actor=None)
    html = staff_client.get(page).content.decode()
    assert "Undo…" not in html and ">undone<" in html

    # Whether each event was undone, who did it and each report's category are read with
    # the rows, not one query per row.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            staff_client.get(page)
        return len(captured.captured_queries)

    before = queries()
    staff = get_user_model().objects.get(username="console")
    for n in range(3):  # three more undoable merges into the same issue, each with a report
        issue_merge(
            issue_ids=[target.pk, _report(f"Pothole number {n} on Elm Street", lat=40 + n).issue_id],
            actor=staff,
        )
    assert queries() == before
