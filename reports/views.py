"""Resident pages: report a problem, then follow it by tracking id. No account needed."""

import math
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from civicpulse.core.bodies import request_body_discard
from civicpulse.core.ratelimit import (
    RateLimitHit,
    client_address,
    client_rate_key,
    rate_limit_hit,
    rate_limit_refund,
)
from reports.form_map import report_form_map
from reports.forms import ReportForm
from reports.geocoder import address_suggestions
from reports.limits import form_rate_hit, tenant_hour_hit
from reports.models import Report
from reports.notifications import (
    confirmation_token_valid,
    report_confirm_email,
    report_unsubscribe,
    unsubscribe_token_valid,
)
from reports.photos import PhotoBusy, photo_post_admitted, photo_slot_free
from reports.public_issues import publication
from reports.selectors import (
    normalise_tracking_id,
    report_by_public_id,
    report_by_tracking_id,
    report_public_history,
)
from reports.services.intake import report_submit
from tenants.selectors import current_tenant

TOO_MANY = gettext_lazy("Too many reports from this connection. Please wait a few minutes.")
PLACE_BUSY = gettext_lazy(
    "This place has received an unusual number of reports in the last hour. Please try again later."
)
PHOTOS_BUSY = gettext_lazy(
    "We are busy processing photos right now. Please send your report again in a minute."
)


# The form's text fields come to a few kilobytes at most (4,000 characters of description):
# a larger body carries a file.
FORM_TEXT_MAX_BYTES = 64 * 1024


@csrf_exempt  # checked by _report_post, once a POST carrying a photo has been let in
@require_http_methods(["GET", "POST"])
def report_new(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _form_page(request, ReportForm())
    # A body large enough to carry a photo is counted against its address and, while this
    # process's photo slots are busy, turned away before a byte of it is parsed: under a
    # flood a refusal then costs about a millisecond instead of parsing the upload and
    # drawing the whole form (with its map) again, time other tenants' requests were
    # queueing for. The unparsed body is dropped in large reads (civicpulse.core.bodies).
    if _content_length(request) <= FORM_TEXT_MAX_BYTES:
        return _report_post(request, None)
    address_hit = form_rate_hit(request)
    if address_hit.wait is not None:
        return _turned_away(request, TOO_MANY, 429, address_hit.wait)
    # Read only while few photo posts are in flight here: the slot may be free now and
    # taken by the time this body is in. A post turned away gives its place back before
    # its body is dropped, which takes as long as the client takes to send it.
    with photo_post_admitted() as admitted:
        if admitted and photo_slot_free():
            return _report_post(request, address_hit)
    return _turned_away(request, PHOTOS_BUSY, 503, 60)


@csrf_protect
def _report_post(request: HttpRequest, address_hit: RateLimitHit | None) -> HttpResponse:
    # A POST carrying a photo is counted before its photo is opened, and stays counted
    # whatever becomes of it: reading photos is what a flood costs us. Without a photo only
    # an accepted report is charged: a resident who forgot the location, or whose report
    # failed on our side, is not penalised. Both counts are increment-first (atomic).
    if address_hit is None and request.FILES.get("photo"):  # a small photo: counted here
        address_hit = form_rate_hit(request)
        if address_hit.wait is not None:
            return _refused(request, ReportForm(request.POST), TOO_MANY, 429, address_hit.wait)
        if not photo_slot_free():  # busy: turned away before any checking
            return _refused(request, ReportForm(request.POST), PHOTOS_BUSY, 503, 60)
    charged = address_hit is not None  # stays counted, whatever becomes of this POST
    form = ReportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _form_page(request, form, 400)
    if form.cleaned_data["website"]:
        form.add_error(None, _("Your report could not be sent. Please try again."))
        return _form_page(request, form, 400)
    if address_hit is None:
        address_hit = form_rate_hit(request)
        if address_hit.wait is not None:
            rate_limit_refund(address_hit)
            return _refused(request, form, TOO_MANY, 429, address_hit.wait)
    # What a refused or failed report gives back: never a photo POST's own count.
    taken = [] if charged else [address_hit]
    tenant_hit = tenant_hour_hit()
    taken.append(tenant_hit)
    if tenant_hit.wait is not None:
        _refund(taken)
        return _refused(request, form, PLACE_BUSY, 429, tenant_hit.wait)
    data = form.cleaned_data
    try:
        result = report_submit(
            description=data["description"],
            latitude=data["latitude"],
            longitude=data["longitude"],
            address=data["address"],
            category_code=data["category"].code if data["category"] else None,
            email=data["email"],
            photo=data["photo"],
            channel=Report.Channel.WEB,
            client=client_address(request),
            language=request.LANGUAGE_CODE,
            chosen_issue_id=data["chosen_issue"],
        )
    except ValidationError as exc:
        _refund(taken)
        for field, messages in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
        return _form_page(request, form, 400)
    except PhotoBusy:
        _refund(taken)
        return _refused(request, form, PHOTOS_BUSY, 503, 60)
    except Exception:
        _refund(taken)
        raise
    return redirect("report-track", tracking_id=result.report.tracking_id)


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _turned_away(request: HttpRequest, message: str | Promise, status: int, wait: float) -> HttpResponse:
    """A short page for a POST refused unread: what was typed was never read, so the
    resident is sent back to it (browsers keep it on Back), not shown the form again."""
    response = render(
        request, "reports/turned_away.html", {"tenant": current_tenant(), "message": message}, status=status
    )
    response["Retry-After"] = str(math.ceil(wait))
    request_body_discard(request)
    return response


def _refund(hits: list[RateLimitHit]) -> None:
    for hit in hits:
        rate_limit_refund(hit)


def _form_page(request: HttpRequest, form: ReportForm, status: int = 200) -> HttpResponse:
    form_map = report_form_map()
    return render(
        request,
        "reports/new.html",
        {
            "form": form,
            "map": form_map.outline,
            # Where the street map opens: the areas, else around the latest issues (a
            # tenant with neither opens on the world until a place is given).
            "extent": form_map.extent,
            "tenant": current_tenant(),
            "tiles": form_map.tiles,
            "boundaries_script": form_map.boundaries_script,
            # "Already reported near here?" where the tenant publishes its issues.
            "nearby": publication().public,
        },
        status=status,
    )


@require_http_methods(["GET"])
def address_suggest(request: HttpRequest) -> JsonResponse:
    """`?q=` what the resident typed so far: `{"addresses": [{address, latitude,
    longitude, source}]}` (reports.geocoder). Throttled per client address."""
    hit = rate_limit_hit(
        client_rate_key(request), limit=settings.ADDRESS_SUGGEST_RATE_PER_MINUTE, scope="addresses"
    )
    if hit.wait is not None:
        response = JsonResponse({"addresses": [], "error": "too many requests"}, status=429)
        response["Retry-After"] = str(math.ceil(hit.wait))
        return response
    return JsonResponse({"addresses": address_suggestions(request.GET.get("q", "")[:200])})


def _refused(
    request: HttpRequest, form: ReportForm, message: str | Promise, status: int, wait: float
) -> HttpResponse:
    """The form again, with what was typed (a browser never keeps the photo) and why."""
    form.add_error(None, str(message))
    response = _form_page(request, form, status)
    response["Retry-After"] = str(math.ceil(wait))
    return response


def report_track(request: HttpRequest, tracking_id: str | None = None) -> HttpResponse:
    wanted = tracking_id or request.GET.get("id", "")
    if wanted and tracking_id is None:
        normalised = normalise_tracking_id(wanted)
        if normalised:
            return redirect("report-track", tracking_id=normalised)
    report = report_by_tracking_id(wanted) if wanted else None
    context = {"tenant": current_tenant(), "searched": wanted, "report": report}
    if report is not None:
        context.update(report_public_history(report))
        # The issue's public page, where the tenant publishes its issues.
        context["issue_public"] = publication().public
    return render(request, "reports/track.html", context, status=200 if report or not wanted else 404)


def report_photo(request: HttpRequest, tracking_id: str) -> FileResponse:
    """The photo on the reporter's own tracking page (and in the staff console): the
    tracking id is the key, and no public feed lists it."""
    report = report_by_tracking_id(tracking_id)
    if report is None or not report.photo:
        raise Http404
    return _private(FileResponse(report.photo.open("rb"), content_type=None))


def report_public_photo(request: HttpRequest, public_id: uuid.UUID) -> FileResponse:
    """A photo staff approved for the public (Open311 `media_url`), by the report's public id."""
    report = report_by_public_id(public_id)
    if report is None or not report.photo or not report.photo_approved:
        raise Http404
    return FileResponse(report.photo.open("rb"), content_type=None)


def _private(response: FileResponse) -> FileResponse:
    # Not kept by shared caches, nor sent on as a Referer from the page that shows it.
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_http_methods(["GET", "POST"])
def report_unsubscribe_view(request: HttpRequest, tracking_id: str, token: str) -> HttpResponse:
    """GET shows one button; the POST unsubscribes. Mail scanners open links (GET) on
    their own, and must not unsubscribe anyone by doing so."""
    if not unsubscribe_token_valid(tracking_id=tracking_id, token=token):
        return render(
            request, "reports/unsubscribed.html", {"tenant": current_tenant(), "valid": False}, status=404
        )
    done = request.method == "POST" and report_unsubscribe(tracking_id=tracking_id, token=token)
    return render(
        request, "reports/unsubscribed.html", {"tenant": current_tenant(), "valid": True, "done": done}
    )


@require_http_methods(["GET", "POST"])
def report_confirm_view(request: HttpRequest, tracking_id: str, token: str) -> HttpResponse:
    """The link of the confirmation email: GET shows one button, the POST confirms (a mail
    scanner opening the link confirms nothing)."""
    context = {
        "tenant": current_tenant(),
        "valid": confirmation_token_valid(tracking_id=tracking_id, token=token),
    }
    if not context["valid"]:
        return render(request, "reports/confirm.html", context, status=404)
    context["done"] = request.method == "POST" and report_confirm_email(tracking_id=tracking_id, token=token)
    return render(request, "reports/confirm.html", context)
