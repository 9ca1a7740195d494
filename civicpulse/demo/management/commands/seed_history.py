"""Give a tenant a year of generated 311 history through the bulk import (`make
seed-history` for springfield). Re-running loads nothing twice: the file is the same."""

import sys
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand
from django_tenants.utils import tenant_context
from tqdm import tqdm

from civicpulse.demo.history import generate_chicago311
from civicpulse.demo.tenants import DEMO_TENANTS, demo_seeding_refuse_in_production
from reports.imports.load import import_reports
from tenants.commands import tenant_for_command


class Command(BaseCommand):
    help = "Generate a year of Chicago-layout 311 history around the tenant and import it."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug", nargs="?", default="springfield")
        parser.add_argument("--rows", type=int, default=50_000)

    def handle(self, slug: str, rows: int, **options: object) -> None:
        demo_seeding_refuse_in_production()  # invented history has no place in a real tenant
        tenant = tenant_for_command(slug, "run `make run` or `manage.py seed_demo` first")
        demo = next((d for d in DEMO_TENANTS if d.slug == slug), None)
        with tempfile.TemporaryDirectory(prefix="civicpulse-history-") as workdir:
            path = Path(workdir) / f"{slug}-history.csv"
            self.stderr.write(f"generating {rows} requests of history")
            if demo is None:
                generate_chicago311(path, rows)
            else:
                generate_chicago311(path, rows, center=demo.center)
            with tenant_context(tenant), tqdm(total=rows, unit=" rows", file=sys.stderr, disable=None) as bar:
                result = import_reports(
                    path=path, fmt="chicago311", progress=bar.update, phase=bar.set_description
                )
        self.stdout.write(result.summary())
