"""Labelled files name categories their own way ("Pot Hole", "72 Hour Violation"). The
evaluation commands read them as the tenant's categories: by code or name, or through a
label map, a CSV of two columns (the file's label, the tenant's category code)."""

import csv
from pathlib import Path

from django.core.management.base import CommandError

from issues.models import Category


def label_map_read(path: Path) -> dict[str, str]:
    """The file's label (folded to lower case) → the tenant's category code. A first row
    whose code names no category is taken as a header; any later one is an error."""
    if not path.is_file():
        raise CommandError(f"--label-map: no file {path}.")
    codes = set(Category.objects.values_list("code", flat=True))
    mapping: dict[str, str] = {}
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for line, row in enumerate(csv.reader(handle), start=1):
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) < 2:
                raise CommandError(f"--label-map, line {line}: two columns needed (label, category code).")
            label, code = row[0].strip(), row[1].strip()
            if code not in codes:
                if line == 1:
                    continue  # a header
                raise CommandError(
                    f"--label-map, line {line}: {code!r} is not a category code of this tenant."
                )
            mapping[label.lower()] = code
    return mapping


def label_resolver(mapping: dict[str, str] | None) -> dict[str, str]:
    """Every name a label may take → category code: the map when given, else the tenant's
    categories by code and by name (case folded)."""
    if mapping is not None:
        return mapping
    resolved: dict[str, str] = {}
    for code, name in Category.objects.values_list("code", "name"):
        resolved[name.lower()] = code
        resolved[code.lower()] = code
    return resolved
