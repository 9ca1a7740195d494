"""Provisioning: one service creates the schema, the host and the defaults of the kind."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django_tenants.utils import schema_context, schema_exists

from analytics.sla.models import SlaPolicy
from issues.defaults import CATEGORIES_BY_KIND
from issues.models import Category
from tenants.models import Domain, Tenant
from tenants.services import tenant_create


def _schema_tables(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema])
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.parametrize("kind", ["city", "building", "campus", "hotel", "facility"])
def test_tenant_create_builds_schema_domain_and_defaults(public_schema: None, kind: str) -> None:
    slug = f"new-{kind}"
    tenant = tenant_create(slug=slug, name=f"New {kind}", kind=kind, timezone="America/New_York")

    assert schema_exists(slug)
    # Cloned from the template: every tenant table is there, and the shared ones are not.
    tables = _schema_tables(slug)
    assert {"issues_category", "issues_area", "analytics_slapolicy", "auth_user", "django_session"} <= tables
    assert "tenants_tenant" not in tables
    assert Domain.objects.get(tenant=tenant).domain == f"{slug}.localhost"
    assert tenant.open311_jurisdiction_id == slug
    with schema_context(slug):
        codes = set(Category.objects.values_list("code", flat=True))
        assert codes == {d.code for d in CATEGORIES_BY_KIND[kind]}
        assert "other" in codes
        # One tenant-wide policy per severity, plus tighter ones for dangerous categories.
        assert set(SlaPolicy.objects.filter(category=None).values_list("severity", flat=True)) == {
            "low",
            "medium",
            "high",
            "critical",
        }
        # The template's content types and permissions came along, so the admin works.
        from django.contrib.auth.models import Permission
        from django.contrib.contenttypes.models import ContentType

        assert ContentType.objects.filter(app_label="issues", model="category").exists()
        assert Permission.objects.filter(codename="change_category").exists()


def test_city_gets_city_categories_and_hotel_gets_building_ones(db, tenant_pair) -> None:
    city, hotel = tenant_pair
    with schema_context(city.schema_name):
        city_codes = set(Category.objects.values_list("code", flat=True))
        assert SlaPolicy.objects.filter(category__code="traffic_signals", severity="critical").exists()
    with schema_context(hotel.schema_name):
        hotel_codes = set(Category.objects.values_list("code", flat=True))
    assert {"potholes", "street_lights", "graffiti", "abandoned_vehicles"} <= city_codes
    assert "potholes" not in hotel_codes
    assert {"plumbing", "elevators", "hvac"} <= hotel_codes


@pytest.mark.parametrize(
    "slug, field",
    [
        ("Bad_Slug", "schema_name"),
        ("-edge", "schema_name"),
        ("public", "schema_name"),
        ("www", "schema_name"),
    ],
)
def test_invalid_or_reserved_slugs_are_rejected(public_schema: None, slug: str, field: str) -> None:
    before = Tenant.objects.count()
    with pytest.raises(ValidationError) as excinfo:
        tenant_create(slug=slug, name="X", kind="city")
    assert field in excinfo.value.message_dict
    assert Tenant.objects.count() == before


def test_duplicate_slug_and_bad_timezone_leave_nothing_behind(public_schema: None, tenant_pair) -> None:
    with pytest.raises(ValidationError) as excinfo:
        tenant_create(slug="alpha", name="Again", kind="city")
    assert "schema_name" in excinfo.value.message_dict
    with pytest.raises(ValidationError) as excinfo:
        tenant_create(slug="gamma", name="Gamma", kind="city", timezone="Mars/Olympus")
    assert "timezone" in excinfo.value.message_dict
    assert not schema_exists("gamma")
    assert not Domain.objects.filter(domain="gamma.localhost").exists()


def test_tenant_create_command(public_schema: None, capsys) -> None:
    call_command("tenant_create", "delta-campus", "--name", "Delta Campus", "--kind", "campus")
    assert "delta-campus" in capsys.readouterr().out
    tenant = Tenant.objects.get(schema_name="delta-campus")
    assert tenant.kind == "campus"
    with schema_context("delta-campus"):
        assert Category.objects.filter(code="classroom_av").exists()
    with pytest.raises(CommandError, match="schema_name"):
        call_command("tenant_create", "delta-campus", "--name", "Again", "--kind", "campus")
