"""Hosts decide the tenant: tenant hosts, the public site, unknown hosts, suspension."""

from django_tenants.utils import schema_context

from issues.models import Category
from tenants.models import Tenant
from tenants.services import tenant_set_suspended


def test_tenant_host_serves_that_tenant(client_a, client_b, tenant_pair) -> None:
    a, b = tenant_pair
    page_a = client_a.get("/")
    page_b = client_b.get("/")
    assert page_a.status_code == 200 and page_b.status_code == 200
    assert a.name in page_a.content.decode() and b.name not in page_a.content.decode()
    assert b.name in page_b.content.decode() and a.name not in page_b.content.decode()


def test_public_site_lists_tenants_without_private_data(public_client, tenant_pair) -> None:
    a, b = tenant_pair
    response = public_client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert a.name in html and b.name in html
    assert 'href="http://alpha.localhost/"' in html
    # No tenant's configuration shows on the public site.
    assert "Potholes" not in html and "Plumbing" not in html


def test_public_host_by_ip_is_the_public_site(tenant_pair, db) -> None:
    from django.test import Client

    assert Client(HTTP_HOST="127.0.0.1").get("/").status_code == 200


def test_unknown_host_is_404(db, tenant_pair) -> None:
    from django.test import Client

    for host in ("nowhere.localhost", "alpha.localhost.evil.example"):
        response = Client(HTTP_HOST=host).get("/")
        assert response.status_code == 404
        assert b"Alpha City" not in response.content
    assert Client(HTTP_HOST="nowhere.localhost").get("/healthz").status_code == 404


def test_suspended_tenant_answers_403_and_keeps_its_data(client_a, tenant_pair, db) -> None:
    a, _ = tenant_pair
    with schema_context(a.schema_name):
        before = Category.objects.count()
    tenant_set_suspended(tenant=a, suspended=True)
    try:
        page = client_a.get("/")
        assert page.status_code == 403
        assert b"suspended" in page.content.lower()
        api = client_a.get("/api/v1/reports/")
        assert api.status_code == 403
        assert api.json()["code"] == "tenant_suspended"
        admin = client_a.get("/admin/")
        assert admin.status_code == 403
        # Operators' probes still answer.
        assert client_a.get("/healthz").status_code == 200
        assert Tenant.objects.get(pk=a.pk).suspended
        with schema_context(a.schema_name):
            assert Category.objects.count() == before
    finally:
        tenant_set_suspended(tenant=a, suspended=False)
    assert client_a.get("/").status_code == 200


def test_host_resolution_is_cached_per_process_for_a_few_seconds(
    client_a, tenant_pair, settings, django_assert_num_queries
) -> None:
    from tenants.middleware import CachedTenantMainMiddleware

    settings.TENANT_CACHE_SECONDS = 60
    CachedTenantMainMiddleware.forget()
    try:
        client_a.get("/healthz")
        # healthz runs SELECT 1; neither the host lookup nor the SET search_path (the
        # session holds the tenant's path already) is repeated.
        with django_assert_num_queries(1):
            assert client_a.get("/healthz").status_code == 200
        tenant_set_suspended(tenant=tenant_pair[0], suspended=True)
        assert client_a.get("/").status_code == 200  # still cached: suspension lags up to the TTL
        CachedTenantMainMiddleware.forget()
        assert client_a.get("/").status_code == 403
        from django.test import Client

        assert Client(HTTP_HOST="nowhere.localhost").get("/").status_code == 404
        assert "nowhere.localhost" not in CachedTenantMainMiddleware._cache  # misses are not cached
    finally:
        tenant_set_suspended(tenant=tenant_pair[0], suspended=False)
        CachedTenantMainMiddleware.forget()
