"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2), XML and JSON, under
/open311/v2/. A tenant's host serves its own jurisdiction; the public host serves every
tenant, chosen by `jurisdiction_id`. A POST goes through report_submit like any other
report; its service_request_id is the report's tracking id, returned at once (type
`realtime`), so a token is the tracking id too.

Field names, element names, defaults and error codes follow the published
specification; `page`, `page_size` and `extensions=true` (a `notes` trail of public
status changes and public notes) follow its documented common extensions.
"""
import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, time, timedelta
from datetime import timezone as dt_timezone
from functools import wraps
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import connection
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django_tenants.utils import get_public_schema_name, tenant_context

from civicpulse.core.ratelimit import client_address, rate_limit_hit
from issues.models import OPEN_STATUSES, Category
from reports.models import Report
from civicpulse.apikeys.selectors import api_key_for
from reports.selectors import location_by_id, normalise_tracking_id, report_public_trail, reports_for_open311, with_public_trail
from civicpulse.apikeys.services import api_key_touch
from reports.services import report_submit
from tenants.models import Tenant
from tenants.selectors import current_timezone_name, tenant_by_jurisdiction

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# When this endpoint's service list or definitions last changed shape (discovery's
# `changeset`); categories themselves carry no edit time.
CHANGESET = "2026-11-23T00:00:00Z"
CONTENT_TYPES = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}
# Spec: "a span of 90 days or first 1000 requests returned, whichever is smallest".
DEFAULT_WINDOW = timedelta(days=90)
MAX_PAGE_SIZE = 1000
# The XML element of each item of a list, by the list's element (the Spark convention).
ITEM_ELEMENTS = {
    "services": "service", "attributes": "attribute", "values": "value", "endpoints": "endpoint",
    "formats": "format", "service_requests": "request", "errors": "error", "notes": "note",
}
# report_submit's field names as Open311 calls them, for error descriptions.
OPEN311_FIELDS = {"latitude": "lat", "longitude": "long", "address": "address_string",
                  "location": "lat/long, address_string or address_id", "category": "service_code"}


class Open311Error(Exception):
    def __init__(self, status: int, *descriptions: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(descriptions[0])
        self.status = status
        self.descriptions = descriptions
        self.headers = headers or {}


_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _w3c(value: datetime, zone: ZoneInfo) -> str:
    return value.astimezone(zone).isoformat(timespec="seconds")


def _text(value: object, zone: ZoneInfo) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _w3c(value, zone)
    return str(value)


def _xml_fill(element: ET.Element, value: object, zone: ZoneInfo) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _xml_fill(ET.SubElement(element, key), child, zone)
    elif isinstance(value, list):
        for item in value:
            _xml_fill(ET.SubElement(element, ITEM_ELEMENTS[element.tag]), item, zone)
    else:
        # Control characters XML 1.0 cannot carry (a resident's text may hold them) are
        # dropped, so one report never makes the whole feed ill-formed.
        element.text = _XML_ILLEGAL.sub("", _text(value, zone))


def render(fmt: str, root: str, body: object, *, status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    """`body` as JSON, or as XML under `root`, datetimes in the tenant's zone with offset."""
    zone = ZoneInfo(current_timezone_name())
    if fmt == "json":
        content = json.dumps(body, ensure_ascii=False, default=lambda v: _text(v, zone))
    else:
        element = ET.Element(root)
        _xml_fill(element, body, zone)
        content = '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="unicode")
    response = HttpResponse(content.encode("utf-8"), status=status, content_type=CONTENT_TYPES[fmt])
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _errors(fmt: str, error: Open311Error) -> HttpResponse:
    body = [{"code": error.status, "description": description} for description in error.descriptions]
    return render(fmt, "errors", body, status=error.status, headers=error.headers)


# The spec's words for errors the platform answers before any Open311 view runs.
_DESCRIPTIONS = {"tenant_suspended": "This jurisdiction is suspended."}


def error_response(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    """An error in the spec's shape for a request no Open311 view handled (an unknown
    path, a body refused before any view reads it, a suspended jurisdiction): JSON for
    a .json path, else XML. Registered for /open311/ in the ERROR_RENDERERS setting."""
    description = _DESCRIPTIONS.get(code, message)
    return _errors("json" if request.path.endswith(".json") else "xml", Open311Error(status, description))


def _param(request: HttpRequest, name: str) -> str:
    """An argument from the query string, or from the form body of a POST. An empty one
    is the same as one not sent (the spec's "Optional Arguments")."""
    source: QueryDict = request.POST if request.method == "POST" and name in request.POST else request.GET
    return source.get(name, "").strip()


@contextmanager
def _jurisdiction(request: HttpRequest, *, required: bool) -> Iterator[Tenant | None]:
    """Enter the tenant this request is for: the host's, or on the public host the one
    `jurisdiction_id` names."""
    jurisdiction_id = _param(request, "jurisdiction_id")
    host_tenant = request.tenant
    if host_tenant.schema_name != get_public_schema_name():
        if jurisdiction_id and jurisdiction_id not in (host_tenant.open311_jurisdiction_id, host_tenant.schema_name):
            raise Open311Error(404, f"jurisdiction_id {jurisdiction_id!r} was not found on this host.")
        yield host_tenant
        return
    if not jurisdiction_id:
        if required:
            raise Open311Error(400, "jurisdiction_id was not provided: this endpoint serves several jurisdictions.")
        yield None
        return
    tenant = tenant_by_jurisdiction(jurisdiction_id)
    if tenant is None:
        raise Open311Error(404, f"jurisdiction_id {jurisdiction_id!r} was not found.")
    if tenant.suspended:
        raise Open311Error(403, f"jurisdiction_id {jurisdiction_id!r} is suspended.")
    with tenant_context(tenant):
        yield tenant


def open311(*methods: str, tenant_required: bool = True) -> Callable:
    """Wrap a view: its methods, the jurisdiction, throttling of callers without a key,
    and every failure answered in the spec's error shape and format."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, fmt: str, **kwargs: str) -> HttpResponse:
            try:
                allowed = (*methods, "HEAD") if "GET" in methods else methods
                if request.method not in allowed:
                    raise Open311Error(405, f"{request.method} is not allowed here; use {' or '.join(methods)}.",
                                       headers={"Allow": ", ".join(methods)})
                # PostgreSQL cannot store a NUL character: refuse it here, not with a 500 later.
                for name, values in (*request.GET.lists(), *(request.POST.lists() if request.method == "POST" else ())):
                    if "\x00" in name or any("\x00" in value for value in values):
                        raise Open311Error(400, f"{name.replace(chr(0), '')}: NUL characters are not allowed.")
                with _jurisdiction(request, required=tenant_required):
                    if request.method != "POST":  # a POST is throttled by its api_key instead
                        _throttle(f"anon:{client_address(request)}", settings.API_ANON_RATE_PER_MINUTE)
                    return view(request, fmt, **kwargs)
            except Open311Error as error:
                return _errors(fmt, error)

        return wrapper

    return decorate


def _throttle(who: str, per_minute: int) -> None:
    wait = rate_limit_hit(who, limit=per_minute)
    if wait is not None:
        raise Open311Error(429, "Too many requests; try again later.", headers={"Retry-After": str(math.ceil(wait))})


@open311("GET", tenant_required=False)
def discovery(request: HttpRequest, fmt: str) -> HttpResponse:
    tenant = getattr(connection, "tenant", None)
    public = tenant is None or tenant.schema_name == get_public_schema_name()
    body = {
        "changeset": CHANGESET,
        "contact": "Ask the operator of this CivicPulse site."
        + (" Name the place with jurisdiction_id (its slug)." if public else ""),
        "key_service": "API keys are issued by the place's staff (manage.py create_api_key <slug> --scopes submit).",
        "endpoints": [{
            "specification": SPECIFICATION,
            "url": request.build_absolute_uri("/open311/v2"),
            "changeset": CHANGESET,
            "type": "production",
            "formats": ["text/xml", "application/json"],
        }],
    }
    return render(fmt, "discovery", body)


def _active_categories() -> QuerySet[Category]:
    return Category.objects.filter(active=True).select_related("department").order_by("name")


@open311("GET")
def services(request: HttpRequest, fmt: str) -> HttpResponse:
    body = [
        {
            "service_code": category.code,
            "service_name": category.name,
            "description": category.description,
            "metadata": bool(category.questions),
            "type": "realtime",
            "keywords": ", ".join(category.keywords),
            "group": category.department.name if category.department else "",
        }
        for category in _active_categories()
    ]
    return render(fmt, "services", body)


def _category_or_404(service_code: str) -> Category:
    category = _active_categories().filter(code=service_code).first()
    if category is None:
        raise Open311Error(404, f"service_code {service_code!r} was not found.")
    return category


@open311("GET")
def service_definition(request: HttpRequest, fmt: str, service_code: str) -> HttpResponse:
    category = _category_or_404(service_code)
    attributes = [
        {
            "variable": True,
            "code": question["code"],
            "datatype": question["datatype"],
            "required": bool(question.get("required", False)),
            "datatype_description": None,
            "order": order,
            "description": question["description"],
            "values": [{"key": v["key"], "name": v["name"]} for v in question.get("values", [])],
        }
        for order, question in enumerate(category.questions, start=1)
    ]
    return render(fmt, "service_definition", {"service_code": category.code, "attributes": attributes})


@open311("GET", "POST")
def requests(request: HttpRequest, fmt: str) -> HttpResponse:
    if request.method == "POST":
        return _request_create(request, fmt)
    return _request_search(request, fmt)


_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")


def _attributes(form: QueryDict) -> dict[str, str | list[str]]:
    """attribute[code]=value, and attribute[code][]=value repeated for a multivaluelist."""
    answers: dict[str, str | list[str]] = {}
    for name in form:
        match = _ATTRIBUTE.match(name)
        if match:
            answers[match[1]] = form.getlist(name) if match[2] else form.get(name, "")
    return answers


def _coordinate(form: QueryDict, name: str) -> float | None:
    raw = form.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Open311Error(400, f"{name} must be a number.")
    if not math.isfinite(value):
        raise Open311Error(400, f"{name} must be a number.")
    return value


def _request_create(request: HttpRequest, fmt: str) -> HttpResponse:
    form = request.POST
    api_key = api_key_for(form.get("api_key", "").strip()) if form.get("api_key", "").strip() else None
    if api_key is None:
        raise Open311Error(403, "Missing or invalid api_key.")
    if "submit" not in api_key.scopes:
        raise Open311Error(403, "This api_key may not submit service requests (it lacks the submit scope).")
    _throttle(f"key:{api_key.pk}", api_key.rate_per_minute)
    api_key_touch(api_key=api_key)

    service_code = form.get("service_code", "").strip()
    if not service_code:
        raise Open311Error(400, "service_code was not provided.")
    _category_or_404(service_code)
    latitude, longitude = _coordinate(form, "lat"), _coordinate(form, "long")
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
            attributes=_attributes(form),
            media_url=form.get("media_url", "").strip(),
        )
    except ValidationError as exc:
        raise Open311Error(400, *(
            f"{OPEN311_FIELDS.get(field, field)}: {message}"
            for field, messages in exc.message_dict.items() for message in messages
        ))
    body = [{"service_request_id": result.report.tracking_id, "service_notice": None,
             "account_id": form.get("account_id") or None}]
    return render(fmt, "service_requests", body)


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _when(request: HttpRequest, name: str, zone: ZoneInfo) -> datetime | None:
    """A W3C datetime with its offset, or a date (its start in the tenant's zone)."""
    raw = _param(request, name)
    if not raw:
        return None
    try:
        parsed = parse_datetime(raw.replace(" ", "+"))  # an unescaped "+" in a query string arrives as a space
        if parsed is None and (day := parse_date(raw)) is not None:
            return datetime.combine(day, time.min, tzinfo=zone)
    except ValueError:
        parsed = None
    if parsed is None or timezone.is_naive(parsed):
        raise Open311Error(400, f"{name} must be a W3C datetime with a time zone, e.g. 2010-01-01T00:00:00Z.")
    try:
        # In UTC: PostgreSQL refuses offsets beyond ±15:59 that Python accepts.
        return parsed.astimezone(dt_timezone.utc)
    except OverflowError:
        raise Open311Error(400, f"{name} is out of range.")


def _positive(request: HttpRequest, name: str, default: int, maximum: int) -> int:
    raw = _param(request, name) or str(default)
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise Open311Error(400, f"{name} must be a whole number from 1 to {maximum}.")
    return int(raw)


def _request_search(request: HttpRequest, fmt: str) -> HttpResponse:
    zone = ZoneInfo(current_timezone_name())
    reports = reports_for_open311()
    ids = [normalise_tracking_id(value) for value in _split(_param(request, "service_request_id"))]
    if ids:  # the spec: this overrides all other arguments
        reports = reports.filter(tracking_id__in=ids)
    else:
        codes = _split(_param(request, "service_code"))
        if codes:
            reports = reports.filter(category__code__in=codes)
        statuses = set(_split(_param(request, "status")))
        if statuses - {"open", "closed"}:
            raise Open311Error(400, "status must be open, closed, or both comma-separated.")
        if statuses == {"open"}:
            reports = reports.filter(Q(issue__isnull=True) | Q(issue__status__in=OPEN_STATUSES))
        elif statuses == {"closed"}:
            reports = reports.filter(issue__isnull=False).exclude(issue__status__in=OPEN_STATUSES)
        start, end = _when(request, "start_date", zone), _when(request, "end_date", zone)
        if start is None and end is None:
            end = timezone.now()
        try:
            if start is None:
                start = end - DEFAULT_WINDOW
            elif end is None:
                end = start + DEFAULT_WINDOW
        except OverflowError:
            raise Open311Error(400, "start_date or end_date is out of range.")
        if start > end:
            raise Open311Error(400, "start_date comes after end_date.")
        if end - start > DEFAULT_WINDOW:
            raise Open311Error(400, "start_date and end_date may not span more than 90 days.")
        reports = reports.filter(submitted_at__gte=start, submitted_at__lte=end)
    page = _positive(request, "page", 1, 1_000_000)
    page_size = _positive(request, "page_size", MAX_PAGE_SIZE, MAX_PAGE_SIZE)
    extensions = _param(request, "extensions").lower() == "true"
    if extensions:
        reports = with_public_trail(reports)
    rows = reports.order_by("-submitted_at", "-id")[(page - 1) * page_size: page * page_size]
    return render(fmt, "service_requests", [_request_body(report, extensions) for report in rows])


@open311("GET")
def request_detail(request: HttpRequest, fmt: str, service_request_id: str) -> HttpResponse:
    tracking_id = normalise_tracking_id(service_request_id)
    reports = reports_for_open311().filter(tracking_id=tracking_id) if tracking_id else Report.objects.none()
    extensions = _param(request, "extensions").lower() == "true"
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


@csrf_exempt
def unknown(request: HttpRequest) -> HttpResponse:
    """Anything else under /open311/v2/: a 404 in the spec's shape (XML unless .json)."""
    return error_response(request, 404, "not_found", "No such Open311 resource; see discovery.xml.")


def _request_body(report: Report, extensions: bool) -> dict:
    issue = report.issue
    category = report.category or (issue.category if issue else None)
    closed = issue is not None and issue.status not in OPEN_STATUSES
    department = (issue.department if issue else None) or (category.department if category else None)
    if closed:
        updated = issue.closed_at or issue.resolved_at or issue.updated_at
    else:
        updated = max(report.submitted_at, issue.updated_at) if issue else report.submitted_at
    body = {
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

