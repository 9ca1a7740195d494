"""Resident pages: report a problem, then follow it by tracking id. No account needed."""

from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from civicpulse.core.ratelimit import RateLimitHit, client_address, rate_limit_hit, rate_limit_refund
from issues.selectors import area_map
from reports.forms import ReportForm
from reports.models import Report
from reports.notifications import report_unsubscribe, unsubscribe_token_valid
from reports.selectors import normalise_tracking_id, report_by_tracking_id, report_public_history
from reports.services.intake import report_submit
from tenants.selectors import current_tenant

# Reports one client address may send in a window, against floods from one source.
FORM_RATE = (5, 600)  # reports, seconds


def _form_rate_hit(request: HttpRequest) -> RateLimitHit:
    """Counted first (two reports racing for the last place cannot both get it) and given
    back unless the report is accepted: a resident who forgot the location, or whose
    report failed on our side, is not penalised."""
    return rate_limit_hit(
        client_address(request), limit=FORM_RATE[0], window_s=FORM_RATE[1], scope="form-rate"
    )


@require_http_methods(["GET", "POST"])
def report_new(request: HttpRequest) -> HttpResponse:
    form = ReportForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid() and form.cleaned_data["website"]:
            form.add_error(None, _("Your report could not be sent. Please try again."))
            status = 400
        elif form.is_valid():
            hit = _form_rate_hit(request)
            if hit.wait is not None:
                rate_limit_refund(hit)
                form.add_error(None, _("Too many reports from this connection. Please wait a few minutes."))
                status = 429
            else:
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
                    )
                except ValidationError as exc:
                    rate_limit_refund(hit)
                    for field, messages in exc.message_dict.items():
                        form.add_error(field if field in form.fields else None, messages)
                    status = 400
                except Exception:
                    rate_limit_refund(hit)
                    raise
                else:
                    return redirect("report-track", tracking_id=result.report.tracking_id)
        else:
            status = 400
    return render(
        request,
        "reports/new.html",
        {"form": form, "map": area_map(), "tenant": current_tenant()},
        status=status,
    )


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
    return render(request, "reports/track.html", context, status=200 if report or not wanted else 404)


def report_photo(request: HttpRequest, tracking_id: str) -> FileResponse:
    report = report_by_tracking_id(tracking_id)
    if report is None or not report.photo:
        raise Http404
    return FileResponse(report.photo.open("rb"), content_type=None)


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
