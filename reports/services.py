"""Writes on reports: intake, processing, the sweeper.

`report_submit` is the only way a live report enters, whatever the channel. It commits
the report before anything else happens; processing is queued after commit and a
sweeper re-queues whatever a lost message or a dead worker left behind.
"""
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import URLValidator, validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from issues.models import Category, IssueEvent
from issues.services import issue_event_record, issue_group_report, issue_place
from llm.services import adjudicate_same_problem, classify_report, training_example_record
from llm.types import CategoryInfo
from reports.addresses import StandardAddress, standardise_address
from civicpulse.apikeys.models import ApiKey
from reports.models import Location, Report
from reports.photos import photo_clean

logger = logging.getLogger(__name__)

DESCRIPTION_MAX = 4000
MAX_ATTEMPTS = 5
# A received report is re-queued once it has waited this long since it was last queued,
# doubling with each re-queue, so a long backlog is not multiplied by the sweeper.
STUCK_AFTER = timedelta(seconds=60)
STUCK_AFTER_MAX = timedelta(hours=1)


@dataclass(frozen=True)
class SubmitResult:
    report: Report
    created: bool  # False when external_id named a report this key already submitted


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _validate(
    *, description: object, latitude: object, longitude: object, address: str, address_key: str, email: str,
    category_code: str | None, external_id: str | None, attributes: dict | None = None, media_url: str = "",
) -> tuple[dict[str, list[str]], Category | None]:
    errors: dict[str, list[str]] = {}
    if not isinstance(description, str) or not description.strip():
        errors["description"] = ["Describe the problem (1 to 4,000 characters)."]
    elif len(description) > DESCRIPTION_MAX:
        errors["description"] = [f"Keep the description to {DESCRIPTION_MAX:,} characters (it has {len(description):,})."]
    if (latitude is None) != (longitude is None):
        errors["latitude" if latitude is None else "longitude"] = ["Give both latitude and longitude, or neither."]
    if latitude is not None and not (_is_number(latitude) and -90 <= latitude <= 90):
        errors["latitude"] = ["Latitude must be a number from -90 to 90."]
    if longitude is not None and not (_is_number(longitude) and -180 <= longitude <= 180):
        errors["longitude"] = ["Longitude must be a number from -180 to 180."]
    if latitude is None and longitude is None and not address_key:
        errors["location"] = ["Give a point (latitude and longitude) or an address."]
    if len(address) > 500:
        errors["address"] = ["Keep the address to 500 characters."]
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = ["Enter a valid email address."]
    if external_id is not None and not (0 < len(external_id) <= 100):
        errors["external_id"] = ["external_id must be 1 to 100 characters."]
    media_max = Report._meta.get_field("media_url").max_length
    if media_url and (len(media_url) > media_max or not _is_web_url(media_url)):
        errors["media_url"] = [f"Give the address (http or https, up to {media_max} characters) of the picture."]
    category = None
    if category_code:
        category = Category.objects.filter(code=category_code, active=True).first()
        if category is None:
            errors["category"] = [f"Unknown category {category_code!r}: use the code of one of this place's active categories."]
    if attributes is not None and not errors.get("category"):
        errors.update(_attribute_errors(category, attributes))
    return errors, category


def _is_web_url(value: str) -> bool:
    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError:
        return False
    return True


def _attribute_errors(category: Category | None, attributes: dict) -> dict[str, list[str]]:
    """Answers checked against the category's questions: known codes, the datatype, a
    listed value, and every required question answered."""
    questions = {q["code"]: q for q in (category.questions if category else [])}
    errors: dict[str, list[str]] = {}
    for code, value in attributes.items():
        question = questions.get(code)
        if question is None:
            errors[f"attribute[{code}]"] = ["This category asks no such question."]
            continue
        datatype = question["datatype"]
        allowed = {v["key"] for v in question.get("values", [])}
        values = value if isinstance(value, list) else [value]
        if datatype != "multivaluelist" and isinstance(value, list):
            errors[f"attribute[{code}]"] = ["Give one answer."]
        elif not all(isinstance(v, str) for v in values):
            errors[f"attribute[{code}]"] = ["Answers are text."]
        elif datatype.endswith("valuelist") and not set(values) <= allowed:
            errors[f"attribute[{code}]"] = [f"Choose from: {', '.join(sorted(allowed))}."]
        elif datatype == "number" and not _parses(float, values[0]):
            errors[f"attribute[{code}]"] = ["Give a number."]
        elif datatype == "datetime" and not _parses(datetime.fromisoformat, values[0]):
            errors[f"attribute[{code}]"] = ["Give a date and time (ISO 8601)."]
        elif any(len(v) > 1000 for v in values):
            errors[f"attribute[{code}]"] = ["Keep answers to 1,000 characters."]
    for code, question in questions.items():
        if question.get("required") and code not in attributes:
            errors[f"attribute[{code}]"] = ["This question must be answered."]
    return errors


def _parses(parse: object, text: str) -> bool:
    try:
        value = parse(text)  # type: ignore[operator]
    except (TypeError, ValueError):
        return False
    return not isinstance(value, float) or math.isfinite(value)


def report_submit(
    *,
    description: str,
    latitude: float | None = None,
    longitude: float | None = None,
    address: str = "",
    category_code: str | None = None,
    email: str = "",
    external_id: str | None = None,
    api_key: ApiKey | None = None,
    channel: str = Report.Channel.API,
    submitted_at: datetime | None = None,
    enqueue: bool = True,
    photo: UploadedFile | None = None,
    attributes: dict[str, str | list[str]] | None = None,
    media_url: str = "",
) -> SubmitResult:
    """Validate and store a report in the current tenant's schema. Returns once the report
    is committed; its processing is queued after the commit (unless `enqueue` is False:
    the caller processes it itself, as demo seeding does). Raises ValidationError with a
    message per field; `attributes` (answers to the category's questions, by code) are
    checked only when given, so channels without the questions are not held to them.
    With an external_id already used by this API key, returns that
    report (created=False) and stores nothing."""
    address = address or ""
    std = standardise_address(address)  # parsed once: its key, and the parts a new Location keeps
    errors, category = _validate(
        description=description, latitude=latitude, longitude=longitude, address=address, address_key=std.key,
        email=email or "", category_code=category_code, external_id=external_id, attributes=attributes,
        media_url=media_url,
    )
    clean_photo = None
    if photo is not None:
        try:
            clean_photo = photo_clean(photo)
        except ValidationError as exc:
            errors["photo"] = exc.messages
    if errors:
        raise ValidationError(errors)

    if external_id is not None and api_key is not None:
        existing = Report.objects.filter(api_key=api_key, external_id=external_id).first()
        if existing is not None:
            return SubmitResult(existing, False)

    address_key = std.key
    # A point the resident gave teaches us where the address is; one we looked up does not.
    learn_location = bool(address_key) and latitude is not None
    needs_placement = False
    if latitude is None:
        located = Location.objects.filter(address_key=address_key).values_list("latitude", "longitude").first()
        if located:
            latitude, longitude = located
        else:
            needs_placement = True

    now = timezone.now()
    report = Report(
        description=description,
        latitude=latitude,
        longitude=longitude,
        address=address,
        address_key=address_key,
        needs_placement=needs_placement,
        email=email or "",
        attributes=attributes or {},
        media_url=media_url,
        category=category,
        category_source=Report.CategorySource.RESIDENT if category else "",
        api_key=api_key,
        external_id=external_id,
        channel=channel,
        submitted_at=submitted_at or now,
        enqueued_at=now,
        enqueue_count=1,
    )
    if clean_photo is not None:
        report.photo.save(clean_photo.name, clean_photo, save=False)
    try:
        with transaction.atomic():
            report.save(force_insert=True)
            if learn_location:
                _location_remember(address_key=address_key, std=std, address=address, latitude=latitude,
                                   longitude=longitude)
            if enqueue:
                transaction.on_commit(lambda: enqueue_processing([report.pk]))
    except IntegrityError:
        # The same external_id submitted twice at the same moment: the other one won.
        if external_id is not None and api_key is not None:
            existing = Report.objects.filter(api_key=api_key, external_id=external_id).first()
            if existing is not None:
                return SubmitResult(existing, False)
        raise
    return SubmitResult(report, True)


def _location_remember(
    *, address_key: str, std: StandardAddress, address: str, latitude: float, longitude: float,
) -> None:
    """Remember where an address is, the first time a report gives both. Concurrency-safe:
    insert and ignore a conflict, never update under another writer."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO reports_location (address_key, address, number, direction, street, street_type, unit, zip,"
            " latitude, longitude, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now())"
            " ON CONFLICT (address_key) DO NOTHING",
            [address_key, address[:500], std.number[:20], std.direction[:10], std.street[:200], std.street_type[:20],
             std.unit[:50], std.zip[:10], latitude, longitude],
        )


def enqueue_processing(report_ids: list[int]) -> int:
    """Queue processing for these reports. Called after commit: if Redis is down the
    reports are already safe, so a failure is logged and left to the sweeper. Reports not
    sent lose their `enqueued_at`, so the next sweep takes them at once instead of waiting
    for an interval meant for a message that was never sent."""
    from reports.tasks import process_report

    for sent, report_id in enumerate(report_ids):
        try:
            process_report.apply_async(args=[report_id], retry=False)
        except Exception as exc:  # broker down or unreachable: the sweeper will catch up
            logger.warning("could not queue report processing", extra={"report_id": report_id, "error": repr(exc)})
            Report.objects.filter(pk__in=report_ids[sent:], status=Report.Status.RECEIVED).update(enqueued_at=None)
            return sent
    return len(report_ids)


def category_info(category: Category) -> CategoryInfo:
    """A category as the classifiers see it."""
    return CategoryInfo(category.code, category.name, category.description, tuple(category.keywords),
                        category.default_severity)


def _categories(chosen: Category | None) -> list[CategoryInfo]:
    """What the classifier may answer: the resident's category when one was chosen (it is
    kept, so severity and confidence must be about it), else every active category."""
    categories = [chosen] if chosen is not None else Category.objects.filter(active=True).order_by("code")
    return [category_info(c) for c in categories]


def report_process(*, report_id: int) -> Report | None:
    """Classify a received report and group it into an issue. Idempotent: a report that
    is no longer `received` is left alone, and the row lock makes concurrent runs of the
    same report wait for each other."""
    claimed = Report.objects.filter(pk=report_id, status=Report.Status.RECEIVED).update(attempts=F("attempts") + 1)
    if not claimed:
        return None  # processed already, failed for good, or gone
    report = Report.objects.select_related("category").get(pk=report_id)
    try:
        classification = classify_report(text=report.description, categories=_categories(report.category))
        with transaction.atomic():
            report = Report.objects.select_for_update(of=("self",)).select_related("category").get(pk=report_id)
            if report.status != Report.Status.RECEIVED:
                return report
            if report.category is None and classification.category:
                report.category = Category.objects.filter(code=classification.category).first()
                report.category_source = Report.CategorySource.CLASSIFIER if report.category else ""
            report.severity = classification.severity
            report.summary = classification.summary
            report.confidence = classification.confidence
            report.classifier = classification.classifier
            report.classifier_note = classification.note
            grouping = issue_group_report(
                text=report.description,
                summary=report.summary,
                category=report.category,
                severity=report.severity,
                latitude=report.latitude,
                longitude=report.longitude,
                address_key=report.address_key,
                at=report.submitted_at,
                report_ref=report.tracking_id,
                # A borderline candidate may be put to the tenant's language model; its
                # answer is one recorded signal (issues.grouping decides).
                adjudicate=adjudicate_same_problem,
            )
            report.issue = grouping.issue
            report.match = grouping.match
            report.status = Report.Status.PROCESSED
            report.processed_at = timezone.now()
            report.last_error = ""
            report.save(update_fields=[
                "category", "category_source", "severity", "summary", "confidence", "classifier", "classifier_note",
                "issue", "match", "status", "processed_at", "last_error",
            ])
        return report
    except Exception as exc:
        # Recorded on the report and logged once; the sweeper tries again later.
        _record_failure(report_id, exc)
        return None


def _record_failure(report_id: int, exc: Exception) -> None:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    Report.objects.filter(pk=report_id, status=Report.Status.RECEIVED).update(last_error=error)
    Report.objects.filter(
        pk=report_id, status=Report.Status.RECEIVED, attempts__gte=MAX_ATTEMPTS
    ).update(status=Report.Status.FAILED)
    logger.exception("report processing failed", extra={"report_id": report_id})


def report_sweep_stuck(*, queue_busy: bool = False, limit: int = 5000, now: datetime | None = None) -> dict[str, int]:
    """Re-queue reports left in `received` (a lost message, a dead worker, Redis down at
    submission). Each report waits STUCK_AFTER since it was last queued, doubling with
    every re-queue. While the queue is busy (`queue_busy`: a backlog is waiting), a report
    no worker has started yet is most likely still in that backlog, so only reports a
    worker started and did not finish are re-queued: a slow backlog is not multiplied.
    Reports that used up their attempts become `failed`."""
    now = now or timezone.now()
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE reports_report SET status = 'failed',
                       last_error = COALESCE(NULLIF(last_error, ''), 'processing did not finish')
                WHERE status = 'received' AND attempts >= %s
                  AND enqueued_at < %s
                """,
                [MAX_ATTEMPTS, now - STUCK_AFTER],
            )
            failed = cursor.rowcount
            # Claim with a conditional UPDATE: two sweepers at once never queue a report twice.
            cursor.execute(
                """
                UPDATE reports_report r SET enqueued_at = %(now)s, enqueue_count = r.enqueue_count + 1
                WHERE r.id IN (
                    SELECT id FROM reports_report
                    WHERE status = 'received' AND (NOT %(busy)s OR attempts > 0)
                      AND (enqueued_at IS NULL OR enqueued_at < %(now)s - LEAST(
                            %(base)s * power(2, GREATEST(enqueue_count - 1, 0)), %(cap)s) * interval '1 second')
                    ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
                RETURNING r.id
                """,
                {
                    "now": now, "busy": queue_busy, "limit": limit,
                    "base": STUCK_AFTER.total_seconds(), "cap": STUCK_AFTER_MAX.total_seconds(),
                },
            )
            ids = sorted(row[0] for row in cursor.fetchall())
        transaction.on_commit(lambda: enqueue_processing(ids))
    if ids or failed:
        logger.info("sweeper re-queued reports", extra={"requeued": len(ids), "failed": failed})
    return {"requeued": len(ids), "failed": failed}


@transaction.atomic
def report_correct(
    *, report_id: int, category: Category | None, severity: str, actor: AbstractBaseUser | None = None
) -> Report:
    """Staff correct a report's category or severity. The correction is the report's truth
    from then on (and a labelled example for the classifier); it is recorded on the
    trail of the report's issue."""
    report = Report.objects.select_for_update(of=("self",)).select_related("category").get(pk=report_id)
    changes: dict[str, list[object]] = {}
    if category != report.category:
        changes["category"] = [report.category.code if report.category else None, category.code if category else None]
        report.category = category
        report.category_source = Report.CategorySource.STAFF
    if severity != report.severity:
        changes["severity"] = [report.severity or None, severity or None]
        report.severity = severity
    if not changes:
        return report
    report.save(update_fields=["category", "category_source", "severity"])
    training_example_record(
        ref=report.tracking_id, text=report.description, category=report.category.code if report.category else "",
        severity=report.severity,
    )
    if report.issue_id is not None:
        issue_event_record(
            issue_id=report.issue_id, kind=IssueEvent.Kind.REPORT_CORRECTED, actor=actor,
            data={"report": report.tracking_id, "changes": changes},
        )
    return report


@transaction.atomic
def report_place(*, report_id: int, latitude: float, longitude: float, actor: AbstractBaseUser | None = None) -> Report:
    """Staff put an address-only report on the map. The address learns its point (so the
    next report of it is placed by itself), and an issue that had no point takes it."""
    errors, _ = _validate(
        description="placed", latitude=latitude, longitude=longitude, address="", address_key="", email="",
        category_code=None, external_id=None,
    )
    if errors:
        raise ValidationError(errors)
    report = Report.objects.select_for_update(of=("self",)).get(pk=report_id)
    report.latitude, report.longitude, report.needs_placement = latitude, longitude, False
    report.save(update_fields=["latitude", "longitude", "needs_placement"])
    if report.address_key:
        _location_remember(address_key=report.address_key, std=standardise_address(report.address),
                           address=report.address, latitude=latitude, longitude=longitude)
    if report.issue_id is not None:
        issue_place(issue_id=report.issue_id, latitude=latitude, longitude=longitude, actor=actor,
                    data={"report": report.tracking_id})
    return report


def report_retry(*, report_ids: list[int]) -> int:
    """Staff asked to try failed reports again: back to `received` with fresh attempts."""
    with transaction.atomic():
        ids = list(
            Report.objects.filter(pk__in=report_ids, status=Report.Status.FAILED).values_list("pk", flat=True)
        )
        Report.objects.filter(pk__in=ids).update(
            status=Report.Status.RECEIVED, attempts=0, enqueued_at=timezone.now(), enqueue_count=F("enqueue_count") + 1
        )
        transaction.on_commit(lambda: enqueue_processing(ids))
    return len(ids)
