"""The platform admin on the public site: operators create, edit and suspend tenants."""

from django.contrib.auth import get_user_model
from django.test import Client
from django_tenants.utils import schema_context, schema_exists

from issues.models import Category
from tenants.models import Tenant


def _operator_client() -> Client:
    get_user_model().objects.create_superuser("op", "op@example.org", "pw-operator-123")
    client = Client(HTTP_HOST="localhost")
    response = client.post("/admin/login/?next=/admin/", {"username": "op", "password": "pw-operator-123"})
    assert response.status_code == 302
    return client


def test_operator_creates_a_tenant_through_the_provisioning_service(public_schema, tenant_pair) -> None:
    client = _operator_client()
    response = client.post(
        "/admin/tenants/tenant/add/",
        {
            "schema_name": "epsilon",
            "name": "Epsilon Facility",
            "kind": "facility",
            "timezone": "Europe/Paris",
            "open311_jurisdiction_id": "",
            "public_page_enabled": "on",
            "leaderboard_enabled": "",
            # What the form shows filled in: the residents' limits and retention defaults.
            "resident_reports_per_hour": "300",
            "photo_storage_quota_mb": "5120",
            "resident_data_retention_months": "12",
            "default_language": "es",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    tenant = Tenant.objects.get(schema_name="epsilon")
    assert tenant.leaderboard_enabled is False
    assert tenant.default_language == "es"
    assert tenant.get_primary_domain().domain == "epsilon.localhost"
    assert schema_exists("epsilon")
    with schema_context("epsilon"):
        assert Category.objects.filter(code="safety_hazard").exists()


def test_operator_suspends_and_reinstates(public_schema, tenant_pair) -> None:
    client = _operator_client()
    a = tenant_pair[0]
    changelist = client.get("/admin/tenants/tenant/").content.decode()
    assert "Alpha City" in changelist and "CivicPulse (public)" not in changelist
    client.post(
        "/admin/tenants/tenant/",
        {"action": "suspend", "_selected_action": [a.pk]},
    )
    assert Tenant.objects.get(pk=a.pk).suspended
    client.post("/admin/tenants/tenant/", {"action": "reinstate", "_selected_action": [a.pk]})
    assert not Tenant.objects.get(pk=a.pk).suspended


def test_public_admin_hides_tenant_models(public_schema, tenant_pair) -> None:
    client = _operator_client()
    index = client.get("/admin/").content.decode()
    assert "/admin/tenants/tenant/" in index
    assert "/admin/issues/category/" not in index
