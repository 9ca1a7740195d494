"""The staff console's SLA pages: policies (editing makes a new version), the business
calendar, pause reasons, read-only metrics with a summary chart, and the SLA columns,
filters, deadlines and pause/resume buttons of the issue pages. Then scores: settings,
the history of runs with the accountability dashboard, rules (edits are versions) and
their flags."""
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from analytics.models import (
    BusinessCalendar,
    Flag,
    Holiday,
    OpeningHours,
    PauseReason,
    Rule,
    RuleVersion,
    ScoreRun,
    ScoreSettings,
    SlaMetric,
    SlaPolicy,
    SlaState,
)
from analytics.selectors import issue_paused_seconds, sla_met_share_by_category
from analytics.services import (
    calendar_materialise,
    issue_pause,
    issue_resume,
    rule_revise,
    sla_policy_create,
    sla_policy_revise,
)
from analytics.views import staff_dashboard
from civicpulse.core.admin import ReadOnlyTenantAdmin, TenantAdmin
from civicpulse.core.charts import stacked_bars_svg
from issues.admin import IssueAdmin
from issues.models import Issue


def duration(seconds: float | None) -> str:
    """`3 h 20 min`, `2 d 4 h`, `−1 h 5 min` for overdue."""
    if seconds is None:
        return "—"
    sign = "−" if seconds < 0 else ""
    minutes = int(abs(seconds) // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{sign}{days} d {hours} h"
    return f"{sign}{hours} h {mins} min"


# ---------------------------------------------------------------------------
# Policies


class CurrentVersionFilter(admin.SimpleListFilter):
    title = "version"
    parameter_name = "versions"

    def lookups(self, request: HttpRequest, model_admin: object) -> list[tuple[str, str]]:
        return [("all", "All versions")]

    def choices(self, changelist: object):  # noqa: ANN201 - the admin's generator of links
        yield {"selected": self.value() is None, "query_string": changelist.get_query_string(remove=[self.parameter_name]),
               "display": "Current"}
        yield {"selected": self.value() == "all", "query_string": changelist.get_query_string({self.parameter_name: "all"}),
               "display": "All versions"}

    def queryset(self, request: HttpRequest, queryset: QuerySet[SlaPolicy]) -> QuerySet[SlaPolicy]:
        return queryset if self.value() == "all" else queryset.filter(superseded_at=None)


@admin.register(SlaPolicy)
class SlaPolicyAdmin(TenantAdmin):
    list_display = ("__str__", "category", "severity", "acknowledge_hours", "resolve_hours", "clock", "version",
                    "effective_from", "superseded_at")
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
            changes = {f: form.cleaned_data[f] for f in ("acknowledge_hours", "resolve_hours", "clock")
                       if f in form.changed_data}
            new = sla_policy_revise(policy_id=obj.pk, actor=request.user, **changes)
            if new.pk != obj.pk:
                self.message_user(request, f"Saved as version {new.version}; metrics measured with "
                                           f"version {obj.version} keep it.", messages.INFO)
            obj.pk = new.pk
        else:
            new = sla_policy_create(
                category=obj.category, severity=obj.severity, acknowledge_hours=obj.acknowledge_hours,
                resolve_hours=obj.resolve_hours, clock=obj.clock, actor=request.user,
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
            if any(a[1] > b[0] for a, b in zip(spans, spans[1:])):
                raise ValidationError(f"Opening hours of {OpeningHours(weekday=weekday).get_weekday_display()} overlap.")


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
    list_display = ("issue_id", "category", "severity", "resolved_at", "ack_hours", "ack_met", "resolve_hours",
                    "resolve_met", "paused_hours", "policy")
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
        cl = getattr(response, "context_data", {}).get("cl") if hasattr(response, "context_data") else None
        if cl is not None:
            rows = sla_met_share_by_category(cl.queryset)
            response.context_data["summary"] = [
                {**row, "share": row["met"] / (row["met"] + row["missed"]) if row["met"] + row["missed"] else None}
                for row in rows
            ]
            response.context_data["summary_chart"] = stacked_bars_svg(
                [(row["category__name"] or "No category", [row["met"], row["missed"]]) for row in rows],
                ["met", "missed"], title="Resolution target met and missed, per category",
            )
        return response

# ---------------------------------------------------------------------------
# The issue pages


class SlaStateFilter(admin.SimpleListFilter):
    title = "SLA"
    parameter_name = "sla"

    def lookups(self, request: HttpRequest, model_admin: object) -> list[tuple[str, str]]:
        return [*SlaState.choices, ("paused", "Paused")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Issue]) -> QuerySet[Issue]:
        if self.value() == "paused":
            return queryset.filter(sla__paused=True)
        if self.value() in SlaState.values:
            return queryset.filter(sla__state=self.value())
        return queryset


class TimeLeftFilter(admin.SimpleListFilter):
    title = "time left"
    parameter_name = "sla_due"
    BANDS = {"overdue": (None, 0), "4h": (0, 4), "24h": (4, 24), "later": (24, None)}

    def lookups(self, request: HttpRequest, model_admin: object) -> list[tuple[str, str]]:
        return [("overdue", "Overdue"), ("4h", "Due within 4 h"), ("24h", "Due in 4 to 24 h"), ("later", "Due later")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Issue]) -> QuerySet[Issue]:
        if self.value() not in self.BANDS:
            return queryset
        low, high = self.BANDS[self.value()]
        now = timezone.now()
        if low is not None:
            queryset = queryset.filter(sla__next_due_at__gte=now + timedelta(hours=low))
        if high is not None:
            queryset = queryset.filter(sla__next_due_at__lt=now + timedelta(hours=high))
        return queryset


class SlaIssueAdmin(IssueAdmin):
    """The issue pages with SLA state: composed here, so `issues` never imports `analytics`."""

    list_display = (*IssueAdmin.list_display, "sla_state", "time_left")
    list_filter = (*IssueAdmin.list_filter, SlaStateFilter, TimeLeftFilter)
    fields = (*IssueAdmin.fields, "sla_summary")
    readonly_fields = (*IssueAdmin.readonly_fields, "sla_summary")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Issue]:
        # Prefetched for the page only, like the other related rows (see IssueAdmin).
        return super().get_queryset(request).prefetch_related("sla")

    def get_urls(self) -> list:
        return [
            path("<int:issue_id>/sla/pause/", self.admin_site.admin_view(self.pause_view), name="issues_issue_sla_pause"),
            path("<int:issue_id>/sla/resume/", self.admin_site.admin_view(self.resume_view),
                 name="issues_issue_sla_resume"),
            *super().get_urls(),
        ]

    @staticmethod
    def _sla(issue: Issue):  # noqa: ANN205 - IssueSla or None
        try:
            return issue.sla
        except Issue.sla.RelatedObjectDoesNotExist:
            return None

    @admin.display(description="SLA")
    def sla_state(self, issue: Issue) -> str:
        sla = self._sla(issue)
        if sla is None:
            return "—"
        colour = {"on_track": "#0b6e4f", "at_risk": "#b7791f", "breached": "#c0392b"}[sla.state]
        return format_html('<span style="color:{}">{}</span>{}', colour, sla.get_state_display(),
                           " (paused)" if sla.paused else "")

    @admin.display(description="time left", ordering="sla__next_due_at")
    def time_left(self, issue: Issue) -> str:
        sla = self._sla(issue)
        if sla is None or sla.next_due_at is None:
            return "—"
        return duration((sla.next_due_at - timezone.now()).total_seconds())

    @admin.display(description="SLA")
    def sla_summary(self, issue: Issue) -> str:
        """Deadlines, shares used and paused time, with the pause and resume buttons
        (buttons of the page's form pointed at their own URL, so no form is nested)."""
        sla = self._sla(issue)
        now = timezone.now()
        paused_s = issue_paused_seconds(issue=issue, now=now)
        open_pause = issue.sla_pauses.filter(ended_at=None).select_related("reason").first()
        if sla is None:
            lines = format_html("<p>{}</p>", "Not evaluated yet, or no longer open (see the SLA metrics).")
        else:
            lines = format_html(
                "<p>{} — policy {} (v{}, {})</p><table><tr><th></th><th>due</th><th>used</th></tr>{}</table>",
                sla.get_state_display(), sla.policy, sla.policy.version, sla.policy.get_clock_display().lower(),
                format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}%</td></tr>", [
                    ("Acknowledge", timezone.localtime(sla.ack_due_at).strftime("%Y-%m-%d %H:%M") if sla.ack_due_at else "—",
                     round(sla.ack_used * 100)),
                    ("Resolve", timezone.localtime(sla.resolve_due_at).strftime("%Y-%m-%d %H:%M")
                     if sla.resolve_due_at else "—", round(sla.resolve_used * 100)),
                ]),
            )
        paused = format_html("<p>Paused so far: {}{}</p>", duration(paused_s),
                             f" — paused now: {open_pause.reason}" if open_pause else "")
        if open_pause:
            button = format_html(
                '<button type="submit" formaction="{}" formmethod="post" name="_sla" value="resume">Resume the clock</button>',
                reverse("admin:issues_issue_sla_resume", args=[issue.pk]),
            )
        elif sla is not None:
            options = format_html_join("", '<option value="{}">{}</option>',
                                       PauseReason.objects.filter(active=True).values_list("pk", "name"))
            button = format_html(
                '<select name="pause_reason" aria-label="pause reason">{}</select> '
                '<button type="submit" formaction="{}" formmethod="post" name="_sla" value="pause">Pause the clock</button>',
                options, reverse("admin:issues_issue_sla_pause", args=[issue.pk]),
            )
        else:
            button = ""
        return format_html("{}{}{}", lines, paused, button)

    def _act(self, request: HttpRequest, issue_id: int, act) -> HttpResponse:  # noqa: ANN001 - a callable
        issue = get_object_or_404(Issue, pk=issue_id)
        if request.method != "POST" or not self.has_change_permission(request, issue):
            raise PermissionDenied
        try:
            message = act(issue)
        except (ValidationError, PauseReason.DoesNotExist, ValueError) as exc:
            self.message_user(request, " ".join(getattr(exc, "messages", [str(exc)])), messages.ERROR)
        else:
            self.message_user(request, message, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:issues_issue_change", args=[issue.pk]))

    def pause_view(self, request: HttpRequest, issue_id: int) -> HttpResponse:
        def act(issue: Issue) -> str:
            reason = PauseReason.objects.get(pk=int(request.POST.get("pause_reason", "")))
            issue_pause(issue_id=issue.pk, reason=reason, actor=request.user)
            return f"Clock paused: {reason}."

        return self._act(request, issue_id, act)

    def resume_view(self, request: HttpRequest, issue_id: int) -> HttpResponse:
        def act(issue: Issue) -> str:
            pause = issue_resume(issue_id=issue.pk, actor=request.user)
            return f"Clock running again after {duration((pause.ended_at - pause.started_at).total_seconds())}."

        return self._act(request, issue_id, act)


admin.site.unregister(Issue)
admin.site.register(Issue, SlaIssueAdmin)


# ---------------------------------------------------------------------------
# Scores, rules, flags and the dashboard


@admin.register(ScoreSettings)
class ScoreSettingsAdmin(TenantAdmin):
    list_display = ("__str__", "compliance_weight", "speed_weight", "min_resolved", "window_days", "public_rankings")
    readonly_fields = ("speed_weight",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # one per tenant, installed with it

    def has_delete_permission(self, request: HttpRequest, obj: ScoreSettings | None = None) -> bool:
        return False


@admin.register(ScoreRun)
class ScoreRunAdmin(TenantAdmin):
    """The history of computations (read-only), and the staff dashboard under it."""

    list_display = ("window_end", "window_start", "compliance_weight", "min_resolved", "duration_ms")
    date_hierarchy = "window_end"
    change_list_template = "admin/analytics/scorerun/change_list.html"

    def get_urls(self) -> list:
        return [
            path("dashboard/", self.admin_site.admin_view(self.dashboard_view), name="analytics_dashboard"),
            *super().get_urls(),
        ]

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return staff_dashboard(request, self.admin_site.each_context(request))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ScoreRun | None = None) -> bool:
        return False


class RuleVersionInline(admin.TabularInline):
    model = RuleVersion
    fields = ("version", "params", "weight", "active", "created_at", "created_by")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Rule | None = None) -> bool:
        return False


@admin.register(Rule)
class RuleAdmin(TenantAdmin):
    list_display = ("code", "concern", "params", "weight", "active", "version", "updated_at")
    list_filter = ("active", "concern")
    readonly_fields = ("code", "concern", "version", "updated_at")
    fields = ("code", "concern", "description", "params", "weight", "active", "version", "updated_at")
    inlines = [RuleVersionInline]

    def save_model(self, request: HttpRequest, obj: Rule, form: forms.ModelForm, change: bool) -> None:
        # Through the service: a changed threshold, weight or activity is a new version.
        changes = {f: form.cleaned_data[f] for f in ("description", "params", "weight", "active")
                   if f in form.changed_data}
        before = obj.version
        rule = rule_revise(rule_id=obj.pk, actor=request.user, **changes)
        if rule.version != before:
            self.message_user(request, f"Saved as version {rule.version}; flags raised by version {before} keep it "
                                       "and are cleared at the next evaluation.", messages.INFO)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a rule is a SQL view; its row only tunes it

    def has_delete_permission(self, request: HttpRequest, obj: Rule | None = None) -> bool:
        return False  # flags point at it; deactivate it instead


@admin.register(Flag)
class FlagAdmin(ReadOnlyTenantAdmin):
    list_display = ("rule", "rule_version", "subject", "area", "category", "issue_link", "support", "weight",
                    "first_seen_at", "last_seen_at", "cleared_at")
    list_filter = (("cleared_at", admin.EmptyFieldListFilter), "rule", "area", "category")
    list_select_related = ("rule", "area", "category")

    @admin.display(description="issue")
    def issue_link(self, flag: Flag) -> str:
        if not flag.issue_id:
            return "—"
        return format_html('<a href="{}">#{}</a>', reverse("admin:issues_issue_change", args=[flag.issue_id]),
                           flag.issue_id)

# Location reports and the issue page's button (registered on import).
from analytics import admin_location_reports  # noqa: E402,F401


