"""The staff console's SLA pages: policies (editing makes a new version), the business
calendar, pause reasons, and read-only metrics with a summary chart. The SLA columns,
filters and buttons of the issue pages: analytics/sla/issue_admin.py."""

from collections.abc import Iterator
from typing import TYPE_CHECKING

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from analytics.sla.models import BusinessCalendar, Holiday, OpeningHours, PauseReason, SlaMetric, SlaPolicy
from analytics.sla.selectors import sla_met_share_by_category
from analytics.sla.services.calendar import calendar_materialise
from analytics.sla.services.policies import sla_policy_create, sla_policy_revise
from civicpulse.core.admin import ReadOnlyTenantAdmin, TenantAdmin, acting_user
from civicpulse.core.charts import stacked_bars_svg

if TYPE_CHECKING:
    from django.contrib.admin.filters import _ListFilterChoices

# ---------------------------------------------------------------------------
# Policies


class CurrentVersionFilter(admin.SimpleListFilter):
    title = "version"
    parameter_name = "versions"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("all", "All versions")]

    def choices(self, changelist: ChangeList) -> Iterator["_ListFilterChoices"]:
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Current",
        }
        yield {
            "selected": self.value() == "all",
            "query_string": changelist.get_query_string({self.parameter_name: "all"}),
            "display": "All versions",
        }

    def queryset(self, request: HttpRequest, queryset: QuerySet[SlaPolicy]) -> QuerySet[SlaPolicy]:
        return queryset if self.value() == "all" else queryset.filter(superseded_at=None)


@admin.register(SlaPolicy)
class SlaPolicyAdmin(TenantAdmin):
    list_display = (
        "__str__",
        "category",
        "severity",
        "acknowledge_hours",
        "resolve_hours",
        "clock",
        "version",
        "effective_from",
        "superseded_at",
    )
    list_filter = (CurrentVersionFilter, "severity", "clock", "category")
    list_select_related = ("category",)
    readonly_fields = ("version", "effective_from", "superseded_at", "created_by")

    def get_readonly_fields(self, request: HttpRequest, obj: SlaPolicy | None = None) -> tuple[str, ...]:
        if obj is None:
            return self.readonly_fields
        # A version never changes scope; a superseded one never changes at all.
        scope = ("category", "severity")
        if obj.superseded_at is not None:
            return (*scope, "acknowledge_hours", "resolve_hours", "clock", *self.readonly_fields)
        return (*scope, *self.readonly_fields)

    def save_model(self, request: HttpRequest, obj: SlaPolicy, form: forms.ModelForm, change: bool) -> None:
        # Through the services: an edit supersedes this version with the next one.
        if change:
            changes = {
                f: form.cleaned_data[f]
                for f in ("acknowledge_hours", "resolve_hours", "clock")
                if f in form.changed_data
            }
            new = sla_policy_revise(policy_id=obj.pk, actor=acting_user(request), **changes)
            if new.pk != obj.pk:
                self.message_user(
                    request,
                    f"Saved as version {new.version}; metrics measured with version {obj.version} keep it.",
                    messages.INFO,
                )
            obj.pk = new.pk
        else:
            new = sla_policy_create(
                category=obj.category,
                severity=obj.severity,
                acknowledge_hours=obj.acknowledge_hours,
                resolve_hours=obj.resolve_hours,
                clock=obj.clock,
                actor=acting_user(request),
            )
            obj.pk = new.pk

    def has_delete_permission(self, request: HttpRequest, obj: SlaPolicy | None = None) -> bool:
        return False  # metrics point at their version


# ---------------------------------------------------------------------------
# Calendar and pause reasons


class OpeningHoursFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        super().clean()
        by_day: dict[int, list[tuple[float, float]]] = {}
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or data.get("opens") is None or data.get("closes") is None:
                continue
            opens = data["opens"].hour * 60 + data["opens"].minute
            closes = data["closes"].hour * 60 + data["closes"].minute or 24 * 60
            by_day.setdefault(data["weekday"], []).append((opens, closes))
        for weekday, spans in by_day.items():
            spans.sort()
            if any(a[1] > b[0] for a, b in zip(spans, spans[1:], strict=False)):
                raise ValidationError(
                    f"Opening hours of {OpeningHours(weekday=weekday).get_weekday_display()} overlap."
                )


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    formset = OpeningHoursFormSet
    extra = 0


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 1


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(TenantAdmin):
    list_display = ("name", "materialised_timezone", "horizon_start", "horizon_end")
    readonly_fields = ("materialised_timezone", "horizon_start", "horizon_end")
    inlines = [OpeningHoursInline, HolidayInline]

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: list, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # Deadlines of open issues follow at the next evaluation pass.
        intervals = calendar_materialise()
        self.message_user(request, f"Calendar rebuilt: {intervals} working intervals.", messages.INFO)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # One per tenant, installed with it (and by the migration for older tenants).
        return False

    def has_delete_permission(self, request: HttpRequest, obj: BusinessCalendar | None = None) -> bool:
        return False


@admin.register(PauseReason)
class PauseReasonAdmin(TenantAdmin):
    list_display = ("name", "code", "active")
    list_filter = ("active",)

    def has_delete_permission(self, request: HttpRequest, obj: PauseReason | None = None) -> bool:
        return False  # pauses keep their reason; make it inactive instead


# ---------------------------------------------------------------------------
# Metrics


@admin.register(SlaMetric)
class SlaMetricAdmin(ReadOnlyTenantAdmin):
    list_display = (
        "issue_id",
        "category",
        "severity",
        "resolved_at",
        "ack_hours",
        "ack_met",
        "resolve_hours",
        "resolve_met",
        "paused_hours",
        "policy",
    )
    list_filter = ("resolve_met", "ack_met", "severity", "clock", "category")
    list_select_related = ("category", "policy", "policy__category")
    date_hierarchy = "resolved_at"
    change_list_template = "admin/analytics/slametric/change_list.html"

    @admin.display(description="to acknowledge (h)")
    def ack_hours(self, metric: SlaMetric) -> str:
        return f"{metric.ack_seconds / 3600:.1f} / {metric.ack_target_seconds / 3600:g}"

    @admin.display(description="to resolve (h)")
    def resolve_hours(self, metric: SlaMetric) -> str:
        return f"{metric.resolve_seconds / 3600:.1f} / {metric.resolve_target_seconds / 3600:g}"

    @admin.display(description="paused (h)")
    def paused_hours(self, metric: SlaMetric) -> str:
        return f"{metric.paused_seconds / 3600:.1f}"

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        # A redirect (a stale filter in the URL) has no change list to summarise.
        if not isinstance(response, TemplateResponse) or not (response.context_data or {}).get("cl"):
            return response
        assert response.context_data is not None
        rows = sla_met_share_by_category(response.context_data["cl"].queryset)
        response.context_data["summary"] = [
            {
                **row,
                "share": row["met"] / (row["met"] + row["missed"]) if row["met"] + row["missed"] else None,
            }
            for row in rows
        ]
        response.context_data["summary_chart"] = stacked_bars_svg(
            [(row["category__name"] or "No category", [row["met"], row["missed"]]) for row in rows],
            ["met", "missed"],
            title="Resolution target met and missed, per category",
        )
        return response
