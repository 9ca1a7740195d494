"""A report alone (no photo, no address to learn a point for) is one INSERT in
autocommit: committed before its wake-up runs, and a refused insert (the same external_id
submitted twice at the same moment) leaves the connection usable for the answer."""

from collections.abc import Iterator

import pytest
from django.db import connection, connections
from django.db.models import Value
from django_tenants.utils import tenant_context

from reports.models import Report
from reports.services.intake import report_submit
from tests.support.services import committed_tenant

POINT = {"latitude": 39.8, "longitude": -89.64}


@pytest.fixture
def city(django_db_setup, django_db_blocker) -> Iterator[object]:
    """A committed tenant, and this test's connection in autocommit as a web thread's is."""
    with (
        django_db_blocker.unblock(),
        committed_tenant("intake-autocommit", "Autocommit City", "city") as tenant,
    ):
        with tenant_context(tenant):
            assert connection.get_autocommit()
            yield tenant


def _committed(tenant: object, report_id: int) -> bool:
    """Whether another session sees the report: it is committed."""
    other = connections.create_connection("default")
    try:
        other.set_tenant(tenant)
        with other.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM reports_report WHERE id = %s", [report_id])
            return cursor.fetchone()[0] == 1
    finally:
        other.close()


def test_a_report_alone_is_committed_before_its_wake_up(city, monkeypatch) -> None:
    from django.db import transaction

    woken: list[bool] = []
    opened: list[bool] = []  # a transaction the service opened for the report
    atomic = transaction.atomic
    monkeypatch.setattr(
        "reports.services.intake.transaction.atomic", lambda *a, **kw: opened.append(True) or atomic(*a, **kw)
    )
    monkeypatch.setattr(
        "reports.services.intake.pipeline_wake",
        lambda *, report_id: woken.append(_committed(city, report_id)) or True,
    )
    result = report_submit(description="Deep pothole outside number 12", **POINT)
    assert result.created and woken == [True] and opened == []
    # An address learning its point: the report and the address's witness in one transaction.
    result = report_submit(description="Street light out", address="12 Main St", **POINT)
    assert woken == [True, True] and opened == [True]


def test_an_insert_refused_in_autocommit_still_answers_with_the_winner(city, monkeypatch) -> None:
    from civicpulse.apikeys.services import api_key_create
    from reports.services import intake

    key, _ = api_key_create(name="crm", scopes=["submit"])
    insert = intake._report_insert
    raced: list[bool] = []

    def insert_after_a_rival(report: Report) -> None:
        if not raced:  # another request with the same external_id commits first
            raced.append(True)
            Report(description="The rival", api_key=key, external_id="crm-1", **POINT).save(force_insert=True)
        insert(report)

    monkeypatch.setattr(intake, "_report_insert", insert_after_a_rival)
    result = report_submit(description="Mine", api_key=key, external_id="crm-1", **POINT)
    assert raced and not result.created and result.report.description == "The rival"
    assert Report.objects.filter(external_id="crm-1").count() == 1


def test_the_insert_built_once_stores_what_the_orm_would(city) -> None:
    from datetime import UTC, datetime

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db.models.functions import Lower

    from civicpulse.apikeys.services import api_key_create
    from issues.models import Category
    from reports.services.intake import _report_insert

    key, _ = api_key_create(name="crm", scopes=["submit"])
    moment = datetime(2026, 5, 1, 8, 30, tzinfo=UTC)
    category = Category.objects.filter(active=True).first()
    assert category is not None
    values = {
        "description": "Deep pothole",
        "api_key": key,
        "category": category,
        "attributes": {"depth": "deep"},
        "email": "resident@example.org",
        "language": "es",
        "address": "12 Main St",
        "submitted_at": moment,
        "enqueued_at": moment,
        "enqueue_count": 1,
        **POINT,
    }
    by_orm = Report(**values, photo=SimpleUploadedFile("a.jpg", b"not decoded here"))
    by_orm.save(force_insert=True)
    built = Report(**values, photo=SimpleUploadedFile("b.jpg", b"not decoded here"))
    _report_insert(built)
    assert built.pk not in (None, by_orm.pk) and not built._state.adding and built._state.db == "default"

    def stored(report: Report) -> dict[str, object]:
        row = Report.objects.get(pk=report.pk)
        return {f.attname: getattr(row, f.attname) for f in Report._meta.concrete_fields}

    orm_row, built_row = stored(by_orm), stored(built)
    # The instance the API answers from holds what was stored, file name included.
    assert {name: getattr(built, name) for name in built_row} == built_row
    assert built_row["tracking_id"] and built_row["photo"].name.endswith(".jpg")
    differing = {name for name in orm_row if orm_row[name] != built_row[name]}
    assert differing == {"id", "tracking_id", "public_id", "photo"}
    for report in (by_orm, built):
        report.photo.delete(save=False)

    # An SQL expression among the values goes through Django's compiler.
    with_expression = Report(**{**values, "language": Lower(Value("ES"))})
    _report_insert(with_expression)
    assert Report.objects.get(pk=with_expression.pk).language == "es"


def test_the_built_statement_gives_way_to_save_where_it_would_skip_something(city) -> None:
    from django.db.models.signals import post_save

    from civicpulse.core.inserts import model_insert
    from issues.models import Category
    from reports.services.intake import _report_insert

    assert model_insert(Report, "tracking_id") is not None  # Report as it is: nothing only save() writes

    heard: list[int] = []

    def receiver(sender: type, instance: Report, created: bool, **kwargs: object) -> None:
        heard.append(instance.pk)

    post_save.connect(receiver, sender=Report)
    try:
        report = Report(description="Heard", **POINT)
        _report_insert(report)
    finally:
        post_save.disconnect(receiver, sender=Report)
    assert heard == [report.pk]

    # An unsaved category is refused, as save() refuses it, instead of storing no category.
    with pytest.raises(ValueError, match="unsaved related object"):
        _report_insert(Report(description="Lost", category=Category(code="new", name="New"), **POINT))
