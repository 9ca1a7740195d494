"""The staff console's issue list at scale: fill a throwaway tenant with N issues (one
INSERT ... SELECT over generate_series), then time the list page as staff open it.

    .venv/bin/python bench/admin_list.py [--issues 1000000] [--keep]

Prints `issues`, `fill_s`, and the median ms of five loads for `list_ms` (unfiltered,
first page), `list_open_ms` (status=open), `list_my_departments_ms` (department filter)
and `search_ms` (a text search). The tenant (`bench-admin`) is dropped unless --keep.
"""

import argparse
import statistics
import time

from _setup import django_setup, drop_tenant, figure, kept_or_new_tenant

SLUG = "bench-admin"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--issues", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    django_setup()

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django_tenants.utils import tenant_context

    from issues.models import Issue

    settings.ALLOWED_HOSTS = ["*"]
    tenant, filled = kept_or_new_tenant(SLUG, "Admin list benchmark")
    with tenant_context(tenant):
        if not filled:
            started = time.perf_counter()
            with connection.cursor() as cursor:
                # Statuses, categories, ages and report counts spread like a busy city's.
                cursor.execute(
                    """
                    INSERT INTO issues_issue (title, summary, text, category_id, department_id, severity, status,
                        latitude, longitude, address_key, report_count, created_at, last_report_at, updated_at)
                    SELECT 'Problem ' || g, '', 'pothole street light graffiti ' || g, c.id, c.department_id,
                        (ARRAY['low','medium','high','critical'])[1 + g %% 4],
                        (ARRAY['open','acknowledged','in_progress','resolved','closed'])[1 + g %% 5],
                        39.7 + (g %% 1000) / 5000.0, -89.7 + (g / 1000 %% 1000) / 5000.0, '',
                        1 + (g %% 7 = 0)::int * (g %% 13), now() - (g %% 365) * interval '1 day',
                        now() - (g %% 365) * interval '1 day', now()
                    FROM generate_series(1, %s) g
                    JOIN (SELECT id, department_id, row_number() OVER (ORDER BY id) - 1 AS n FROM issues_category) c
                      ON c.n = g %% (SELECT count(*) FROM issues_category)
                    """,
                    [args.issues],
                )
                cursor.execute("ANALYZE issues_issue")
            figure("fill_s", round(time.perf_counter() - started, 1))
        staff = get_user_model().objects.filter(
            username="bench"
        ).first() or get_user_model().objects.create_superuser(
            "bench", "bench@example.org", "bench-password-123"
        )
        figure("issues", Issue.objects.count())
        client = Client(HTTP_HOST=f"{SLUG}.localhost")
        client.force_login(staff)  # the session lives in the tenant's schema
    for name, params in (
        ("list_ms", {}),
        ("list_open_ms", {"status__exact": "open"}),
        ("list_department_ms", {"department_scope": "mine"}),
        ("search_ms", {"q": "Problem 4242"}),
    ):
        times = []
        for _ in range(5):
            started = time.perf_counter()
            response = client.get("/admin/issues/issue/", params)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.status_code
        figure(name, round(statistics.median(times), 1))
    if not args.keep:
        drop_tenant(SLUG)


if __name__ == "__main__":
    main()
