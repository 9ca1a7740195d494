"""A drain's claimed batch, processed together: classified in one call, grouped in one
transaction and written in a few statements, where one report at a time costs about
fifteen round trips each (docs/performance.md, "Pipeline batches")."""

import json
import logging

from django.db import connection, transaction

from issues.selectors import categories_kept, setup_forget
from issues.services.grouping_batch import GroupingBatch, grouping_query, lock_keys, neighbourhoods_lock
from llm.services import classify_reports
from llm.types import CategoryInfo, Classification
from reports.models import Report
from reports.services.pipeline import (
    PROCESSED_FIELDS,
    record_failure,
    report_categories,
    report_classification_apply,
    report_group,
    report_process_claimed,
)

logger = logging.getLogger(__name__)


def reports_process_batch(*, report_ids: list[int]) -> int:
    """Process reports this worker claimed (outbox.reports_claim); returns how many were
    processed or failed.

    Grouping goes report by report in id order inside one transaction, so the batch ends
    in the issues grouping them one by one gives (issues.services.grouping_batch). A
    report whose classification fails is failed on its own. When grouping fails, the
    batch's transaction is rolled back and its reports go one by one
    (pipeline.report_process_claimed), so that only the faulty one fails, with its error."""
    reports = list(Report.objects.select_related("category").filter(pk__in=report_ids).order_by("pk"))
    everyone: list[CategoryInfo] | None = None  # what a report with no category may be
    items: list[tuple[str, list[CategoryInfo]]] = []
    for report in reports:
        if report.category is not None:
            items.append((report.description, report_categories(report.category)))
        else:
            everyone = report_categories(None) if everyone is None else everyone
            items.append((report.description, everyone))
    classified: list[tuple[Report, Classification]] = []
    for report, answer in zip(reports, classify_reports(items=items), strict=True):
        if isinstance(answer, Exception):
            record_failure(report.pk, answer)
        else:
            classified.append((report, answer))
    try:
        _group_together(classified)
    except Exception as exc:
        logger.warning(
            "batch grouping failed; one by one", extra={"reports": len(classified), "error": repr(exc)}
        )
        # What this process kept of the set-up may be what failed (a category deleted
        # since): every tenant's next batch reads it afresh, as the reports one by one do.
        setup_forget()
        for report, _ in classified:
            report_process_claimed(report_id=report.pk)
    return len(reports)


def _group_together(classified: list[tuple[Report, Classification]]) -> None:
    # Taken again rather than from before the classification, which a language model can
    # make last minutes: the categories are then at most SETUP_CACHE_SECONDS old.
    chosen_here = any(report.category is None and c.category for report, c in classified)
    by_code = categories_kept() if chosen_here else {}
    batch = GroupingBatch()
    with transaction.atomic():
        # Reports still received, locked: one processed meanwhile (by the sweeper's task
        # after this worker was taken for dead) is left as it is.
        # A plain statement: as an ORM query it was built again at every batch.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM reports_report WHERE id = ANY(%s) AND status = %s ORDER BY id FOR UPDATE",
                [[report.pk for report, _ in classified], Report.Status.RECEIVED],
            )
            still = {row[0] for row in cursor.fetchall()}
        todo = [(report, c) for report, c in classified if report.pk in still]
        for report, classification in todo:
            report_classification_apply(report, classification, by_code.get(classification.category or ""))
        neighbourhoods_lock(
            lock_keys(
                latitude=report.latitude,
                longitude=report.longitude,
                address_key=report.address_key,
                radius_m=batch.thresholds(report.category).radius_m,
            )
            for report, _ in todo
        )
        # Every report's candidates in one statement; a report whose resident chose its
        # issue needs none unless that issue closed meanwhile (then it asks on its own).
        batch.candidates_prefetch(
            (
                report.tracking_id,
                grouping_query(
                    text=report.description,
                    category=report.category,
                    latitude=report.latitude,
                    longitude=report.longitude,
                    address_key=report.address_key,
                    at=report.submitted_at,
                    thresholds=batch.thresholds(report.category),
                    batch=batch,
                ),
            )
            for report, _ in todo
            if report.chosen_issue_id is None
        )
        for report, _ in todo:
            report_group(report, batch)
        batch.flush()
        for report, _ in todo:
            # An issue the batch opened got its id only as the batch wrote it.
            report.issue_id = report.issue.pk if report.issue is not None else None
        _reports_save([report for report, _ in todo])


# The column and SQL type of each field processing writes (a field added to
# PROCESSED_FIELDS without one here fails every batch loudly, and its reports then go one
# by one).
_COLUMNS = {
    "category": ("category_id", "bigint"),
    "category_source": ("category_source", "text"),
    "severity": ("severity", "text"),
    "summary": ("summary", "text"),
    "confidence": ("confidence", "float8"),
    "classifier": ("classifier", "text"),
    "classifier_note": ("classifier_note", "text"),
    "issue": ("issue_id", "bigint"),
    "match": ("match", "jsonb"),
    "status": ("status", "text"),
    "processed_at": ("processed_at", "timestamptz"),
    "last_error": ("last_error", "text"),
}


def _json_column(kind: str, value: object) -> object:
    """A value as jsonb_to_recordset reads it back exactly into its column: a float8 as its
    text (JSON has no NaN or infinity, which a float8 holds; float8's own input reads the
    shortest text Python writes to the same number), a time as ISO text with its offset."""
    if value is None:
        return None
    if kind == "float8":
        return repr(float(value))  # type: ignore[arg-type]
    if kind == "timestamptz":
        return value.isoformat()  # type: ignore[attr-defined]
    return value


def _reports_save(reports: list[Report]) -> None:
    """Write what processing set on each report (pipeline.PROCESSED_FIELDS) in one
    statement: Django's bulk_update builds a CASE per field and row, which took more of a
    batch's time than its grouping. The rows travel as one JSON document: as an array per
    column, psycopg escaped each string of each array in Python, a twentieth of the
    pipeline's CPU (docs/performance.md, "The workers freeze what they loaded")."""
    if not reports:
        return
    columns = [_COLUMNS[field] for field in PROCESSED_FIELDS]
    rows = [
        {"id": r.pk, **{column: _json_column(kind, getattr(r, column)) for column, kind in columns}}
        for r in reports
    ]
    assignments = ", ".join(f"{column} = v.{column}" for column, _ in columns)
    types = ", ".join(f"{column} {kind}" for column, kind in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE reports_report r SET {assignments}"  # noqa: S608 (constants, not input)
            f" FROM jsonb_to_recordset(%s::jsonb) AS v(id bigint, {types}) WHERE r.id = v.id",
            [json.dumps(rows)],
        )
