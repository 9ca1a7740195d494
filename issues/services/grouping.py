"""Grouping: a report, given by its fields (this app knows nothing of reports), joins the
best matching open issue or opens a new one. Serialised per neighbourhood; the score and
the decision are issues.match_score's, the candidates issues.candidate_selectors'."""

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from civicpulse.core.geo import great_circle_m
from issues import match_score
from issues.candidate_selectors import issue_candidates
from issues.match_score import Adjudicator
from issues.models import OPEN_STATUSES, Area, Category, Department, Issue, IssueEvent, Severity
from issues.selectors import area_for_point, grouping_thresholds
from issues.services.grouping_batch import GroupingBatch, grouping_query, lock_keys, neighbourhoods_lock
from issues.services.issue_rows import issue_join_save, issue_lock_for_join
from issues.services.operations import severity_rank
from issues.services.workflow import issue_event_record

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GroupingResult:
    issue: Issue  # joined: only the fields a join reads are loaded (issue_rows), any other when used
    created: bool
    match: dict


def _routed_department_id(category: Category | None, batch: GroupingBatch | None) -> int | None:
    """The category's department, unless it was retired: a retired department keeps its
    issues but is routed no new ones."""
    if category is None or category.department_id is None:
        return None
    if batch is not None:
        return batch.department_id(category.department_id)
    return (
        Department.objects.filter(pk=category.department_id, active=True).values_list("pk", flat=True).first()
    )


def _event(batch: GroupingBatch | None, issue: Issue, **event: Any) -> None:
    """Record an issue's event now, or with the batch's at its end."""
    if batch is not None:
        batch.event(issue=issue, **event)
    else:
        issue_event_record(issue_id=issue.pk, **event)


def _area(latitude: float | None, longitude: float | None, batch: GroupingBatch | None) -> Area | None:
    if latitude is None or longitude is None:
        return None
    return batch.area(latitude, longitude) if batch else area_for_point(latitude, longitude)


def _title_from(summary: str, text: str) -> str:
    title = (summary or text).strip().splitlines()[0] if (summary or text).strip() else "Untitled"
    return title[:197] + "…" if len(title) > 200 else title


@transaction.atomic(savepoint=False)  # inside the pipeline's transaction: no savepoint needed
def issue_group_report(
    *,
    text: str,
    summary: str,
    category: Category | None,
    severity: str,
    latitude: float | None,
    longitude: float | None,
    address_key: str,
    at: datetime,
    report_ref: str,
    actor_label: str = "pipeline",
    adjudicate: Adjudicator | None = None,
    embedding: bytes | None = None,
    chosen_issue_id: int | None = None,
    batch: GroupingBatch | None = None,
) -> GroupingResult:
    """Link a report (given by its fields; this app knows nothing of reports) to the best
    matching open issue, or open a new issue for it. The returned `match` says why: the
    score of the best candidate, its parts and the thresholds in force (docs/grouping.md).

    `embedding` is the report text's vector (civicpulse.core.vectors), compared with each
    candidate's for the meaning part of the score; a new issue keeps it.

    `adjudicate(report_text, issue_text)`, when given, is asked about the best candidate
    only when its score is borderline; it answers `{"same": bool, ...}` or None. It runs
    while the neighbourhood is locked, so it must answer quickly or give up.

    `chosen_issue_id` is the issue the resident said this report is ("Me too" on the
    report form): the report joins it, unscored, while it is open; once it is not, the
    report is grouped as any other and the record says the choice was closed meanwhile.

    `batch`: this report is one of a batch grouped in this transaction (grouping_batch),
    whose neighbourhoods are locked already and whose reads and events it shares."""
    given = dict(locals())  # the arguments, for a second try (below)
    thresholds = batch.thresholds(category) if batch else grouping_thresholds(category)
    if batch is None:
        neighbourhoods_lock(
            [
                lock_keys(
                    latitude=latitude,
                    longitude=longitude,
                    address_key=address_key,
                    radius_m=thresholds.radius_m,
                )
            ]
        )
    chosen_record: dict = {}
    if chosen_issue_id is not None:
        chosen = _group_into_chosen(
            issue_id=chosen_issue_id,
            latitude=latitude,
            longitude=longitude,
            severity=severity,
            at=at,
            report_ref=report_ref,
            actor_label=actor_label,
            batch=batch,
        )
        if chosen is not None:
            return chosen
        chosen_record = {"chosen": {"issue": chosen_issue_id, "closed_meanwhile": True}}
    query = grouping_query(
        text=text,
        category=category,
        latitude=latitude,
        longitude=longitude,
        address_key=address_key,
        at=at,
        thresholds=thresholds,
        batch=batch,
    )
    candidates = batch.candidates(report_ref, query) if batch else issue_candidates(**query)
    # Only texts alike in words or meaning are candidates (across languages, the category stands in).
    candidates, meanings, across = match_score.compared(
        candidates, text=text, embedding=embedding, category=category, thresholds=thresholds
    )
    base = {"candidates": len(candidates), "thresholds": thresholds.as_record(), **chosen_record}
    scored = [
        (
            c,
            match_score.score(
                similarity=c.similarity,
                meaning=meanings[c.issue_id],
                distance_m=c.distance_m,
                time_gap_s=c.time_gap_s,
                relation=match_score.category_relation(category.pk if category else None, c.category_id),
                thresholds=thresholds,
            ),
        )
        for c in candidates
    ]
    # Where no candidate joins, the report opens an issue of its own.
    open_new = partial(
        _group_into_new,
        text=text,
        summary=summary,
        category=category,
        severity=severity,
        latitude=latitude,
        longitude=longitude,
        address_key=address_key,
        at=at,
        report_ref=report_ref,
        actor_label=actor_label,
        embedding=embedding,
        batch=batch,
    )
    # Ties go to the candidate the query ranked first (more similar text, then nearer).
    best, best_score = max(scored, key=lambda pair: pair[1].value, default=(None, None))
    if best is None or best_score is None:
        return open_new(match={"method": "new", **base})
    ask = partial(_adjudicate, adjudicate, text, best.issue_id) if adjudicate is not None else None
    decision = match_score.decide(best_score.value, thresholds, ask)
    about_best = {
        "distance_m": None if best.distance_m is None else round(best.distance_m, 1),
        "time_gap_s": round(best.time_gap_s),
        "similarity": round(best.similarity, 3),
        "meaning": None if meanings[best.issue_id] is None else round(meanings[best.issue_id] or 0.0, 3),
        **({"across_languages": True} if best.issue_id in across else {}),
        **best_score.as_record(),
        "decision": decision.reason,
    }
    adjudication = {"adjudication": decision.answer} if decision.asked else {}
    if decision.joins:
        match = {"method": "geo" if latitude is not None else "address", **about_best, **base, **adjudication}
        issue = _issue_attach(
            issue_id=best.issue_id,
            latitude=latitude,
            longitude=longitude,
            severity=severity,
            at=at,
            actor_label=actor_label,
            data={"report": report_ref, **match},
            batch=batch,
        )
        if issue is not None:
            return GroupingResult(issue, False, match)
        if batch is not None and batch.read_at_start(report_ref):
            return issue_group_report(**given)  # read again, as this report alone would be now
        # Staff closed the match since the candidate query: a new issue, and the record says so.
        about_best["closed_meanwhile"] = True
    return open_new(
        match={"method": "new", **base, "best": {"issue": best.issue_id, **about_best}, **adjudication}
    )


def _group_into_chosen(
    *,
    issue_id: int,
    latitude: float | None,
    longitude: float | None,
    severity: str,
    at: datetime,
    report_ref: str,
    actor_label: str,
    batch: GroupingBatch | None,
) -> GroupingResult | None:
    """Join the issue the resident chose, while it is open (None once it is not). The
    resident's word stands for the score: the record says they chose it, and how far the
    report lies from the issue as it stood."""
    row = Issue.objects.filter(pk=issue_id).values_list("latitude", "longitude").first()
    issue_lat, issue_lon = row if row is not None else (None, None)
    distance_m = None
    if latitude is not None and longitude is not None and issue_lat is not None and issue_lon is not None:
        distance_m = round(great_circle_m(latitude, longitude, issue_lat, issue_lon), 1)
    match = {"method": "resident", "chosen_by": "resident", "issue": issue_id, "distance_m": distance_m}
    issue = _issue_attach(
        issue_id=issue_id,
        latitude=latitude,
        longitude=longitude,
        severity=severity,
        at=at,
        actor_label=actor_label,
        data={"report": report_ref, **match},
        batch=batch,
    )
    return None if issue is None else GroupingResult(issue, False, match)


def _group_into_new(
    *,
    text: str,
    summary: str,
    category: Category | None,
    severity: str,
    latitude: float | None,
    longitude: float | None,
    address_key: str,
    at: datetime,
    report_ref: str,
    actor_label: str,
    match: dict,
    embedding: bytes | None,
    batch: GroupingBatch | None,
) -> GroupingResult:
    issue = issue_open(
        text=text,
        summary=summary,
        category=category,
        severity=severity,
        latitude=latitude,
        longitude=longitude,
        address_key=address_key,
        at=at,
        actor_label=actor_label,
        data={"report": report_ref},
        embedding=embedding,
        batch=batch,
    )
    return GroupingResult(issue, True, match)


def _adjudicate(adjudicate: Adjudicator, report_text: str, issue_id: int) -> dict | None:
    """Ask about one borderline pair. The answer is stored in JSON, so it is reduced to
    what JSON holds; an adjudicator that raises counts as no answer: grouping never
    depends on a language model being up."""
    issue_text = Issue.objects.filter(pk=issue_id).values_list("text", flat=True).first() or ""
    try:
        answer = adjudicate(report_text, issue_text)
    except Exception as exc:
        logger.warning("grouping adjudicator failed", extra={"issue_id": issue_id, "error": repr(exc)})
        return None
    if answer is None:
        return None
    try:
        return json.loads(json.dumps(answer, default=str))
    except (TypeError, ValueError):
        return {"unreadable": repr(answer)[:200]}


def issue_open(
    *,
    text: str,
    summary: str,
    category: Category | None,
    severity: str,
    latitude: float | None,
    longitude: float | None,
    address_key: str,
    at: datetime,
    actor_label: str,
    data: dict,
    actor: User | None = None,
    report_count: int = 1,
    embedding: bytes | None = None,
    batch: GroupingBatch | None = None,
) -> Issue:
    """A new open issue from its first report's fields, routed to the category's
    department and placed in its area; `data` goes on the CREATED event. Grouping opens
    one per report that matched none; a split (reports app) opens one with `report_count`
    0 and recounts it once the reports are on it. A batch's issue is written with the
    batch's others (GroupingBatch.issue_opened): it has no id until then."""
    issue = Issue(
        title=_title_from(summary, text),
        summary=summary,
        text=text,
        category=category,
        severity=severity or (category.default_severity if category else Severity.MEDIUM),
        area=_area(latitude, longitude, batch),
        department_id=_routed_department_id(category, batch),
        latitude=latitude,
        longitude=longitude,
        address_key="" if latitude is not None else address_key,
        report_count=report_count,
        embedding=embedding,
        created_at=at,
        last_report_at=at,
    )
    if batch is None:
        issue.save(force_insert=True)
    else:
        batch.issue_opened(issue)
    _event(
        batch,
        issue,
        kind=IssueEvent.Kind.CREATED,
        actor=actor,
        actor_label=actor_label,
        at=at,
        data={**data, "category": category.code if category else None, "severity": issue.severity},
    )
    return issue


def _issue_attach(
    *,
    issue_id: int,
    latitude: float | None,
    longitude: float | None,
    severity: str,
    at: datetime,
    actor_label: str,
    data: dict,
    batch: GroupingBatch | None,
) -> Issue | None:
    """Link to the issue, unless it stopped being open (or was never there) since it was
    found (None then)."""
    issue = issue_lock_for_join(issue_id=issue_id)
    if issue is None or issue.status not in OPEN_STATUSES:
        return None
    n = issue.report_count
    if batch is not None:
        batch.issue_moved(issue.latitude, issue.longitude)
    if (
        latitude is not None
        and longitude is not None
        and issue.latitude is not None
        and issue.longitude is not None
    ):
        # Running mean: every report of a located issue has a point.
        issue.latitude = (issue.latitude * n + latitude) / (n + 1)
        issue.longitude = (issue.longitude * n + longitude) / (n + 1)
    issue.report_count = n + 1
    issue.last_report_at = max(issue.last_report_at, at)
    # Several residents reporting a worse severity raises the issue's, never lowers it.
    if severity and severity_rank(severity) > severity_rank(issue.severity):
        data = {**data, "severity": [issue.severity, severity]}
        issue.severity = severity
    issue_join_save(issue=issue)
    if batch is not None:
        batch.issue_moved(issue.latitude, issue.longitude)
    _event(
        batch,
        issue,
        kind=IssueEvent.Kind.REPORT_LINKED,
        actor_label=actor_label,
        at=at,
        data=data,
    )
    return issue
