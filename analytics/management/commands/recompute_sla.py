"""Rebuild SLA metrics of a tenant's resolved issues, for a period or for everything."""

import sys
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context
from tqdm import tqdm

from analytics.sla.services.evaluation import sla_metrics_recompute
from tenants.commands import tenant_for_command


class Command(BaseCommand):
    help = "Recompute SLA metrics of resolved issues; prints `metrics: N`."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")
        parser.add_argument(
            "--since", type=date.fromisoformat, help="First resolution date (tenant's local date)"
        )
        parser.add_argument("--until", type=date.fromisoformat, help="Last resolution date, included")
        parser.add_argument("--all", action="store_true", help="Every resolved issue (no period)")

    def handle(self, slug: str, since: date | None, until: date | None, all: bool, **options: object) -> None:
        tenant = tenant_for_command(slug)
        if all == bool(since or until):
            raise CommandError("Give --all, or a period with --since and/or --until.")
        if since and until and since > until:
            raise CommandError("--since comes after --until.")
        with (
            tenant_context(tenant),
            tqdm(desc="issue ids", unit=" ids", file=sys.stderr, disable=None) as bar,
        ):
            written = sla_metrics_recompute(
                since=since, until=until, progress=bar.update, total=lambda n: setattr(bar, "total", n)
            )
        self.stdout.write(f"metrics: {written}")
