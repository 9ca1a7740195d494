"""Compute scores (and evaluate the rules) now, for some tenants or all, optionally
backfilling daily runs so trends have a history from the first day."""

import sys

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import get_public_schema_name, get_tenant_model, tenant_context
from tqdm import tqdm

from analytics.scores.services import scores_refresh


class Command(BaseCommand):
    help = "Compute scores and evaluate rules in tenants; prints `runs: N` and `flags_raised: N`."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slugs", nargs="*", help="Tenants (default: every tenant)")
        parser.add_argument(
            "--backfill-days",
            type=int,
            default=0,
            help="Also store one run a day over this many past days, before today's",
        )

    def handle(self, slugs: list[str], backfill_days: int, **options: object) -> None:
        tenants = (
            get_tenant_model().objects.exclude(schema_name=get_public_schema_name()).order_by("schema_name")
        )
        if slugs:
            tenants = tenants.filter(schema_name__in=slugs)
            missing = set(slugs) - set(tenants.values_list("schema_name", flat=True))
            if missing:
                raise CommandError(f"No tenant {', '.join(sorted(missing))}.")
        tenants = list(tenants)
        runs = raised = 0
        with tqdm(
            total=len(tenants) * (backfill_days + 1), desc="runs", unit=" runs", file=sys.stderr, disable=None
        ) as bar:
            for tenant in tenants:
                with tenant_context(tenant):
                    stored, flags = scores_refresh(backfill_days=backfill_days, progress=bar.update)
                runs, raised = runs + stored, raised + flags
        self.stdout.write(f"runs: {runs}")
        self.stdout.write(f"flags_raised: {raised}")
