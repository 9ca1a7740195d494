"""What a tenant publishes starts from its kind: a city's Open311 requests and record are
public, every other kind opts in (provisioning for new tenants, a migration for old ones)."""

import importlib

from django.apps import apps
from django.test import Client
from django.utils import timezone

from tenants.models import LeaderboardEntry, Tenant
from tenants.selectors import leaderboard_latest
from tenants.services import leaderboard_record


def test_provisioning_sets_publication_by_kind(tenant_pair) -> None:
    city, hotel = tenant_pair
    assert (city.kind, city.open311_public_reads, city.leaderboard_enabled) == ("city", True, True)
    assert (hotel.kind, hotel.open311_public_reads, hotel.leaderboard_enabled) == ("hotel", False, False)


def test_the_migration_sets_existing_tenants_by_kind(public_schema, tenant_pair) -> None:
    Tenant.objects.update(open311_public_reads=False, leaderboard_enabled=True)
    migration = importlib.import_module("tenants.migrations.0006_publication_by_kind")
    migration.publication_by_kind(apps, None)
    city, hotel = (Tenant.objects.get(pk=t.pk) for t in tenant_pair)
    assert (city.open311_public_reads, city.leaderboard_enabled) == (True, True)
    assert (hotel.open311_public_reads, hotel.leaderboard_enabled) == (False, False)


def test_a_hotel_is_not_on_the_leaderboard_unless_it_opts_in(public_schema, tenant_pair) -> None:
    hotel = tenant_pair[1]
    figures = {
        "computed_at": timezone.now(),
        "window_days": 30,
        "reported": 5,
        "resolved": 5,
        "compliance": 1.0,
        "median_hours": 2.0,
        "score": 90.0,
    }
    assert leaderboard_record(tenant_id=hotel.pk, **figures) is None  # nothing leaves its schema
    assert not LeaderboardEntry.objects.filter(tenant=hotel).exists()
    assert "Beta Hotel" not in Client(HTTP_HOST="localhost").get("/leaderboard/").content.decode()
    Tenant.objects.filter(pk=hotel.pk).update(leaderboard_enabled=True)
    assert leaderboard_record(tenant_id=hotel.pk, **figures) is not None
    assert [e.tenant_id for e in leaderboard_latest()["hotel"]] == [hotel.pk]
