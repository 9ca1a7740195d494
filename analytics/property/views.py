"""The analysts' pages: sign up, sign in, dashboard, search → lookup result → report (and
its PDF), account. Server-rendered; the address autocomplete is the only script and the
search works without it. Staff signed in to the console may use them too."""

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from analytics.property.accounts import analyst_accounts_open, analyst_register, property_enabled
from analytics.property.api import pdf_response
from analytics.property.forms import SearchForm, SignInForm, SignUpForm
from analytics.property.lookup import property_lookup
from analytics.property.pdf import property_report_context
from analytics.property.selectors import analyst_of, is_analyst, property_report_for, property_reports_mine
from analytics.property.services import property_report_create
from civicpulse.core.ratelimit import rate_limit_hit
from tenants.selectors import current_tenant

RECENT = 10

View = Callable[..., HttpResponse]


def _allowed(user: object) -> bool:
    if not isinstance(user, User) or not user.is_active:
        return False
    return user.is_staff or (analyst_accounts_open() and is_analyst(user))


def property_page(view: View) -> View:
    """City tenants only; signed-in analysts (where allowed) and staff, else the sign-in page."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not property_enabled():
            raise Http404("Property search exists on city tenants only.")
        if not _allowed(request.user):
            return redirect(f"{reverse('property-signin')}?next={request.get_full_path()}")
        return view(request, *args, **kwargs)

    return wrapped


def _accounts_page() -> None:
    if not analyst_accounts_open():
        raise Http404("This place does not accept analyst accounts.")


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    # Only a path on this host: never an address elsewhere ("//evil", "/\\evil" included).
    safe = target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}
    )
    return target if safe else reverse("property-dashboard")


def signup(request: HttpRequest) -> HttpResponse:
    _accounts_page()
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = analyst_register(**form.cleaned_data)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                for message in messages:
                    form.add_error(field if field in form.fields else None, message)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("property-dashboard")
    return render(request, "property/signup.html", {"form": form, "tenant": current_tenant()})


def signin(request: HttpRequest) -> HttpResponse:
    if not property_enabled():
        raise Http404
    form = SignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        name = form.cleaned_data["login"].strip()
        if "@" in name:
            name = (
                User.objects.filter(email__iexact=name)
                .order_by("pk")
                .values_list("username", flat=True)
                .first()
                or name
            )
        user = authenticate(request, username=name, password=form.cleaned_data["password"])
        if _allowed(user):
            assert isinstance(user, User)
            login(request, user)
            return redirect(_next(request))
        form.add_error(None, "These credentials do not open an analyst account here.")
    return render(
        request,
        "property/signin.html",
        {
            "form": form,
            "tenant": current_tenant(),
            "next": _next(request),
            "can_sign_up": analyst_accounts_open(),
        },
    )


@require_POST
def signout(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("property-signin")


@property_page
def dashboard(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    mine = property_reports_mine(user=request.user).select_related("location")
    return render(
        request,
        "property/dashboard.html",
        {"tenant": current_tenant(), "recent": mine[:RECENT], "count": mine.count(), "form": SearchForm()},
    )


@property_page
def search(request: HttpRequest) -> HttpResponse:
    """The lookup's answer for the query: the location found with its confidence and a
    button to generate its report, or NO_MATCH with the warning."""
    form = SearchForm(request.GET or None)
    lookup = None
    if request.GET and form.is_valid():
        query = form.query()
        lookup = property_lookup(
            pin=query.get("pin", ""),
            address=query.get("address", ""),
            latitude=query.get("latitude"),
            longitude=query.get("longitude"),
        )
    return render(
        request, "property/search.html", {"tenant": current_tenant(), "form": form, "lookup": lookup}
    )


@property_page
@require_POST
def report_new(request: HttpRequest) -> HttpResponse:
    """Generate the report of the query the lookup page shows (looked up again, so the
    stored match confidence is the lookup's own)."""
    assert isinstance(request.user, User)
    hit = rate_limit_hit(
        f"user:{request.user.pk}",
        limit=settings.PROPERTY_REPORT_CREATE_PER_HOUR,
        window_s=3600,
        scope="property-report",
    )
    if hit.wait is not None:
        response = HttpResponse(
            "Too many reports this hour: try again later.", status=429, content_type="text/plain"
        )
        response["Retry-After"] = str(int(hit.wait) + 1)
        return response
    form = SearchForm(request.POST)
    if not form.is_valid():
        return render(request, "property/search.html", {"tenant": current_tenant(), "form": form}, status=400)
    query = form.query()
    lookup = property_lookup(
        pin=query.get("pin", ""),
        address=query.get("address", ""),
        latitude=query.get("latitude"),
        longitude=query.get("longitude"),
    )
    if not lookup.resolved:
        return render(
            request,
            "property/search.html",
            {"tenant": current_tenant(), "form": form, "lookup": lookup},
            status=404,
        )
    report = property_report_create(lookup=lookup, query=query, actor=request.user)
    return redirect("property-report", report_id=report.pk)


@property_page
def report(request: HttpRequest, report_id: int) -> HttpResponse:
    assert isinstance(request.user, User)
    found = property_report_for(report_id=report_id, user=request.user)
    if found is None:
        raise Http404("No such report, or not yours.")
    context = property_report_context(found.body)
    pdf_url = reverse("property-report-pdf", args=[found.pk])
    return render(
        request, "property/report.html", {"tenant": current_tenant(), "pdf_url": pdf_url, **context}
    )


@property_page
def report_pdf(request: HttpRequest, report_id: int) -> HttpResponse:
    assert isinstance(request.user, User)
    found = property_report_for(report_id=report_id, user=request.user)
    if found is None:
        raise Http404("No such report, or not yours.")
    return pdf_response(found)


@property_page
def account(request: HttpRequest) -> HttpResponse:
    assert isinstance(request.user, User)
    return render(
        request,
        "property/account.html",
        {
            "tenant": current_tenant(),
            "analyst": analyst_of(request.user),
            "count": property_reports_mine(user=request.user).count(),
        },
    )
