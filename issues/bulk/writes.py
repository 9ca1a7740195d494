"""Writing issues, set-based: the issues the rows of `{work}.assign` open, and the report
counts of those already in the tenant that they join."""

from django.db.backends.utils import CursorWrapper
from psycopg import sql

from civicpulse.core.sql import run
from issues.bulk.areas import area_of_row, area_parts_create
from issues.models import FINISHED_STATUSES, IssueStatus
from issues.statuses import sql_literal_list


def issues_write(cursor: CursorWrapper, work: str) -> None:
    """Insert the issue each opening row of `{work}.assign` opens, in its area, with the
    rows joining it counted; add the rows joining issues already in the tenant to theirs.
    Needs `{work}.roots` as `grouping.rows_group` left it."""
    area = area_of_row(work) if area_parts_create(cursor, work) else sql.SQL("NULL::bigint")
    run(
        cursor,
        """INSERT INTO issues_issue (id, title, summary, text, category_id, department_id, severity, status,
               latitude, longitude, address_key, area_id, report_count, created_at, last_report_at,
               acknowledged_at, resolved_at, closed_at, updated_at)
           SELECT v.issue_id, left(v.description, 200), left(v.description, 300), v.description,
               v.category_id, v.department_id, v.severity, v.status,
               v.lat, v.lon, CASE WHEN v.lat IS NULL THEN v.address_key ELSE '' END, {area},
               1 + COALESCE(k.n, 0), v.created_at, GREATEST(v.created_at, k.last), NULL,
               -- A closing time only where the source has one: never a made-up one.
               CASE WHEN v.status IN {finished} THEN v.closed_at END,
               CASE WHEN v.status = {closed} THEN v.closed_at END, now()
           FROM {work}.assign v
           -- The rows joining each new issue, counted here (few: most rows open their
           -- own), so new issues are written once, not inserted then updated.
           LEFT JOIN (SELECT ro.root_line, count(*) AS n, max(j.created_at) AS last
                      FROM {work}.roots ro JOIN {work}.assign j ON j.line = ro.line
                      WHERE ro.issue_id IS NULL GROUP BY ro.root_line) k ON k.root_line = v.line
           WHERE v.opens
           -- In id order, the primary key (kept while loading: other tables' keys point
           -- at it) grows at its right edge instead of splitting pages all over.
           ORDER BY v.issue_id;
           -- Issues already in the tenant that gained reports from this load.
           UPDATE issues_issue i SET report_count = i.report_count + t.n, last_report_at = GREATEST(i.last_report_at, t.last)
           FROM (SELECT issue_id, count(*) AS n, max(created_at) AS last FROM {work}.assign WHERE existing
                 GROUP BY issue_id) t
           WHERE i.id = t.issue_id;""",
        work=work,
        area=area,
        finished=sql_literal_list(FINISHED_STATUSES),
        closed=sql.Literal(str(IssueStatus.CLOSED)),
    )
