"""The SLA part of the staff console's issue pages: the SLA state and time-left columns,
their filters, the deadlines on the issue page with the pause and resume buttons, and
their views. A mixin that registers nothing: civicpulse/admin.py composes it with the
issue admin, so `issues` never imports `analytics`."""

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from analytics.sla.models import IssueSla, PauseReason, SlaState
from analytics.sla.selectors import issue_paused_seconds
from analytics.sla.services.pauses import issue_pause, issue_resume
from civicpulse.core.admin import acting_user
from issues.models import Issue

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

    _IssueAdminBase = ModelAdmin[Issue]
else:
    _IssueAdminBase = object  # a mixin: the issue admin it is composed with comes after it


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


class SlaStateFilter(admin.SimpleListFilter):
    title = "SLA"
    parameter_name = "sla"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
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

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [
            ("overdue", "Overdue"),
            ("4h", "Due within 4 h"),
            ("24h", "Due in 4 to 24 h"),
            ("later", "Due later"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Issue]) -> QuerySet[Issue]:
        value = self.value()
        if value is None or value not in self.BANDS:
            return queryset
        low, high = self.BANDS[value]
        now = timezone.now()
        if low is not None:
            queryset = queryset.filter(sla__next_due_at__gte=now + timedelta(hours=low))
        if high is not None:
            queryset = queryset.filter(sla__next_due_at__lt=now + timedelta(hours=high))
        return queryset


class SlaIssueAdminMixin(_IssueAdminBase):
    """Adds to the issue admin it is mixed into (cooperating through super()): the SLA
    columns and filters of the list, the SLA summary of the issue page, the prefetch of
    SLA states, and the pause and resume URLs."""

    def get_list_display(self, request: HttpRequest) -> tuple:
        return (*super().get_list_display(request), "sla_state", "time_left")

    def get_list_filter(self, request: HttpRequest) -> tuple:
        return (*super().get_list_filter(request), SlaStateFilter, TimeLeftFilter)

    def get_fields(self, request: HttpRequest, obj: Issue | None = None) -> tuple:
        return (*super().get_fields(request, obj), "sla_summary")

    def get_readonly_fields(self, request: HttpRequest, obj: Issue | None = None) -> tuple:
        return (*super().get_readonly_fields(request, obj), "sla_summary")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Issue]:
        # Prefetched for the page only, like the other related rows (see IssueAdmin).
        return super().get_queryset(request).prefetch_related("sla")

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:issue_id>/sla/pause/",
                self.admin_site.admin_view(self.pause_view),
                name="issues_issue_sla_pause",
            ),
            path(
                "<int:issue_id>/sla/resume/",
                self.admin_site.admin_view(self.resume_view),
                name="issues_issue_sla_resume",
            ),
            *super().get_urls(),
        ]

    @staticmethod
    def _sla(issue: Issue) -> IssueSla | None:
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
        return format_html(
            '<span style="color:{}">{}</span>{}',
            colour,
            sla.get_state_display(),
            " (paused)" if sla.paused else "",
        )

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
                sla.get_state_display(),
                sla.policy,
                sla.policy.version,
                sla.policy.get_clock_display().lower(),
                format_html_join(
                    "",
                    "<tr><td>{}</td><td>{}</td><td>{}%</td></tr>",
                    [
                        (
                            "Acknowledge",
                            timezone.localtime(sla.ack_due_at).strftime("%Y-%m-%d %H:%M")
                            if sla.ack_due_at
                            else "—",
                            round(sla.ack_used * 100),
                        ),
                        (
                            "Resolve",
                            timezone.localtime(sla.resolve_due_at).strftime("%Y-%m-%d %H:%M")
                            if sla.resolve_due_at
                            else "—",
                            round(sla.resolve_used * 100),
                        ),
                    ],
                ),
            )
        paused = format_html(
            "<p>Paused so far: {}{}</p>",
            duration(paused_s),
            f" — paused now: {open_pause.reason}" if open_pause else "",
        )
        button: str
        if open_pause:
            button = format_html(
                '<button type="submit" formaction="{}" formmethod="post" name="_sla" value="resume">Resume the clock</button>',
                reverse("admin:issues_issue_sla_resume", args=[issue.pk]),
            )
        elif sla is not None:
            options = format_html_join(
                "",
                '<option value="{}">{}</option>',
                PauseReason.objects.filter(active=True).values_list("pk", "name"),
            )
            button = format_html(
                '<select name="pause_reason" aria-label="pause reason">{}</select> '
                '<button type="submit" formaction="{}" formmethod="post" name="_sla" value="pause">Pause the clock</button>',
                options,
                reverse("admin:issues_issue_sla_pause", args=[issue.pk]),
            )
        else:
            button = ""
        return format_html("{}{}{}", lines, paused, button)

    def _act(self, request: HttpRequest, issue_id: int, act: Callable[[Issue], str]) -> HttpResponse:
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
            issue_pause(issue_id=issue.pk, reason=reason, actor=acting_user(request))
            return f"Clock paused: {reason}."

        return self._act(request, issue_id, act)

    def resume_view(self, request: HttpRequest, issue_id: int) -> HttpResponse:
        def act(issue: Issue) -> str:
            pause = issue_resume(issue_id=issue.pk, actor=acting_user(request))
            assert pause.ended_at is not None  # the service has just ended it
            return (
                f"Clock running again after {duration((pause.ended_at - pause.started_at).total_seconds())}."
            )

        return self._act(request, issue_id, act)
