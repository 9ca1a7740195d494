"""Service requests: a POST through report_submit like any other report, the search, one
request, and a token.

A request's `service_request_id` is the report's public id (a UUID of its own), never its
tracking id: the tracking id opens the reporter's own tracking page and photo, so no
feed lists it. A POST answers with both, the tracking id as the `token` for the caller
to hand to the reporter; `tokens/<tracking id>` gives the service_request_id back.

Reads (GET requests, one request) are public where the tenant publishes them
(Tenant.open311_public_reads: cities by default); elsewhere they need a key with the
`read` scope. Public answers of a tenant that is not a city carry points rounded to
PUBLIC_DECIMALS places (about 100 m), and a photo only once staff approved it."""

import math
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from civicpulse.apikeys.models import ApiKey
from civicpulse.apikeys.services import api_key_touch
from civicpulse.apikeys.throttling import api_key_guarded
from civicpulse.core.geo import PUBLIC_POINT_DECIMALS
from civicpulse.core.ratelimit import client_address, client_rate_key
from issues.models import OPEN_STATUSES
from reports.models import Report
from reports.notifications import public_url
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
    normalise_tracking_id,
    report_public_trail,
    reports_for_open311,
    with_public_trail,
)
from reports.services.intake import report_submit
from tenants.models import Tenant
from tenants.selectors import current_tenant, current_timezone_name

# Spec: "a span of 90 days or first 1000 requests returned, whichever is smallest".
DEFAULT_WINDOW = timedelta(days=90)
MAX_PAGE_SIZE = 1000
# Decimal places of a point in the public answers of a tenant that is not a city.
PUBLIC_DECIMALS = PUBLIC_POINT_DECIMALS
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
    api_key = _api_key(request, form.get("api_key", "").strip())
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
    if form.get("address_id", "").strip() and latitude is None and longitude is None and not address.strip():
        # This endpoint publishes no address ids (a request's address_id is always empty),
        # and internal row ids are no public handle: an address_id alone places nothing.
        raise Open311Error(
            400, "address_id is not accepted here: give address_string, or lat and long, instead."
        )
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
            client=client_address(request),
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
            "service_request_id": str(result.report.public_id),
            # The reporter's own key to the tracking page: for the caller to pass on,
            # never shown by any read.
            "token": result.report.tracking_id,
            "service_notice": None,
            "account_id": form.get("account_id") or None,
        }
    ]
    return render(fmt, "service_requests", body)


def _api_key(request: HttpRequest, raw: str) -> ApiKey | None:
    """The active key sent as `api_key` (None without one), counted as a guess first like
    the API's header (a POST is not throttled per address otherwise)."""
    if not raw:
        return None
    api_key, wait = api_key_guarded(raw, client_key=client_rate_key(request))
    if wait is not None:
        raise Open311Error(
            429, "Too many unknown api_keys; try again later.", headers={"Retry-After": str(math.ceil(wait))}
        )
    return api_key


def _public_ids(values: list[str]) -> list[uuid.UUID]:
    """The service_request_ids that can name a request (anything else names none)."""
    ids = []
    for value in values:
        try:
            ids.append(uuid.UUID(value))
        except ValueError:
            continue
    return ids


class _Shown:
    """How much of a request an answer shows: points rounded or exact, and the absolute
    address of an approved photo."""

    def __init__(self, *, rounded: bool) -> None:
        self.rounded = rounded
        self._site = ""  # the tenant's own site, looked up once per answer

    def point(self, value: float | None) -> float | None:
        return round(value, PUBLIC_DECIMALS) if value is not None and self.rounded else value

    def photo_url(self, report: Report) -> str | None:
        if not (report.photo and report.photo_approved):
            return None
        # On the tenant's own host (reports.urls), whichever host this answer is served on.
        self._site = self._site or public_url("")
        return f"{self._site}/photos/{report.public_id}"


def _reader(request: HttpRequest) -> _Shown:
    """What this caller may read of the tenant's requests: anyone where the tenant
    publishes them, else only a key of the tenant with the `read` scope (`api_key`, or
    the API's `Authorization: Api-Key` header). Points are rounded in what anyone may
    read of a tenant that is not a city; a read key sees them exact."""
    tenant = current_tenant()
    header = request.headers.get("Authorization", "")
    raw = param(request, "api_key") or (
        header.removeprefix("Api-Key").strip() if header.startswith("Api-Key ") else ""
    )
    key = _api_key(request, raw)
    keyed = key is not None and "read" in key.scopes
    if not keyed and not tenant.open311_public_reads:
        raise Open311Error(
            403,
            "This jurisdiction does not publish its service requests; an api_key with the read scope may read them.",
        )
    return _Shown(rounded=not keyed and tenant.kind != Tenant.Kind.CITY)


def _request_search(request: HttpRequest, fmt: str) -> HttpResponse:
    shown = _reader(request)
    zone = ZoneInfo(current_timezone_name())
    reports = reports_for_open311()
    requested = split_list(param(request, "service_request_id"))
    if requested:  # the spec: this overrides all other arguments
        reports = reports.filter(public_id__in=_public_ids(requested))
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
    return render(fmt, "service_requests", [_request_body(report, extensions, shown) for report in rows])


@open311("GET")
def request_detail(request: HttpRequest, fmt: str, service_request_id: str) -> HttpResponse:
    shown = _reader(request)
    ids = _public_ids([service_request_id])
    reports: QuerySet[Open311Report] = reports_for_open311()
    reports = reports.filter(public_id=ids[0]) if ids else reports.none()
    extensions = param(request, "extensions").lower() == "true"
    report = (with_public_trail(reports) if extensions else reports).first()
    if report is None:
        raise Open311Error(404, f"service_request_id {service_request_id!r} was not found.")
    return render(fmt, "service_requests", [_request_body(report, extensions, shown)])


@open311("GET")
def token(request: HttpRequest, fmt: str, token: str) -> HttpResponse:
    """The service_request_id of the request whose token (tracking id) this is."""
    tracking_id = normalise_tracking_id(token)
    public_id = (
        Report.objects.filter(tracking_id=tracking_id).values_list("public_id", flat=True).first()
        if tracking_id
        else None
    )
    if public_id is None:
        raise Open311Error(404, f"token {token!r} was not found.")
    return render(fmt, "service_requests", [{"service_request_id": str(public_id), "token": token}])


def _request_body(report: Open311Report, extensions: bool, shown: _Shown) -> dict:
    issue = report.issue
    category = report.category or (issue.category if issue else None)
    closed = issue is not None and issue.status not in OPEN_STATUSES
    department = (issue.department if issue else None) or (category.department if category else None)
    if closed and issue is not None:
        updated = issue.closed_at or issue.resolved_at or issue.updated_at
    else:
        updated = max(report.submitted_at, issue.updated_at) if issue else report.submitted_at
    body: dict[str, object] = {
        "service_request_id": str(report.public_id),
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
        "lat": shown.point(report.latitude),
        "long": shown.point(report.longitude),
        # The reporting system's own picture, else our photo once staff approved it.
        "media_url": report.media_url or shown.photo_url(report),
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
