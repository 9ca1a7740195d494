"""The staff console's property search (the analysts' search, inside the console) and
the stored property reports, read-only with their PDF. City tenants only."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from analytics.property.accounts import property_enabled
from analytics.property.api import pdf_response
from analytics.property.forms import SearchForm
from analytics.property.lookup import property_lookup
from analytics.property.models import Analyst, PropertyReport
from analytics.property.pdf import property_report_context
from analytics.property.services import property_report_create
from civicpulse.core.admin import ReadOnlyTenantAdmin, TenantAdmin, acting_user, on_public_schema

PROPERTY_REPORT_GENERATE = "analytics.add_propertyreport"


def _city() -> bool:
    return not on_public_schema() and property_enabled()


@admin.register(PropertyReport)
class PropertyReportAdmin(ReadOnlyTenantAdmin):
    """Stored reports are the record of what was said: read-only, and kept. The list
    links to the property search."""

    list_display = ("id", "created_at", "requested_by_label", "location", "match_confidence", "score", "tier")
    list_filter = ("match_confidence", "tier")
    list_select_related = ("location",)
    fields = ("created_at", "requested_by_label", "query", "match_confidence", "score", "tier", "report")
    readonly_fields = fields
    change_list_template = "admin/property/change_list.html"

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _city() and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: PropertyReport | None = None) -> bool:
        return _city() and super().has_view_permission(request, obj)

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("search/", view(self.search_view), name="analytics_propertyreport_search"),
            path(
                "search/report/",
                view(require_POST(self.generate_view)),
                name="analytics_propertyreport_generate",
            ),
            path("<int:report_id>/pdf/", view(self.pdf_view), name="analytics_propertyreport_pdf"),
            *super().get_urls(),
        ]

    def _page(
        self, request: HttpRequest, template: str, context: dict, status: int = 200
    ) -> TemplateResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return TemplateResponse(
            request,
            template,
            {**self.admin_site.each_context(request), "opts": self.model._meta, **context},
            status=status,
        )

    def search_view(self, request: HttpRequest) -> HttpResponse:
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
        return self._page(
            request,
            "admin/property/search.html",
            {"title": "Property search", "form": form, "lookup": lookup},
        )

    def generate_view(self, request: HttpRequest) -> HttpResponse:
        # Generating writes a stored report (and may call the model): looking is not enough.
        if not self.has_view_permission(request) or not request.user.has_perm(PROPERTY_REPORT_GENERATE):
            raise PermissionDenied
        form = SearchForm(request.POST)
        if not form.is_valid():
            return self._page(
                request, "admin/property/search.html", {"title": "Property search", "form": form}, status=400
            )
        query = form.query()
        lookup = property_lookup(
            pin=query.get("pin", ""),
            address=query.get("address", ""),
            latitude=query.get("latitude"),
            longitude=query.get("longitude"),
        )
        if not lookup.resolved:
            context = {"title": "Property search", "form": form, "lookup": lookup}
            return self._page(request, "admin/property/search.html", context, status=404)
        report = property_report_create(lookup=lookup, query=query, actor=acting_user(request))
        return redirect("admin:analytics_propertyreport_change", report.pk)

    def pdf_view(self, request: HttpRequest, report_id: int) -> HttpResponse:
        report = get_object_or_404(PropertyReport, pk=report_id)
        if not self.has_view_permission(request, report):
            raise PermissionDenied
        return pdf_response(report)

    @admin.display(description="report")
    def report(self, report: PropertyReport) -> str:
        context = {
            **property_report_context(report.body),
            "pdf_url": reverse("admin:analytics_propertyreport_pdf", args=[report.pk]),
        }
        return format_html(
            "{}{}",
            render_to_string("property/_report_style.html"),
            render_to_string("property/_report_body.html", context),
        )


@admin.register(Analyst)
class AnalystAdmin(TenantAdmin):
    """Who has registered as an analyst. Their user is never staff; deactivating the user
    ends their access."""

    list_display = ("full_name", "user", "organisation", "created_at")
    search_fields = ("full_name", "user__email", "organisation")
    readonly_fields = ("user", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _city() and super().has_module_permission(request)
