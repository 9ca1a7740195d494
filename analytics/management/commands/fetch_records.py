"""Download one record dataset from the tenant's Socrata source once (what beat does daily)
and load it; ends with the same line of counts as import_records."""

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from analytics.records.datasets import DATASETS
from analytics.records.load import summary_line
from analytics.records.socrata import FetchError, records_fetch
from tenants.commands import tenant_for_command


class Command(BaseCommand):
    help = (
        "Download a record dataset from its Socrata portal once (changes since the last complete download)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--dataset", required=True, choices=DATASETS)
        parser.add_argument("--full", action="store_true", help="Download every row, not only the changes.")

    def handle(self, slug: str, dataset: str, full: bool, **options: object) -> None:
        tenant = tenant_for_command(slug)
        with tenant_context(tenant):
            try:
                batch = records_fetch(dataset=dataset, full=full)
            except (FetchError, ValueError) as exc:
                raise CommandError(str(exc)) from exc
        if batch is None:
            raise CommandError(f"{slug} has no active source for {dataset} (Record sources in the console).")
        self.stdout.write(summary_line(batch))
