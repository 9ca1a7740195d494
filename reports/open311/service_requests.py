"""Service requests: a POST through report_submit like any other report (its
service_request_id the tracking id, returned at once), the search, one request, and a
token (the tracking id too)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from civicpulse.apikeys.selectors import api_key_for
from civicpulse.apikeys.services import api_key_touch
from issues.models import OPEN_STATUSES
from reports.models import Report
from reports.open311.arguments import (
    attribute_answers,
    coordinate,
    datetime_arg,
    param,
    positive_arg,
    split_list,
)
from reports.open311.decorators import open311, throttle
from reports.open311.discovery import category_or_404
from reports.open311.errors import Open311Error
from reports.open311.rendering import render
from reports.selectors import (
    Open311Report,
    location_by_id,
    normalise_tracking_id,
    report_public_trail,
    reports_for_open311,
    with_public_trail,
)
from reports.services.intake import report_submit
from tenants.selectors import current_timezone_name

# Spec: "a span of 90 days or first 1000 requests returned, whichever is smallest".
DEFAULT_WINDOW = timedelta(days=90)
MAX_PAGE_SIZE = 1000
# report_submit's field names as Open311 calls them, for error descriptions.
OPEN311_FIELDS = {
    "latitude": "lat",
    "longitude": "long",
    "address": "address_string",
    "location": "lat/long, address_string or address_id",
    "category": "service_code",
}


@open311("GET", "POST")
def requests(request: HttpRequest, fmt: str) -> HttpResponse:
    if request.method == "POST":
        return _request_create(request, fmt)
    return _request_search(request, fmt)


def _request_create(request: HttpRequest, fmt: str) -> HttpResponse:
    form = request.POST
    api_key = api_key_for(form.get("api_key", "").strip()) if form.get("api_key", "").strip() else None
    if api_key is None:
        raise Open311Error(403, "Missing or invalid api_key.")
    if "submit" not in api_key.scopes:
        raise Open311Error(403, "This api_key may not submit service requests (it lacks the submit scope).")
    throttle(f"key:{api_key.pk}", api_key.rate_per_minute)
    api_key_touch(api_key=api_key)

    service_code = form.get("service_code", "").strip()
    if not service_code:
        raise Open311Error(400, "service_code was not provided.")
    category_or_404(service_code)
    latitude, longitude = coordinate(form, "lat"), coordinate(form, "long")
    address = form.get("address_string", "")
    address_id = form.get("address_id", "").strip()
    if address_id and latitude is None and longitude is None and not address.strip():
        location = location_by_id(int(address_id)) if address_id.isdigit() and len(address_id) < 10 else None
        if location is None:
            raise Open311Error(400, f"address_id {address_id!r} is not a known address.")
        address, latitude, longitude = location.address, location.latitude, location.longitude
    try:
        result = report_submit(
            description=form.get("description", ""),
            latitude=latitude,
            longitude=longitude,
            address=address,
            category_code=service_code,
            email=form.get("email", "").strip(),
            api_key=api_key,
            channel=Report.Channel.OPEN311,
            attributes=attribute_answers(form),
            media_url=form.get("media_url", "").strip(),
        )
    except ValidationError as exc:
        raise Open311Error(
            400,
            *(
                f"{OPEN311_FIELDS.get(field, field)}: {message}"
                for field, messages in exc.message_dict.items()
                for message in messages
            ),
        ) from exc
    body = [
        {
            "service_request_id": result.report.tracking_id,
            "service_notice": None,
            "account_id": form.get("account_id") or None,
        }
    ]
    return render(fmt, "service_requests", body)


def _request_search(request: HttpRequest, fmt: str) -> HttpResponse:
    zone = ZoneInfo(current_timezone_name())
    reports = reports_for_open311()
    ids = [normalise_tracking_id(value) for value in split_list(param(request, "service_request_id"))]
    if ids:  # the spec: this overrides all other arguments
        reports = reports.filter(tracking_id__in=ids)
    else:
        codes = split_list(param(request, "service_code"))
        if codes:
            reports = reports.filter(category__code__in=codes)
        statuses = set(split_list(param(request, "status")))
        if statuses - {"open", "closed"}:
            raise Open311Error(400, "status must be open, closed, or both comma-separated.")
        if statuses == {"open"}:
            reports = reports.filter(Q(issue__isnull=True) | Q(issue__status__in=OPEN_STATUSES))
        elif statuses == {"closed"}:
            reports = reports.filter(issue__isnull=False).exclude(issue__status__in=OPEN_STATUSES)
        start, end = datetime_arg(request, "start_date", zone), datetime_arg(request, "end_date", zone)
        try:
            if start is None:
                end = timezone.now() if end is None else end
                start = end - DEFAULT_WINDOW
            elif end is None:
                end = start + DEFAULT_WINDOW
        except OverflowError:
            raise Open311Error(400, "start_date or end_date is out of range.") from None
        if start > end:
            raise Open311Error(400, "start_date comes after end_date.")
        if end - start > DEFAULT_WINDOW:
            raise Open311Error(400, "start_date and end_date may not span more than 90 days.")
        reports = reports.filter(submitted_at__gte=start, submitted_at__lte=end)
    page = positive_arg(request, "page", 1, 1_000_000)
    page_size = positive_arg(request, "page_size", MAX_PAGE_SIZE, MAX_PAGE_SIZE)
    extensions = param(request, "extensions").lower() == "true"
    if extensions:
        reports = with_public_trail(reports)
    rows = reports.order_by("-submitted_at", "-id")[(page - 1) * page_size : page * page_size]
    return render(fmt, "service_requests", [_request_body(report, extensions) for report in rows])


@open311("GET")
def request_detail(request: HttpRequest, fmt: str, service_request_id: str) -> HttpResponse:
    tracking_id = normalise_tracking_id(service_request_id)
    reports = reports_for_open311()
    reports = reports.filter(tracking_id=tracking_id) if tracking_id else reports.none()
    extensions = param(request, "extensions").lower() == "true"
    report = (with_public_trail(reports) if extensions else reports).first()
    if report is None:
        raise Open311Error(404, f"service_request_id {service_request_id!r} was not found.")
    return render(fmt, "service_requests", [_request_body(report, extensions)])


@open311("GET")
def token(request: HttpRequest, fmt: str, token: str) -> HttpResponse:
    tracking_id = normalise_tracking_id(token)
    if not tracking_id or not Report.objects.filter(tracking_id=tracking_id).exists():
        raise Open311Error(404, f"token {token!r} was not found.")
    return render(fmt, "service_requests", [{"service_request_id": tracking_id, "token": token}])


def _request_body(report: Open311Report, extensions: bool) -> dict:
    issue = report.issue
    category = report.category or (issue.category if issue else None)
    closed = issue is not None and issue.status not in OPEN_STATUSES
    department = (issue.department if issue else None) or (category.department if category else None)
    if closed and issue is not None:
        updated = issue.closed_at or issue.resolved_at or issue.updated_at
    else:
        updated = max(report.submitted_at, issue.updated_at) if issue else report.submitted_at
    body: dict[str, object] = {
        "service_request_id": report.tracking_id,
        "status": "closed" if closed else "open",
        "status_notes": report.status_note,
        "service_name": category.name if category else None,
        "service_code": category.code if category else None,
        "description": report.description,
        "agency_responsible": department.name if department else None,
        "service_notice": None,
        "requested_datetime": report.submitted_at,
        "updated_datetime": updated,
        "expected_datetime": None if closed else _resolve_due_at(report),
        "address": report.address or None,
        "address_id": None,
        "zipcode": None,
        "lat": report.latitude,
        "long": report.longitude,
        "media_url": report.media_url or None,
    }
    if extensions:
        body["notes"] = report_public_trail(report)
    return body


def _resolve_due_at(report: Report) -> datetime | None:
    """The SLA engine's resolution deadline for the report's issue, as of its last pass."""
    if report.issue is None:
        return None
    try:
        return report.issue.sla.resolve_due_at
    except ObjectDoesNotExist:
        return None
