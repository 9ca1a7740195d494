"""The public view of a tenant's issues, where the tenant publishes them (else 404):
"already reported near here?" (JSON for the report form), the list with its filters,
the markers of its map and one issue's page with its public history. No account needed,
nothing about the reporters shown (docs/security.md)."""

import math
from urllib.parse import urlencode

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from civicpulse.core.errors import error_body
from civicpulse.core.geo import PUBLIC_POINT_DECIMALS
from civicpulse.core.ratelimit import client_rate_key, rate_limit_hit
from issues.models import IssueStatus
from issues.public_selectors import (
    NEARBY_RADIUS_M,
    PublicFilters,
    issue_markers,
    issues_nearby,
    issues_public,
)
from issues.selectors import map_tiles
from reports.public_forms import PublicIssueFilterForm
from reports.public_issues import (
    Publication,
    approved_photo_ids,
    issue_public,
    issue_public_photos,
    issue_public_trail,
    publication,
)
from tenants.selectors import current_tenant

# Nearby lookups one client address (its /64 for IPv6) may make in a window: the form
# asks once per pin move (debounced), so this is generous for a resident and bounds a
# client that would map a tenant's issues by measuring from many points.
NEARBY_RATE = (30, 60)  # requests, seconds
# The list, its map's markers and the issue pages, together: each is bounded (a page of
# 20, at most 1,000 markers), but a client walking every page or issue would still read
# the tenant's whole history; a person browsing asks a few a minute.
PAGES_RATE = (120, 60)  # requests, seconds
PAGE_SIZE = 20


def _published() -> Publication:
    shown = publication()
    if not shown.public:
        raise Http404("This place does not publish its issues.")
    return shown


def _pages_wait(request: HttpRequest) -> float | None:
    """Seconds this client must wait before another public page or markers request."""
    hit = rate_limit_hit(client_rate_key(request), limit=PAGES_RATE[0], window_s=PAGES_RATE[1], scope="pages")
    return hit.wait


def _busy(request: HttpRequest, wait: float) -> HttpResponse:
    response = render(request, "reports/busy.html", {"tenant": current_tenant()}, status=429)
    response["Retry-After"] = str(math.ceil(wait))
    return response


def _coordinate(query: QueryDict, name: str, bound: int, errors: dict[str, list[str]]) -> float | None:
    raw = query.get(name, "").strip()
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not -bound <= value <= bound:
        errors[name] = [
            _("Give the %(name)s as a number from -%(bound)s to %(bound)s.") % {"name": name, "bound": bound}
        ]
        return None
    return value


@require_GET
def issues_nearby_view(request: HttpRequest) -> JsonResponse:
    """`{"issues": [...]}`: open issues within NEARBY_RADIUS_M of the point, nearest first."""
    shown = publication()
    if not shown.public:
        return JsonResponse(error_body("not_found", "This place does not publish its issues."), status=404)
    hit = rate_limit_hit(
        client_rate_key(request), limit=NEARBY_RATE[0], window_s=NEARBY_RATE[1], scope="nearby"
    )
    if hit.wait is not None:
        response = JsonResponse(
            error_body("throttled", "Too many lookups from this connection. Please wait a minute."),
            status=429,
        )
        response["Retry-After"] = str(math.ceil(hit.wait))
        return response
    errors: dict[str, list[str]] = {}
    latitude = _coordinate(request.GET, "latitude", 90, errors)
    longitude = _coordinate(request.GET, "longitude", 180, errors)
    if latitude is None or longitude is None:
        field, messages = next(iter(errors.items()))
        return JsonResponse(error_body("invalid", f"{field}: {messages[0]}", errors), status=400)
    issues = issues_nearby(latitude=latitude, longitude=longitude, rounded=shown.rounded)
    photos = approved_photo_ids(issue.id for issue in issues)
    body = [
        {
            "id": issue.id,
            "title": issue.title,
            "category": issue.category_name,
            "category_code": issue.category_code,
            "status": issue.status,
            "status_label": str(IssueStatus(issue.status).label),
            "report_count": issue.report_count,
            "distance_m": round(issue.distance_m),
            "latitude": issue.latitude,
            "longitude": issue.longitude,
            "photo_url": reverse("report-public-photo", args=[photos[issue.id]])
            if issue.id in photos
            else None,
            "url": reverse("issue-public", args=[issue.id]),
        }
        for issue in issues
    ]
    return JsonResponse({"issues": body, "radius_m": NEARBY_RADIUS_M})


def _filters(request: HttpRequest) -> tuple[PublicIssueFilterForm, PublicFilters]:
    form = PublicIssueFilterForm(request.GET)
    if not form.is_valid():
        return form, PublicFilters()
    data = form.cleaned_data
    return form, PublicFilters(category_code=data["category"], status=data["status"], area_code=data["area"])


@require_GET
def issues_public_view(request: HttpRequest) -> HttpResponse:
    """The list: open and recent issues (or those of one status), newest first, a page at
    a time (no count: a page more is read to know whether there is a next one)."""
    shown = _published()
    if (wait := _pages_wait(request)) is not None:
        return _busy(request, wait)
    form, filters = _filters(request)
    if form.errors:
        context = {"tenant": current_tenant(), "form": form, "issues": [], "shown": shown}
        return render(request, "reports/public_issues.html", context, status=400)
    page = form.cleaned_data["page"] or 1
    rows = list(issues_public(filters, now=timezone.now())[(page - 1) * PAGE_SIZE : page * PAGE_SIZE + 1])
    issues = rows[:PAGE_SIZE]
    photos = approved_photo_ids(issue.pk for issue in issues)
    for issue in issues:
        issue.public_photo_id = photos.get(issue.pk)  # type: ignore[attr-defined]
    query = {
        k: v
        for k, v in (
            ("category", filters.category_code),
            ("status", filters.status),
            ("area", filters.area_code),
        )
        if v
    }
    context = {
        "tenant": current_tenant(),
        "form": form,
        "issues": issues,
        "page": page,
        "previous_page": urlencode({**query, "page": page - 1}) if page > 1 else None,
        "next_page": urlencode({**query, "page": page + 1}) if len(rows) > PAGE_SIZE else None,
        "markers_url": reverse("issues-markers") + ("?" + urlencode(query) if query else ""),
        "tiles": map_tiles(),
        "shown": shown,
    }
    return render(request, "reports/public_issues.html", context)


def _box(request: HttpRequest) -> tuple[tuple[float, float, float, float] | None, dict[str, list[str]]]:
    """The viewport (west, south, east, north) asked for, all four or none."""
    names = ("west", "south", "east", "north")
    if not any(request.GET.get(name, "").strip() for name in names):
        return None, {}
    errors: dict[str, list[str]] = {}
    values = [
        _coordinate(request.GET, name, 90 if name in ("south", "north") else 180, errors) for name in names
    ]
    if errors:
        return None, errors
    west, south, east, north = (v for v in values if v is not None)
    if south > north:
        return None, {"south": [_("The south edge must not lie north of the north edge.")]}
    return (west, south, east, north), {}


@require_GET
def issues_markers_view(request: HttpRequest) -> JsonResponse:
    """The public map's markers: `{"markers": [...], "truncated": bool}`, at most
    PUBLIC_MARKERS_LIMIT, inside the viewport when one is given, with the list's filters."""
    shown = publication()
    if not shown.public:
        return JsonResponse(error_body("not_found", "This place does not publish its issues."), status=404)
    if (wait := _pages_wait(request)) is not None:
        response = JsonResponse(
            error_body("throttled", "Too many requests from this connection. Please wait a minute."),
            status=429,
        )
        response["Retry-After"] = str(math.ceil(wait))
        return response
    form, filters = _filters(request)
    box, errors = _box(request)
    errors.update({field: [str(m) for m in messages] for field, messages in form.errors.items()})
    if errors:
        field, messages = next(iter(errors.items()))
        return JsonResponse(error_body("invalid", f"{field}: {messages[0]}", errors), status=400)
    markers, truncated = issue_markers(
        filters, now=timezone.now(), rounded=shown.rounded, box=box, limit=settings.PUBLIC_MARKERS_LIMIT
    )
    body = [
        {
            "id": m.id,
            "latitude": m.latitude,
            "longitude": m.longitude,
            "title": m.title,
            "category": m.category_name,
            "status": m.status,
            "status_label": str(IssueStatus(m.status).label),
            "url": reverse("issue-public", args=[m.id]),
        }
        for m in markers
    ]
    return JsonResponse({"markers": body, "truncated": truncated})


@require_GET
def issue_public_view(request: HttpRequest, issue_id: int) -> HttpResponse:
    """One issue as anyone may see it: what, where (rounded where the tenant rounds),
    its status, how many reported it, approved photos and its public history."""
    shown = _published()
    if (wait := _pages_wait(request)) is not None:
        return _busy(request, wait)
    issue = issue_public(issue_id)
    if issue is None:
        raise Http404("No such issue.")
    places = PUBLIC_POINT_DECIMALS if shown.rounded else 6
    point = (
        (round(issue.latitude, places), round(issue.longitude, places))
        if issue.latitude is not None and issue.longitude is not None
        else None
    )
    context = {
        "tenant": current_tenant(),
        "issue": issue,
        "point": point,
        "photos": issue_public_photos(issue.pk),
        "trail": issue_public_trail(issue),
    }
    return render(request, "reports/public_issue.html", context)
