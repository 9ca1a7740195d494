"""Measure duplicate grouping on labelled reports: pairwise precision, recall, F1 and the
share of mixed issues, with the tenant's categories and grouping policy, in a throwaway
schema (the tenant's data is only read)."""

import sys
from json import dumps
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context
from tqdm import tqdm

from reports.dedup_evaluation import Columns, dedup_evaluate, labelled_reports_read, labelled_reports_write
from reports.dedup_samples import labelled_reports_generate
from reports.label_maps import label_map_read
from tenants.commands import tenant_for_command


class Command(BaseCommand):
    help = (
        "Replay labelled reports (--csv FILE, or --generate N made-up ones) through the real grouping in a "
        "throwaway schema and print precision, recall, f1 and mixed_issue_share, one `name: value` per line."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug", help="the tenant whose categories and grouping policy are used")
        source = parser.add_mutually_exclusive_group(required=True)
        source.add_argument("--csv", type=Path, help="labelled reports, one row each")
        source.add_argument("--generate", type=int, metavar="N", help="make N labelled reports instead")
        parser.add_argument(
            "--seed", type=int, default=7, help="for --generate: the same seed gives the same rows"
        )
        parser.add_argument("--save", type=Path, help="for --generate: also write the rows to this CSV")
        parser.add_argument("--json", action="store_true", help="print one JSON object instead of lines")
        columns = parser.add_argument_group("columns of --csv")
        columns.add_argument("--id-column", default=Columns.id)
        columns.add_argument("--text-column", default=Columns.text)
        columns.add_argument("--latitude-column", default=Columns.latitude)
        columns.add_argument("--longitude-column", default=Columns.longitude)
        columns.add_argument(
            "--time-column", default=Columns.time, help="Unix seconds or ISO 8601 (UTC if no zone)"
        )
        columns.add_argument(
            "--duplicate-column",
            default=Columns.duplicate_of,
            help="the id of the report a row duplicates; may be absent (rows sharing an id are duplicates anyway)",
        )
        columns.add_argument(
            "--category-column",
            default="",
            help="use this column's category (a code or name of the tenant's) instead of the offline classifier's",
        )
        columns.add_argument(
            "--label-map",
            type=Path,
            help="with --category-column: a CSV of two columns, the file's category, the tenant's category "
            "code (a row whose category it does not list is classified as usual)",
        )
        columns.add_argument("--address-column", default="", help="groups rows that have no point by address")

    def handle(
        self,
        slug: str,
        csv: Path | None,
        generate: int | None,
        seed: int,
        save: Path | None,
        json: bool,
        id_column: str,
        text_column: str,
        latitude_column: str,
        longitude_column: str,
        time_column: str,
        duplicate_column: str,
        category_column: str,
        label_map: Path | None,
        address_column: str,
        **options: object,
    ) -> None:
        tenant = tenant_for_command(slug)
        if label_map is not None and not category_column:
            raise CommandError("--label-map maps the categories of --category-column: name that column too.")
        mapping = None
        if label_map is not None:
            with tenant_context(tenant):
                mapping = label_map_read(label_map)
        if generate is not None:
            if generate < 1:
                raise CommandError("--generate needs a positive number of rows.")
            rows = labelled_reports_generate(generate, seed=seed)
            if save:
                labelled_reports_write(rows, save)
        else:
            if save:
                raise CommandError("--save writes generated rows: use it with --generate.")
            if csv is None or not csv.is_file():  # argparse requires --csv or --generate
                raise CommandError(f"No file {csv}.")
            columns = Columns(
                id=id_column,
                text=text_column,
                latitude=latitude_column,
                longitude=longitude_column,
                time=time_column,
                duplicate_of=duplicate_column,
                category=category_column,
                address=address_column,
            )
            try:
                rows = labelled_reports_read(csv, columns)
            except (ValueError, UnicodeDecodeError) as exc:
                raise CommandError(str(exc)) from exc
        with tqdm(total=len(rows), desc="grouping", unit=" rows", file=sys.stderr, disable=None) as bar:
            figures = dedup_evaluate(
                tenant=tenant,
                rows=rows,
                use_category=bool(category_column),
                label_map=mapping,
                progress=bar.update,
            )
        if json:
            self.stdout.write(dumps(figures))
            return
        for name, value in figures.items():
            self.stdout.write(f"{name}: {value}")
