"""Load a 311 export (CSV, optionally gzip-compressed) into a tenant as historical reports."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context
from tqdm import tqdm

from reports.imports.formats import FORMATS, MAPPED, Mapping
from reports.imports.load import import_reports
from tenants.commands import tenant_for_command


class Command(BaseCommand):
    help = "Import historical reports from a 311 export; ends with one line of counts."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")
        parser.add_argument("file", type=Path)
        parser.add_argument("--format", dest="fmt", choices=[*sorted(FORMATS), MAPPED], default="publicstuff")
        parser.add_argument(
            "--mapping", type=Path, help="YAML column (and category) mapping, for --format mapped"
        )

    def handle(self, slug: str, file: Path, fmt: str, mapping: Path | None, **options: object) -> None:
        tenant = tenant_for_command(slug)
        if not file.is_file():
            raise CommandError(f"No file {file}.")
        try:
            columns = Mapping.load(mapping) if mapping else None
        except (OSError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        with tenant_context(tenant), tqdm(desc="rows", unit=" rows", file=sys.stderr, disable=None) as bar:
            try:
                result = import_reports(
                    path=file, fmt=fmt, mapping=columns, progress=bar.update, phase=bar.set_description
                )
            except (ValueError, UnicodeDecodeError) as exc:
                raise CommandError(str(exc)) from exc
        if result.unknown_categories:
            self.stderr.write(
                f"{result.unknown_categories} source categories matched none of the tenant's: loaded as 'other'"
            )
        self.stdout.write(result.summary())
