"""The report form's map (areas, where it opens, tiles) is read once per tenant and web
process every FORM_MAP_CACHE_SECONDS (reports.form_map), never shown to another tenant,
and a change reaches the form within that time."""

from collections.abc import Iterator

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from issues.services.taxonomy import area_upsert
from reports.form_map import report_form_map

RING = [[-89.7, 39.7], [-89.6, 39.7], [-89.6, 39.9], [-89.7, 39.9], [-89.7, 39.7]]


@pytest.fixture
def kept_maps(settings) -> Iterator[None]:
    settings.FORM_MAP_CACHE_SECONDS = 30
    report_form_map.forget()
    yield
    report_form_map.forget()


def _ward(name: str) -> None:
    area_upsert(code="ward", name=name, boundary={"type": "Polygon", "coordinates": [RING]})


def _page_and_map_reads(client) -> tuple[str, int]:
    """The form page, and how many of its statements read the areas or the tile settings."""
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/report/").content.decode()
    reads = sum(
        'FROM "issues_area"' in q["sql"] or 'FROM "issues_mapsettings"' in q["sql"]
        for q in queries.captured_queries
    )
    return page, reads


def test_the_form_reads_its_map_once_in_the_window(client_a, tenant_a, kept_maps) -> None:
    _ward("Quarry Ward")
    first, first_reads = _page_and_map_reads(client_a)
    again, again_reads = _page_and_map_reads(client_a)
    assert first_reads == 2 and again_reads == 0  # the areas and the tiles, then nothing
    assert "<title>Quarry Ward</title>" in first and "<title>Quarry Ward</title>" in again


def test_each_tenant_sees_its_own_map(client_a, client_b, tenant_a, tenant_pair, kept_maps, settings) -> None:
    from django_tenants.utils import tenant_context

    from issues.models import MapSettings

    settings.MAP_TILE_URL = "https://tiles.example.org/{z}/{x}/{y}.png"
    _ward("Quarry Ward")  # tenant A's only
    with tenant_context(tenant_pair[1]):
        MapSettings.objects.update_or_create(pk=1, defaults={"tiles_off": True})
    a_page = client_a.get("/report/").content.decode()
    b_page = client_b.get("/report/").content.decode()
    assert "<title>Quarry Ward</title>" in a_page and "Quarry Ward" not in b_page
    assert 'data-tile-url=""' in b_page and 'data-tile-url=""' not in a_page
    assert "<title>Quarry Ward</title>" in client_a.get("/report/").content.decode()


def test_a_change_reaches_the_form_within_the_window(client_a, tenant_a, kept_maps, kept_clock) -> None:
    now = kept_clock
    _ward("Quarry Ward")
    client_a.get("/report/")
    _ward("Mill Ward")
    now[0] += 29
    assert "<title>Quarry Ward</title>" in client_a.get("/report/").content.decode()  # kept
    now[0] += 2
    assert "<title>Mill Ward</title>" in client_a.get("/report/").content.decode()


def test_past_its_bound_a_process_keeps_no_more_maps(
    client_a, client_b, tenant_a, kept_maps, monkeypatch
) -> None:
    monkeypatch.setattr(report_form_map, "max_tenants", 1)
    _ward("Quarry Ward")
    client_a.get("/report/")
    assert "Quarry Ward" not in client_b.get("/report/").content.decode()
    assert report_form_map.kept_count() == 1
    assert "<title>Quarry Ward</title>" in client_a.get("/report/").content.decode()
    assert report_form_map.kept_count() == 1


def test_with_no_window_every_visit_reads_the_map(client_a, tenant_a, settings) -> None:
    settings.FORM_MAP_CACHE_SECONDS = 0
    _ward("Quarry Ward")
    assert [_page_and_map_reads(client_a)[1] for _ in range(2)] == [2, 2]
