"""Rows written by statements built once (civicpulse.core.inserts): the SQL is what
psycopg's own client-side binding makes, and objects_insert stores what bulk_create
stores, giving each object its own id."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import connection
from django.utils import timezone

from civicpulse.core import inserts
from issues.models import Category, Issue, IssueEvent
from reports.models import Report

TRICKY = 'it\'s "x" \\ %s %(name)s %% $1 — ñ 🚧'


def test_the_sql_sent_is_what_psycopgs_client_side_binding_makes(tenant_a) -> None:
    """The values quoted into the template give the SQL psycopg's own binding gives for the
    same statement and parameters, whatever the value: text with quotes, backslashes and
    placeholders, JSON holding them, special floats, NULLs, a date with its zone, choices,
    bytes."""
    reports = [
        Report(
            description=TRICKY,
            latitude=float("nan"),
            longitude=-0.0,
            attributes={"answer": TRICKY, "list": [1, None, TRICKY]},
            email="o'brien@example.org",
            submitted_at=datetime(2026, 3, 29, 1, 30, tzinfo=ZoneInfo("Europe/London")),
            channel=Report.Channel.WEB,
        ),
        Report(description="", latitude=float("-inf"), longitude=None, status=Report.Status.PROCESSED),
        Report(description="plain", latitude=1e-300, longitude=-180.0),
    ]
    issues = [
        Issue(title=TRICKY, text="\\x00 is not a NUL", embedding=bytes(range(256)) * 2),
        Issue(title="plain", embedding=None, latitude=1.5, report_count=7),
    ]
    for objs, also_returned in ((reports, "tracking_id"), (issues, "")):
        insert = inserts.model_insert(type(objs[0]), also_returned)
        assert insert is not None
        rows = [inserts.insert_values(insert, obj, operation="bulk_create") for obj in objs]
        with connection.cursor() as cursor:
            for n in (1, len(rows)):
                group = rows[:n]
                flat = [value for row in group for value in row]  # type: ignore[union-attr]
                expected = cursor.cursor.mogrify(inserts._template(insert.statement, n).decode(), flat)
                assert inserts.statement_sql(insert.statement, group, cursor) == expected  # type: ignore[arg-type]


def _issues(tag: str) -> list[Issue]:
    potholes = Category.objects.get(code="potholes")
    at = datetime(2026, 12, 7, 21, 0, 0, 123456, tzinfo=ZoneInfo("UTC"))
    return [
        Issue(
            title=f"{tag} {TRICKY}",
            summary="summary",
            text=TRICKY,
            embedding=bytes(range(256)) * 2,
            category=potholes,
            latitude=39.78,
            longitude=-89.65,
            report_count=3,
            created_at=at,
            last_report_at=at,
        ),
        Issue(title=f"{tag} bare", address_key="12 main st", created_at=at, last_report_at=at),
    ]


def _stored(issue: Issue) -> dict:
    """Every column of the issue's row but its id and its own time of writing."""
    row = Issue.objects.values().get(pk=issue.pk)
    del row["id"], row["updated_at"]
    row["title"] = row["title"].split(" ", 1)[1]
    row["embedding"] = None if row["embedding"] is None else bytes(row["embedding"])
    return row


def _events(issues: list[Issue]) -> list[IssueEvent]:
    at = datetime(2026, 12, 7, 21, 0, 1, tzinfo=ZoneInfo("UTC"))
    return [
        IssueEvent(
            issue=issue, kind=IssueEvent.Kind.CREATED, data={"text": TRICKY, "n": [1, None]}, created_at=at
        )
        for issue in issues
    ]


def _stored_event(event: IssueEvent) -> dict:
    row = IssueEvent.objects.values().get(pk=event.pk)
    assert row.pop("issue_id") == event.issue.pk  # its own issue's row
    del row["id"]
    return row


def test_objects_insert_stores_what_bulk_create_stores_and_gives_each_its_id(tenant_a, monkeypatch) -> None:
    # The statements built once write these models: bulk_create is not reached.
    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("bulk_create called")

    monkeypatch.setattr(Issue._default_manager, "bulk_create", refused)
    monkeypatch.setattr(IssueEvent._default_manager, "bulk_create", refused)
    written = _issues("ours")
    inserts.objects_insert(written)
    # Events refer to the issues written just before, as a batch's do.
    events = _events(written)
    inserts.objects_insert(events)
    monkeypatch.undo()
    reference = _issues("django")
    Issue.objects.bulk_create(reference)
    reference_events = _events(reference)
    IssueEvent.objects.bulk_create(reference_events)
    assert all(obj.pk is not None and not obj._state.adding for obj in [*written, *events])
    # Each object got the id of its own row, not of another's.
    assert [Issue.objects.get(pk=issue.pk).title for issue in written] == [issue.title for issue in written]
    assert [_stored(issue) for issue in written] == [_stored(issue) for issue in reference]
    assert [_stored_event(e) for e in events] == [_stored_event(e) for e in reference_events]


def test_objects_insert_splits_many_rows_and_leaves_to_bulk_create_what_it_does_not_write(
    tenant_a, monkeypatch
) -> None:
    monkeypatch.setattr(inserts, "MAX_ROWS", 2)
    many = [Issue(title=f"issue {n}") for n in range(5)]
    inserts.objects_insert(many)
    assert [Issue.objects.get(pk=issue.pk).title for issue in many] == [f"issue {n}" for n in range(5)]
    # An object with its id already set goes through bulk_create, which keeps the id.
    wanted = many[-1].pk + 1000
    preset = Issue(pk=wanted, title="with its id")
    inserts.objects_insert([preset])
    assert preset.pk == wanted and Issue.objects.get(pk=wanted).title == "with its id"
    # A value that is an SQL expression too.
    from django.db.models.functions import Now

    expression = Issue(title="at the database's time", last_report_at=Now())
    inserts.objects_insert([expression])
    stored = Issue.objects.get(title="at the database's time").last_report_at
    assert abs(stored - timezone.now()).total_seconds() < 60
