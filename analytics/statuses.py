"""Issue statuses as analytics' SQL spells them, rendered from the one definition in
`issues.models`, so a Python filter and a SQL statement can never disagree on what is
open."""

from collections.abc import Iterable

from issues.models import OPEN_STATUSES, IssueStatus

# Finished: every status that is not open (resolved, closed). Derived here until
# `issues.models` defines the finished statuses itself.
FINISHED_STATUSES: tuple[IssueStatus, ...] = tuple(s for s in IssueStatus if s not in OPEN_STATUSES)


def sql_string_list(values: Iterable[str]) -> str:
    """`('a', 'b')`: a parenthesised list of SQL string literals, for `IN` in a statement."""
    return "(" + ", ".join("'" + str(value).replace("'", "''") + "'" for value in values) + ")"


OPEN_STATUSES_SQL = sql_string_list(OPEN_STATUSES)
FINISHED_STATUSES_SQL = sql_string_list(FINISHED_STATUSES)
