"""The links a source states itself: a row naming its parent (Chicago's PARENT_SR_NUMBER)
joins the parent's issue, the parent being a row of the same file or a report an earlier
batch loaded from the same source. The rest of grouping is issue logic: issues.bulk."""

from django.db.backends.utils import CursorWrapper

from civicpulse.core.sql import run


def source_parents_link(cursor: CursorWrapper, work: str, source: str) -> None:
    """`{work}.links` (line, parent_line, issue_id, method) from the rows' parent ids."""
    run(
        cursor,
        """CREATE UNLOGGED TABLE {work}.links AS
           SELECT v.line, p.line AS parent_line, NULL::bigint AS issue_id, 'source_parent' AS method
           FROM {work}.valid v JOIN {work}.valid p ON p.source_id = v.parent_id
           WHERE v.parent_id <> '' AND v.parent_id <> v.source_id
           UNION ALL
           SELECT v.line, NULL, r.issue_id, 'source_parent'
           FROM {work}.valid v JOIN reports_report r ON r.source = %(source)s AND r.source_id = v.parent_id
           WHERE v.parent_id <> '' AND r.issue_id IS NOT NULL;
           ANALYZE {work}.links;""",
        {"source": source},
        work=work,
    )
