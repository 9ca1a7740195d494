"""Resident pages: report a problem, then follow it by tracking id. No account needed."""
import time

from django.core.exceptions import ValidationError
from django.db import connection
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from civicpulse.workers import redis_client
from issues.selectors import area_map
from reports.forms import ReportForm
from reports.models import Report
from reports.selectors import normalise_tracking_id, report_by_tracking_id, report_public_history
from reports.notifications import report_unsubscribe
from reports.services import report_submit

# Reports one client address may send in a window, against floods from one source.
FORM_RATE = (5, 600)  # reports, seconds


def _over_rate(request: HttpRequest) -> bool:
    limit, window = FORM_RATE
    key = f"cp:{connection.schema_name}:form-rate:{request.META.get('REMOTE_ADDR', '')}:{int(time.time() // window)}"
    try:
        pipe = redis_client().pipeline()
        pipe.incr(key)
        pipe.expire(key, window)
        return pipe.execute()[0] > limit
    except Exception:
        return False  # Redis down: better a few extra reports than none


@require_http_methods(["GET", "POST"])
def report_new(request: HttpRequest) -> HttpResponse:
    form = ReportForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid() and form.cleaned_data["website"]:
            form.add_error(None, _("Your report could not be sent. Please try again."))
            status = 400
        elif form.is_valid():
            if _over_rate(request):
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
                    for field, messages in exc.message_dict.items():
                        form.add_error(field if field in form.fields else None, messages)
                    status = 400
                else:
                    return redirect("report-track", tracking_id=result.report.tracking_id)
        else:
            status = 400
    return render(
        request, "reports/new.html", {"form": form, "map": area_map(), "tenant": request.tenant}, status=status
    )


def report_track(request: HttpRequest, tracking_id: str | None = None) -> HttpResponse:
    wanted = tracking_id or request.GET.get("id", "")
    if wanted and tracking_id is None:
        normalised = normalise_tracking_id(wanted)
        if normalised:
            return redirect("report-track", tracking_id=normalised)
    report = report_by_tracking_id(wanted) if wanted else None
    context = {"tenant": request.tenant, "searched": wanted, "report": report}
    if report is not None:
        context.update(report_public_history(report))
    return render(request, "reports/track.html", context, status=200 if report or not wanted else 404)


def report_photo(request: HttpRequest, tracking_id: str) -> FileResponse:
    report = report_by_tracking_id(tracking_id)
    if report is None or not report.photo:
        raise Http404
    return FileResponse(report.photo.open("rb"), content_type=None)




def report_unsubscribe_view(request: HttpRequest, tracking_id: str, token: str) -> HttpResponse:
    done = report_unsubscribe(tracking_id=tracking_id, token=token)
    return render(request, "reports/unsubscribed.html", {"tenant": request.tenant, "done": done}, status=200 if done else 404)
