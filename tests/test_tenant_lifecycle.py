"""The platform admin exports a tenant's data (a zip of CSV files and photos with a
manifest) and deletes a tenant after a grace period (suspended first, the slug typed to
confirm, the schema dropped only once the period has passed)."""

import csv
import hashlib
import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context, schema_exists

from reports.models import Report
from reports.services.intake import report_submit
from tenants.deletion import tenant_delete_due, tenant_deletion_schedule
from tenants.export import (
    export_path,
    export_progress,
    tenant_export_run,
    tenant_export_write,
    tenant_media_root,
)
from tenants.models import Domain, Tenant, TenantExport
from tenants.services import tenant_create, tenant_set_suspended

PASSWORD = "x-operator-password-1"


@pytest.fixture(autouse=True)
def export_root(settings, tmp_path: Path) -> Path:
    settings.TENANT_EXPORT_ROOT = tmp_path / "exports"
    return settings.TENANT_EXPORT_ROOT


@pytest.fixture
def operator(public_client: Client) -> Client:
    with schema_context("public"):
        user = get_user_model().objects.create_superuser("platform-operator", "op@example.org", PASSWORD)
        public_client.force_login(user)
    return public_client


def _zip_entries(path: Path) -> tuple[dict, zipfile.ZipFile]:
    archive = zipfile.ZipFile(path)
    return json.loads(archive.read("manifest.json")), archive


def test_export_holds_every_table_worth_exporting_with_counts_and_checksums(tenant_a, tmp_path) -> None:
    get_user_model().objects.create_user("clerk", "clerk@example.org", "a-staff-password-1")
    report_submit(
        description='=HYPERLINK("http://evil.example") pothole',
        latitude=39.8,
        longitude=-89.6,
        email="r@example.org",
    )
    photo = tenant_media_root(tenant_a) / "photos" / "2026" / "12" / "probe.jpg"
    photo.parent.mkdir(parents=True, exist_ok=True)
    photo.write_bytes(b"\xff\xd8 not really a jpeg \xff\xd9")

    written = tenant_export_write(tenant=tenant_a, target=tmp_path / "out.zip")
    manifest, archive = _zip_entries(tmp_path / "out.zip")
    assert written == manifest
    assert manifest["tenant"]["slug"] == tenant_a.schema_name and manifest["version"] == 1
    files = {f["path"]: f for f in manifest["files"]}
    # Every file listed is in the zip with the size and SHA-256 the manifest gives.
    for path, entry in files.items():
        data = archive.read(path)
        assert len(data) == entry["bytes"] and hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert set(archive.namelist()) == {*files, "manifest.json"}

    reports = files["tables/reports_report.csv"]
    assert reports["rows"] == Report.objects.count() == 1
    rows = list(csv.DictReader(io.StringIO(archive.read("tables/reports_report.csv").decode())))
    assert len(rows) == 1 and rows[0]["email"] == "r@example.org"
    # A spreadsheet must not run a resident's text as a formula.
    assert rows[0]["description"].startswith("'=HYPERLINK")
    assert files["tables/issues_category.csv"]["rows"] > 0
    # Credentials and plumbing stay out, and the manifest says so.
    users = next(csv.reader(io.StringIO(archive.read("tables/auth_user.csv").decode())))
    assert "username" in users and "password" not in users
    assert "password" in manifest["excluded_columns"]["auth_user"]
    assert {"django_session", "django_migrations"} <= set(manifest["excluded_tables"])
    assert not any(p.startswith(("tables/django_session", "tables/axes_")) for p in files)
    assert archive.read("media/photos/2026/12/probe.jpg") == photo.read_bytes()


def test_an_export_runs_once_records_its_outcome_and_downloads_for_superusers_only(
    tenant_pair, operator, public_schema
) -> None:
    tenant = tenant_pair[1]  # the hyphenated slug: quoted everywhere
    export = TenantExport.objects.create(tenant=tenant, requested_by="test")
    done = tenant_export_run(export_id=export.pk)
    assert done is not None and done.status == "done" and done.tables and done.rows is not None
    assert tenant_export_run(export_id=export.pk) is None  # claimed once: a redelivery does nothing
    file = export_path(done)
    assert (
        file.is_file()
        and file.name.startswith(f"{tenant.schema_name}-")
        and done.file_name.startswith(f"{tenant.schema_name}/")
    )
    assert hashlib.sha256(file.read_bytes()).hexdigest() == done.sha256
    progress = export_progress(export.pk)
    assert progress is not None and progress["tables_done"] == progress["tables_total"] == done.tables

    listing = operator.get("/admin/tenants/tenantexport/")
    assert listing.status_code == 200 and f"{done.tables} tables" in listing.content.decode()
    download = operator.get(f"/admin/tenants/tenant/exports/{export.pk}/download/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == file.read_bytes()
    # A platform staff member without superuser rights gets neither the list nor the file.
    with schema_context("public"):
        staff = get_user_model().objects.create_user(
            "platform-staff", "s@example.org", PASSWORD, is_staff=True
        )
        from django.contrib.auth.models import Permission

        staff.user_permissions.add(*Permission.objects.filter(content_type__app_label="tenants"))
    other = Client(HTTP_HOST="localhost")
    other.force_login(staff)
    assert other.get(f"/admin/tenants/tenant/exports/{export.pk}/download/").status_code == 403
    assert other.get("/admin/tenants/tenantexport/").status_code == 403


def test_the_export_action_queues_an_export(
    tenant_pair, operator, public_schema, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    import tenants.tasks

    queued: list[int] = []
    monkeypatch.setattr(tenants.tasks.export_tenant, "delay", lambda export_id: queued.append(export_id))
    with django_capture_on_commit_callbacks(execute=True):
        response = operator.post(
            "/admin/tenants/tenant/", {"action": "export_data", "_selected_action": [tenant_pair[0].pk]}
        )
    assert response.status_code == 302
    export = TenantExport.objects.get(tenant=tenant_pair[0])
    assert export.status == "pending" and export.requested_by == "platform-operator" and queued == [export.pk]


@pytest.fixture
def doomed(public_schema) -> Tenant:
    tenant = tenant_create(slug="doomed-place", name="Doomed Place", kind="building")
    connection.set_schema_to_public()
    media = tenant_media_root(tenant) / "photos" / "x.jpg"
    media.parent.mkdir(parents=True, exist_ok=True)
    media.write_bytes(b"photo")
    return tenant


def test_deletion_asks_for_the_slug_suspends_at_once_and_drops_only_after_the_grace_period(
    doomed, operator, export_root, django_capture_on_commit_callbacks
) -> None:
    response = operator.post(
        "/admin/tenants/tenant/", {"action": "schedule_deletion", "_selected_action": [doomed.pk]}
    )
    confirm = f"/admin/tenants/tenant/{doomed.pk}/schedule-deletion/"
    assert response.status_code == 302 and response["Location"] == confirm
    page = operator.get(confirm)
    assert page.status_code == 200 and "doomed-place" in page.content.decode()
    # A wrong slug changes nothing.
    wrong = operator.post(confirm, {"slug": "doomed"})
    assert wrong.status_code == 200 and "exactly" in wrong.content.decode()
    doomed.refresh_from_db()
    assert not doomed.suspended and doomed.deletion_due_at is None
    assert operator.post(confirm, {"slug": "doomed-place"}).status_code == 302
    doomed.refresh_from_db()
    assert doomed.suspended
    grace = timedelta(days=settings.TENANT_DELETION_GRACE_DAYS)
    assert abs(doomed.deletion_due_at - (timezone.now() + grace)) < timedelta(minutes=1)
    # Suspended: its host answers 403, with its data untouched.
    assert Client(HTTP_HOST="doomed-place.localhost").get("/report/").status_code == 403

    exported = export_root / "doomed-place" / "doomed-place-1.zip"
    exported.parent.mkdir(parents=True)
    exported.write_bytes(b"zip")
    with django_capture_on_commit_callbacks(execute=True):
        assert tenant_delete_due(now=doomed.deletion_due_at - timedelta(seconds=1)) == []
    assert schema_exists("doomed-place")
    with django_capture_on_commit_callbacks(execute=True):
        assert tenant_delete_due(now=doomed.deletion_due_at + timedelta(seconds=1)) == ["doomed-place"]
    assert not schema_exists("doomed-place")
    assert not Tenant.objects.filter(schema_name="doomed-place").exists()
    assert not Domain.objects.filter(domain="doomed-place.localhost").exists()
    assert not tenant_media_root(doomed).exists() and not exported.exists()


def test_reinstating_or_cancelling_keeps_the_tenant(doomed, operator) -> None:
    tenant_deletion_schedule(tenant=doomed, confirm_slug="doomed-place")
    tenant_set_suspended(tenant=doomed, suspended=False)
    doomed.refresh_from_db()
    assert doomed.deletion_due_at is None
    later = timezone.now() + timedelta(days=settings.TENANT_DELETION_GRACE_DAYS + 1)
    assert tenant_delete_due(now=later) == []
    tenant_deletion_schedule(tenant=doomed, confirm_slug="doomed-place")
    assert (
        operator.post(
            "/admin/tenants/tenant/", {"action": "cancel_deletion", "_selected_action": [doomed.pk]}
        ).status_code
        == 302
    )
    doomed.refresh_from_db()
    assert doomed.deletion_due_at is None and doomed.suspended  # kept, still suspended
    assert tenant_delete_due(now=later) == [] and schema_exists("doomed-place")


def test_only_superusers_may_delete_or_export(doomed, public_client) -> None:
    from django.contrib.auth.models import Permission

    with schema_context("public"):
        staff = get_user_model().objects.create_user(
            "platform-staff", "s@example.org", PASSWORD, is_staff=True
        )
        staff.user_permissions.add(*Permission.objects.filter(content_type__app_label="tenants"))
    public_client.force_login(staff)
    page = public_client.get("/admin/tenants/tenant/")
    assert page.status_code == 200
    assert "schedule_deletion" not in page.content.decode() and "export_data" not in page.content.decode()
    assert (
        public_client.post(
            f"/admin/tenants/tenant/{doomed.pk}/schedule-deletion/", {"slug": "doomed-place"}
        ).status_code
        == 403
    )
    doomed.refresh_from_db()
    assert doomed.deletion_due_at is None


def test_beat_and_the_command_drop_due_tenants_from_the_public_schema(doomed) -> None:
    entry = settings.CELERY_BEAT_SCHEDULE["tenants-delete-due"]
    assert entry["task"] == "tenants.delete_due" and entry["tenant_schemas"] == ["public"]
    tenant_deletion_schedule(tenant=doomed, confirm_slug="doomed-place")
    Tenant.objects.filter(pk=doomed.pk).update(deletion_due_at=timezone.now() - timedelta(minutes=1))
    out = io.StringIO()
    call_command("delete_due_tenants", stdout=out, stderr=io.StringIO())
    assert out.getvalue().split() == ["doomed-place"] and not schema_exists("doomed-place")


def test_the_export_command_reads_one_snapshot_outside_any_transaction(tenant_pair) -> None:
    import subprocess
    import sys

    from tests.support.services import ROOT, child_env

    result = subprocess.run(
        [sys.executable, "manage.py", "export_tenant", tenant_pair[1].schema_name],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.strip())
    assert path.is_file()
    manifest = json.loads(zipfile.ZipFile(path).read("manifest.json"))
    path.unlink()
    assert manifest["consistent_snapshot"] is True
    assert "issues_category: " in result.stderr and "tables: " in result.stderr


def test_a_tenants_own_superuser_can_neither_delete_nor_download_on_its_host(
    tenant_pair, client_a, public_schema
) -> None:
    victim = tenant_pair[1]
    export = TenantExport.objects.create(tenant=victim, requested_by="test")
    tenant_export_run(export_id=export.pk)
    with schema_context(tenant_pair[0].schema_name):
        boss = get_user_model().objects.create_superuser("tenant-boss", "b@example.org", PASSWORD)
        client_a.force_login(boss)
    # The platform's tables are on every tenant's search path: the views must refuse anyway.
    assert client_a.get(f"/admin/tenants/tenant/exports/{export.pk}/download/").status_code == 403
    refused = client_a.post(
        f"/admin/tenants/tenant/{victim.pk}/schedule-deletion/", {"slug": victim.schema_name}
    )
    assert refused.status_code == 403
    victim.refresh_from_db()
    assert victim.deletion_due_at is None and not victim.suspended
