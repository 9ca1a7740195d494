"""Intake: `report_submit`, the only way a live report enters whatever the channel (the
resident form, the DRF API, Open311), and the validation every channel shares. It stores
the report and returns; processing is queued after the commit."""

import math
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import TypeGuard

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import URLValidator, validate_email
from django.db import IntegrityError, connection, models, transaction
from django.db.models.signals import post_save, pre_save
from django.utils import timezone
from django.utils.translation import gettext as _

from civicpulse.apikeys.models import ApiKey
from civicpulse.core.inserts import insert_values, inserted, model_insert
from issues.models import Category
from reports.addresses import standardise_address
from reports.limits import photo_storage_left
from reports.models import Location, Report
from reports.notifications import confirmation_enqueue
from reports.photos import photo_clean, photo_slot
from reports.services.chosen_issue import chosen_issue_errors
from reports.services.insert_group import row_insert
from reports.services.locations import location_witness
from reports.services.outbox import pipeline_wake

DESCRIPTION_MAX = 4000


@dataclass(frozen=True)
class SubmitResult:
    report: Report
    created: bool  # False when external_id named a report this key already submitted


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def report_validate(
    *,
    description: object,
    latitude: object,
    longitude: object,
    address: str,
    address_key: str,
    email: str,
    category_code: str | None,
    external_id: str | None,
    attributes: dict | None = None,
    media_url: str = "",
) -> tuple[dict[str, list[str]], Category | None]:
    """What is wrong with a report's fields, as messages by field (empty: nothing), and
    the active category its code names. Staff placing a report reuse the point checks."""
    errors: dict[str, list[str]] = {}
    if not isinstance(description, str) or not description.strip():
        errors["description"] = [_("Describe the problem (1 to 4,000 characters).")]
    elif len(description) > DESCRIPTION_MAX:
        errors["description"] = [
            _("Keep the description to %(max)s characters (it has %(length)s).")
            % {"max": f"{DESCRIPTION_MAX:,}", "length": f"{len(description):,}"}
        ]
    if (latitude is None) != (longitude is None):
        errors["latitude" if latitude is None else "longitude"] = [
            _("Give both latitude and longitude, or neither.")
        ]
    if latitude is not None and not (_is_number(latitude) and -90 <= latitude <= 90):
        errors["latitude"] = [_("Latitude must be a number from -90 to 90.")]
    if longitude is not None and not (_is_number(longitude) and -180 <= longitude <= 180):
        errors["longitude"] = [_("Longitude must be a number from -180 to 180.")]
    if latitude is None and longitude is None and not address_key:
        errors["location"] = [_("Give a point (latitude and longitude) or an address.")]
    if len(address) > 500:
        errors["address"] = [_("Keep the address to 500 characters.")]
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = [_("Enter a valid email address.")]
    if external_id is not None and not (0 < len(external_id) <= 100):
        errors["external_id"] = ["external_id must be 1 to 100 characters."]
    media_max = Report._meta.get_field("media_url").max_length
    too_long = media_max is not None and len(media_url) > media_max
    if media_url and (too_long or not _is_web_url(media_url)):
        errors["media_url"] = [
            f"Give the address (http or https, up to {media_max} characters) of the picture."
        ]
    category = None
    if category_code:
        category = Category.objects.filter(code=category_code, active=True).first()
        if category is None:
            errors["category"] = [
                f"Unknown category {category_code!r}: use the code of one of this place's active categories."
            ]
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


def _parses(parse: Callable[[str], object], text: str) -> bool:
    try:
        value = parse(text)
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
    client: str = "",
    language: str = "",
    chosen_issue_id: int | None = None,
) -> SubmitResult:
    """Validate and store a report in the current tenant's schema. Returns once the report
    is committed; its processing is queued after the commit (unless `enqueue` is False:
    the caller processes it itself, as demo seeding does). Raises ValidationError with a
    message per field; `attributes` (answers to the category's questions, by code) are
    checked only when given, so channels without the questions are not held to them.
    With an external_id already used by this API key, returns that
    report (created=False) and stores nothing. `client` (the sender's address) makes the
    report's point one independent witness of where its address is (services.locations).
    `language` is the one the resident's pages spoke: their emails speak it too.
    `chosen_issue_id` is the issue the resident said this is ("Me too"): checked here
    (services.chosen_issue), honoured by grouping."""
    address = address or ""
    std = standardise_address(address)  # parsed once: its key, and the parts a new Location keeps
    errors, category = report_validate(
        description=description,
        latitude=latitude,
        longitude=longitude,
        address=address,
        address_key=std.key,
        email=email or "",
        category_code=category_code,
        external_id=external_id,
        attributes=attributes,
        media_url=media_url,
    )
    if chosen_issue_id is not None and not errors:
        chosen = chosen_issue_errors(issue_id=chosen_issue_id, latitude=latitude, longitude=longitude)
        if chosen:
            errors["chosen_issue"] = chosen
    if errors:  # refused before its photo is decoded: decoding is what costs memory
        raise ValidationError(errors)
    clean_photo = _photo_prepare(photo) if photo is not None else None

    if external_id is not None and api_key is not None:
        existing = Report.objects.filter(api_key=api_key, external_id=external_id).first()
        if existing is not None:
            return SubmitResult(existing, False)

    address_key = std.key
    # A point the resident gave is one witness of where the address is; one we looked up
    # is not. (Validation let through both coordinates or neither.)
    learned_point = (
        (latitude, longitude) if address_key and latitude is not None and longitude is not None else None
    )
    needs_placement = False
    if latitude is None:
        located = (
            Location.objects.filter(address_key=address_key).values_list("latitude", "longitude").first()
        )
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
        language=language,
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
        chosen_issue_id=chosen_issue_id,
    )
    # A report alone is one INSERT: in autocommit it commits without BEGIN and COMMIT, two
    # round trips of the three (the on_commit callbacks below then run right after it). A
    # photo or an address's witness is written with it in one transaction, and inside a
    # caller's transaction a savepoint keeps a refused insert from breaking it.
    alone = clean_photo is None and learned_point is None and connection.get_autocommit()
    try:
        with nullcontext() if alone else transaction.atomic():
            if clean_photo is not None:  # removed again below if the transaction fails
                report.photo.save(clean_photo.name, clean_photo, save=False)
                report.photo_bytes = clean_photo.size
            _report_insert(report)
            if learned_point is not None:
                location_witness(
                    address_key=address_key,
                    std=std,
                    address=address,
                    latitude=learned_point[0],
                    longitude=learned_point[1],
                    client=client,
                    email=email or "",
                )
            if enqueue:
                # The row is the queue: only a wake-up, at most one per tenant a moment.
                transaction.on_commit(lambda: pipeline_wake(report_id=report.pk))
            if report.email:  # double opt-in: ask first (the sweep catches a lost message)
                transaction.on_commit(lambda: confirmation_enqueue(report_id=report.pk))
    except IntegrityError:
        _photo_discard(report)
        # The same external_id submitted twice at the same moment: the other one won.
        if external_id is not None and api_key is not None:
            existing = Report.objects.filter(api_key=api_key, external_id=external_id).first()
            if existing is not None:
                return SubmitResult(existing, False)
        raise
    except BaseException:
        _photo_discard(report)  # no file is left behind without its report
        raise
    return SubmitResult(report, True)


def _report_insert(report: Report) -> None:
    """`report.save(force_insert=True)` with the statement built once
    (civicpulse.core.inserts; building it at every submission was the largest single part
    of a submission's time holding the GIL: docs/performance.md). It skips what this model
    does not use: pre_save and post_save signals, the database router (reports live in
    `default`), and re-reading db_default columns (each has a Python default, so the
    instance holds the stored value). Report growing a save() of its own, a receiver
    connected to those signals, a report with its id already set, or a value that is an
    SQL expression: save() runs."""
    # The tracking id beside the id: a row written with others finds its id by it.
    insert = model_insert(Report, "tracking_id")
    if (
        insert is None
        or Report.save is not models.Model.save  # a save() of its own: it must run
        or report.pk is not None
        or pre_save.has_listeners(Report)
        or post_save.has_listeners(Report)
    ):
        report.save(force_insert=True)
        return
    params = insert_values(insert, report, operation="save")
    if params is None:
        report.save(force_insert=True)
        return
    # A report alone (autocommit) may be written with other requests' rows in one statement.
    inserted(report, row_insert(statement=insert.statement, params=params, key=report.tracking_id))


def _photo_prepare(photo: UploadedFile) -> ContentFile:
    """The photo re-encoded for storage, within the tenant's photo storage quota and one
    of this process's photo slots (PhotoBusy when none frees up in time). Raises
    ValidationError on the photo field."""
    left = photo_storage_left()
    full = ValidationError(
        {"photo": [_("This place's photo storage is full: please send your report without the photo.")]}
    )
    if left is not None and left <= 0:
        raise full  # before any decoding
    try:
        with photo_slot():
            clean = photo_clean(photo)
    except ValidationError as exc:
        raise ValidationError({"photo": exc.messages}) from exc
    # Soft: two photos racing for the last megabytes may both be stored.
    if left is not None and clean.size > left:
        raise full
    return clean


def _photo_discard(report: Report) -> None:
    if report.photo:
        report.photo.delete(save=False)
