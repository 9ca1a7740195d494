"""Load a city-records file (CSV, optionally gzip-compressed) into a tenant as a batch of
one dataset; ends with the same line of counts as import_reports."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context
from tqdm import tqdm

from analytics.records.datasets import DATASETS
from analytics.records.formats import FORMATS, MAPPED
from analytics.records.load import import_records, summary_line
from tenants.commands import tenant_for_command


class Command(BaseCommand):
    help = (
        "Import a file of city records (violations, inspections, permits, 311, tax sales, vacant buildings)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")
        parser.add_argument("file", type=Path)
        parser.add_argument("--dataset", required=True, choices=DATASETS)
        parser.add_argument("--format", dest="fmt", choices=[*FORMATS, MAPPED], default=None)
        parser.add_argument("--mapping", type=Path, help="YAML column mapping, for --format mapped")

    def handle(
        self, slug: str, file: Path, dataset: str, fmt: str | None, mapping: Path | None, **options: object
    ) -> None:
        tenant = tenant_for_command(slug)
        if not file.is_file():
            raise CommandError(f"No file {file}.")
        if fmt == MAPPED and mapping is None:
            raise CommandError("--format mapped needs --mapping FILE.yaml")
        with tenant_context(tenant), tqdm(desc="rows", unit=" rows", file=sys.stderr, disable=None) as bar:
            try:
                batch = import_records(
                    path=file,
                    dataset=dataset,
                    fmt=fmt,
                    mapping_path=mapping,
                    progress=bar.update,
                    phase=bar.set_description,
                )
            except (OSError, ValueError, UnicodeDecodeError) as exc:
                raise CommandError(str(exc)) from exc
        self.stdout.write(summary_line(batch))
