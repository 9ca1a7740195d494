"""CSV files people open in a spreadsheet. A cell that starts with = + - @ (or a tab or a
carriage return, which some spreadsheets skip before reading a formula) is run as a
formula there: a resident's report text could then fetch a URL or run a command on the
staff member's machine. Every CSV download writes through `csv_writer`, which prefixes
such text cells with a single quote (OWASP's advice); numbers are written as numbers."""

import csv
from collections.abc import Iterable
from typing import Any, Protocol

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def csv_safe_cell(value: object) -> object:
    """`value`, or for text a spreadsheet would read as a formula, that text after a quote."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeCsvWriter:
    """csv.writer's writerow and writerows, every cell through csv_safe_cell."""

    def __init__(self, stream: _Writable, **options: Any) -> None:
        self._writer = csv.writer(stream, **options)

    def writerow(self, row: Iterable[object]) -> Any:
        return self._writer.writerow([csv_safe_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(stream: _Writable, **options: Any) -> SafeCsvWriter:
    """A CSV writer for files people open in a spreadsheet (see the module's docstring)."""
    return SafeCsvWriter(stream, **options)
