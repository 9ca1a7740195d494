"""Seed the demo: a platform operator, and three tenants with areas, a staff user and a
few hundred reports processed through the real pipeline, and four weeks of scores.
Idempotent: a second run only
fills in what is missing (a tenant that has reports is not given more)."""

import tempfile
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils.text import slugify
from django_tenants.utils import schema_context, tenant_context
from tqdm import tqdm

from analytics.property.accounts import analyst_ensure
from analytics.scores.models import ScoreRun
from analytics.scores.services import scores_refresh
from analytics.sla.services.evaluation import sla_evaluate
from civicpulse.demo.records import DEMO_ADDRESSES, DEMO_RECORDS, seed_records
from civicpulse.demo.seed import seed_reports
from civicpulse.demo.tenants import (
    ANALYST_TENANTS,
    ANALYST_USERNAME,
    DEMO_PASSWORD,
    DEMO_TENANTS,
    OPERATOR_USERNAME,
    REPORTS_PER_KIND,
    STAFF_USERNAME,
    demo_seeding_refuse_in_production,
    grid_boundaries,
)
from issues.services.taxonomy import area_upsert
from reports.models import ImportBatch, Report
from tenants.models import Tenant
from tenants.services import public_tenant_ensure, tenant_create, tenant_install_defaults

# Days of daily score runs the demo starts with, so trends are drawn at once.
HISTORY_DAYS = 28


def _ensure_superuser(username: str, email: str) -> None:
    user_model = get_user_model()
    if not user_model.objects.filter(username=username).exists():
        user_model.objects.create_superuser(username, email, DEMO_PASSWORD)


def _seed_city_records(center: tuple[float, float], slug: str) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="demo-records-") as tmp,
        tqdm(
            total=sum(DEMO_RECORDS.values()), desc=f"city records for {slug}", unit=" rows", disable=None
        ) as bar,
    ):
        seed_records(
            center=center,
            places=DEMO_ADDRESSES,
            counts=DEMO_RECORDS,
            directory=Path(tmp),
            progress=bar.update,
        )


class Command(BaseCommand):
    help = "Seed the demo tenants and users (idempotent)."

    def handle(self, **options: object) -> None:
        demo_seeding_refuse_in_production()
        public_tenant_ensure()
        with schema_context("public"):
            _ensure_superuser(OPERATOR_USERNAME, "operator@example.org")
        steps = tqdm(DEMO_TENANTS, desc="seeding demo tenants", unit="tenant", disable=None)
        for demo in steps:
            steps.set_postfix_str(demo.slug)
            tenant = Tenant.objects.filter(schema_name=demo.slug).first()
            if tenant is None:
                tenant = tenant_create(slug=demo.slug, name=demo.name, kind=demo.kind, timezone=demo.timezone)
            else:
                tenant_install_defaults(tenant=tenant)  # defaults added since it was seeded
            with tenant_context(tenant):
                boundaries = grid_boundaries(demo.center, len(demo.areas)) if demo.grid else None
                for i, area_name in enumerate(demo.areas):
                    area_upsert(
                        code=slugify(area_name).replace("-", "_"),
                        name=area_name,
                        boundary=boundaries[i] if boundaries else None,
                    )
                _ensure_superuser(STAFF_USERNAME, f"staff@{demo.slug}.example.org")
                if demo.slug in ANALYST_TENANTS:
                    Tenant.objects.filter(pk=tenant.pk).update(analyst_accounts_enabled=True)
                    analyst_ensure(
                        username=ANALYST_USERNAME,
                        email=f"analyst@{demo.slug}.example.org",
                        password=DEMO_PASSWORD,
                        full_name="Demo Analyst",
                        organisation="CivicPulse demo",
                    )
        for demo in DEMO_TENANTS:
            with tenant_context(Tenant.objects.get(schema_name=demo.slug)):
                if not Report.objects.exists():
                    count = REPORTS_PER_KIND.get(demo.kind, 200)
                    with tqdm(
                        total=count, desc=f"reports for {demo.slug}", unit="report", disable=None
                    ) as bar:
                        seed_reports(demo, count, bar.update)
                # The property search has city records for a few hundred addresses.
                if demo.kind == "city" and not ImportBatch.objects.exclude(dataset="").exists():
                    _seed_city_records(demo.center, demo.slug)
                # The accountability pages start with four weeks of history instead of
                # waiting for beat's first hourly run.
                if not ScoreRun.objects.exists():
                    with tqdm(
                        total=HISTORY_DAYS + 1, desc=f"scores for {demo.slug}", unit="run", disable=None
                    ) as bar:
                        sla_evaluate()
                        scores_refresh(backfill_days=HISTORY_DAYS, progress=bar.update)
        self.stdout.write(self.style.SUCCESS("demo data ready"))
