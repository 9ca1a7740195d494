"""How well would the classifiers do on a tenant's labelled history? Fit a throwaway
learned model on the older part of a CSV, score it on the newer part beside a plain
TF-IDF + LinearSVC fitted on the same rows, the cold-start classifier (and the tenant's
language model, when it has one). With --cold-start nothing is fitted: every row is
classified as a new tenant's first reports would be.

The throwaway model is fitted and used in memory by the same code as the stored one
(llm.learning) and never written: the tenant's own model and examples are left alone.
The language model is asked through the pipeline's entry point, one call per scored
row, and those calls are audited in the tenant (ModelCall) like any other.
Labels are the tenant's categories, by code or name or through --label-map (rows whose
label maps to none are left out and counted). A file whose labels are not all categories
of the tenant, and no map, is judged on its own labels: each becomes a category named
after itself.
"""

import csv
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import tenant_context

from issues.models import Category
from llm.client import endpoint_config
from llm.learning import LearnedClassifier, classification_scores
from llm.offline import classify_offline
from llm.services import classify_report, classify_untrained
from llm.text_model import TextModel, baseline_predictions, text_model_fit
from llm.types import CategoryInfo, Classification
from reports.label_maps import label_map_read, label_resolver
from reports.services.pipeline import category_info
from tenants.commands import tenant_for_command
from tenants.models import Tenant

# Below this many usable rows a split says nothing at all.
MIN_ROWS = 10
# Date layouts tried after Unix seconds and ISO 8601 (Chicago's and other US exports).
_DATE_FORMATS = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y")


@dataclass(frozen=True)
class Row:
    text: str
    label: str
    when: datetime | None


def _parse_when(value: str) -> datetime | None:
    value = value.strip()
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except (ValueError, OverflowError):
        pass
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
        for layout in _DATE_FORMATS:
            try:
                parsed = datetime.strptime(value, layout)
                break
            except ValueError:
                continue
    if parsed is None:
        return None
    # A date without a zone is read as UTC: only the order of rows matters here.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def read_rows(
    path: Path, *, text_column: str, label_column: str, date_column: str | None, id_column: str | None
) -> tuple[list[Row], int]:
    """The usable rows in file order, and how many were skipped (a blank text or label, or
    an id seen before: exports repeat rows, and a repeat must not land in both parts)."""
    if not path.is_file():
        raise CommandError(f"No file {path}.")
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        for option, column in (
            ("--text-column", text_column),
            ("--label-column", label_column),
            ("--date-column", date_column),
            ("--id-column", id_column),
        ):
            if column is not None and column not in columns:
                raise CommandError(
                    f"{option}: no column {column!r} in {path.name} (columns: {', '.join(columns)})."
                )
        rows: list[Row] = []
        seen: set[str] = set()
        skipped = 0
        for line, record in enumerate(reader, start=2):
            text, label = (record[text_column] or "").strip(), (record[label_column] or "").strip()
            ref = (record[id_column] or "").strip() if id_column else ""
            if not text or not label or (ref and ref in seen):
                skipped += 1
                continue
            seen.add(ref)
            when = None
            if date_column:
                when = _parse_when(record[date_column] or "")
                if when is None:
                    raise CommandError(
                        f"Line {line}: unreadable date {record[date_column]!r} in {date_column!r}."
                    )
            rows.append(Row(text, label, when))
    return rows, skipped


def confusion(labels: list[str], truth: list[str], predicted: list[str]) -> list[list[int]]:
    """Counts with the true label as row and the predicted one as column, in `labels` order.
    A text given no category (NO_CATEGORY) is wrong in every figure and in no column."""
    position = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for true, guess in zip(truth, predicted, strict=True):
        if guess in position:
            matrix[position[true]][position[guess]] += 1
    return matrix


# What a classifier that named no category is scored as: a label no text carries.
NO_CATEGORY = ""


def _category(answer: Classification) -> str:
    return answer.category or NO_CATEGORY


def confusion_table(title: str, labels: list[str], matrix: list[list[int]]) -> str:
    """Plain text: rows numbered and named (the truth), columns numbered (the prediction)."""
    names = [label if len(label) <= 40 else label[:39] + "…" for label in labels]
    name_width = max(len(n) for n in names) + 4
    cell = max(len(str(len(labels))), *(len(str(v)) for row in matrix for v in row)) + 2
    lines = [
        f"{title} (rows: true label, columns: predicted)",
        " " * name_width + "".join(f"{i:>{cell}}" for i in range(1, len(labels) + 1)),
    ]
    for i, (name, row) in enumerate(zip(names, matrix, strict=True), start=1):
        lines.append(f"{i:>2}  {name:<{name_width - 4}}" + "".join(f"{v or '.':>{cell}}" for v in row))
    return "\n".join(lines)


class Command(BaseCommand):
    help = (
        "Score the classifiers on a labelled CSV: the learned model fitted on the older part against a "
        "plain TF-IDF + LinearSVC on the same split, or (--cold-start) what a new tenant gets with no "
        "training. Writes nothing to the tenant."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug", help="the tenant whose categories and language model settings apply")
        parser.add_argument("--csv", dest="path", type=Path, required=True)
        parser.add_argument("--text-column", required=True)
        parser.add_argument("--label-column", required=True)
        parser.add_argument(
            "--label-map",
            type=Path,
            help="CSV of two columns: the file's label, the tenant's category code (rows with labels it "
            "does not list are left out)",
        )
        parser.add_argument(
            "--cold-start", action="store_true", help="fit nothing: score what a tenant with no training gets"
        )
        parser.add_argument(
            "--date-column",
            help="rows are split by this date (Unix seconds, ISO 8601 or "
            "MM/DD/YYYY [hh:mm:ss AM]); without it, by file order",
        )
        parser.add_argument("--id-column", help="rows repeating an id seen before are dropped")
        parser.add_argument("--train-fraction", type=float, default=0.7)
        parser.add_argument(
            "--no-model", action="store_true", help="skip the language model even when one is configured"
        )
        parser.add_argument(
            "--json", dest="as_json", action="store_true", help="print one JSON object instead of lines"
        )

    def handle(
        self,
        *args: object,
        slug: str,
        path: Path,
        text_column: str,
        label_column: str,
        label_map: Path | None,
        cold_start: bool,
        date_column: str | None,
        id_column: str | None,
        train_fraction: float,
        no_model: bool,
        as_json: bool,
        **options: object,
    ) -> None:
        tenant = tenant_for_command(slug)
        if not 0 < train_fraction < 1:
            raise CommandError("--train-fraction must be between 0 and 1.")
        rows, skipped = read_rows(
            path,
            text_column=text_column,
            label_column=label_column,
            date_column=date_column,
            id_column=id_column,
        )
        rows, categories, unmapped = _as_categories(tenant, rows, label_map)
        if len(rows) < MIN_ROWS:
            raise CommandError(f"Too few rows: {len(rows)} usable, at least {MIN_ROWS} needed.")
        if date_column:
            # Every row has its date here (read_rows refuses an unreadable one); the sort is stable, so
            # rows of the same moment keep their order in the file.
            rows.sort(key=lambda r: r.when or datetime.min.replace(tzinfo=UTC))
        labels = sorted({r.label for r in rows})
        figures: dict[str, object] = {
            "labels": len(labels),
            "skipped_rows": skipped,
            "unmapped_rows": unmapped,
        }
        if cold_start:
            test: list[Row] = rows
            figures["rows"] = len(rows)
        else:
            cut = min(max(round(len(rows) * train_fraction), 1), len(rows) - 1)
            train, test = rows[:cut], rows[cut:]
            if len({r.label for r in train}) < 2:
                raise CommandError("Too few rows: the older part has fewer than two labels to learn.")
            figures.update({"train_rows": len(train), "test_rows": len(test)})
        texts, truth = [r.text for r in test], [r.label for r in test]
        predictions: dict[str, list[str]] = {}

        # What a tenant with no training gets: the starter examples in meaning, else keywords.
        untrained = [classify_untrained(text, categories) for text in texts]
        keywords = [_category(classify_offline(text, categories)) for text in texts]
        if cold_start:
            predictions["cold_start"] = [_category(answer) for answer in untrained]
            figures.update(classification_scores(truth, predictions["cold_start"]))
            figures["answered_by_examples"] = sum(a.classifier.startswith("offline-prior") for a in untrained)
        else:
            fitted = text_model_fit([r.text for r in train], [r.label for r in train])
            learned = LearnedClassifier(version=0, category=TextModel.from_parameters(fitted), severity=None)
            # As the pipeline uses it: the learned model, the untrained path for a text it knows no word of.
            answers = [learned.classify(text, categories) for text in texts]
            predictions["learned"] = [
                _category(answer or fallback) for answer, fallback in zip(answers, untrained, strict=True)
            ]
            figures.update(classification_scores(truth, predictions["learned"]))
            figures["untrained_fallbacks"] = sum(a is None for a in answers)
            predictions["baseline"] = baseline_predictions(
                [r.text for r in train], [r.label for r in train], texts
            )
            baseline = classification_scores(truth, predictions["baseline"])
            figures.update({f"baseline_{name}": value for name, value in baseline.items()})
        predictions["keywords"] = keywords
        scored = classification_scores(truth, keywords)
        figures.update({f"keyword_{name}": value for name, value in scored.items()})

        if no_model:
            self.stderr.write("language model: skipped (--no-model)")
        else:
            model = self._model_predictions(tenant, texts, categories)
            if model is not None:
                predictions["model"], fallbacks = model
                scored = classification_scores(truth, predictions["model"])
                figures.update({f"model_{name}": value for name, value in scored.items()})
                figures["model_fallbacks"] = fallbacks

        matrices = {name: confusion(labels, truth, guessed) for name, guessed in predictions.items()}
        if as_json:
            self.stdout.write(json.dumps({**figures, "label_names": labels, "confusion": matrices}))
            return
        for name, value in figures.items():
            self.stdout.write(f"{name}: {value:.3f}" if isinstance(value, float) else f"{name}: {value}")
        for name, matrix in matrices.items():
            self.stdout.write("")
            self.stdout.write(confusion_table(f"confusion, {name}", labels, matrix))

    def _model_predictions(
        self, tenant: Tenant, texts: list[str], categories: list[CategoryInfo]
    ) -> tuple[list[str], int] | None:
        """The language model's categories through the pipeline's own entry point, and how
        many answers came from the offline fallback because the model failed. None (with
        the reason on stderr) when the tenant has no model."""
        with tenant_context(tenant):
            config = endpoint_config("classify")
            if config is None:
                self.stderr.write(f"language model: none configured for {tenant.schema_name}")
                return None
            self.stderr.write(f"language model: {config.model} at {config.endpoint}, {len(texts)} calls")
            answers = [classify_report(text=text, categories=categories) for text in texts]
        return [_category(a) for a in answers], sum(not a.classifier.startswith("llm:") for a in answers)


def _as_categories(
    tenant: Tenant, rows: list[Row], label_map: Path | None
) -> tuple[list[Row], list[CategoryInfo], int]:
    """The rows with their labels as the tenant's category codes, the tenant's active
    categories, and how many rows were left out for a label naming none (with a map). A
    file with a label that names no category, and no map, keeps its own labels as
    categories: it is judged on the labels' names alone."""
    with tenant_context(tenant):
        resolver = label_resolver(label_map_read(label_map) if label_map else None)
        categories = [category_info(c) for c in Category.objects.filter(active=True).order_by("code")]
    codes = [resolver.get(r.label.lower()) for r in rows]
    if label_map is None and not all(codes):
        own = sorted({r.label for r in rows})
        return rows, [CategoryInfo(code=label, name=label) for label in own], 0
    kept = [Row(r.text, code, r.when) for r, code in zip(rows, codes, strict=True) if code]
    return kept, categories, len(rows) - len(kept)
