"""The staff console's rules (an edit of what a rule checks is a new version, kept with
its history) and the flags they raised (read-only)."""

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from analytics.rules.models import Flag, Rule, RuleVersion
from analytics.rules.services import rule_revise
from civicpulse.core.admin import ReadOnlyTenantAdmin, TenantAdmin, acting_user


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
        changes = {
            f: form.cleaned_data[f]
            for f in ("description", "params", "weight", "active")
            if f in form.changed_data
        }
        before = obj.version
        rule = rule_revise(rule_id=obj.pk, actor=acting_user(request), **changes)
        if rule.version != before:
            self.message_user(
                request,
                f"Saved as version {rule.version}; flags raised by version {before} keep it "
                "and are cleared at the next evaluation.",
                messages.INFO,
            )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a rule is SQL (analytics/rules/sql/); its row only tunes it

    def has_delete_permission(self, request: HttpRequest, obj: Rule | None = None) -> bool:
        return False  # flags point at it; deactivate it instead


@admin.register(Flag)
class FlagAdmin(ReadOnlyTenantAdmin):
    list_display = (
        "rule",
        "rule_version",
        "subject",
        "area",
        "category",
        "issue_link",
        "support",
        "weight",
        "first_seen_at",
        "last_seen_at",
        "cleared_at",
    )
    list_filter = (("cleared_at", admin.EmptyFieldListFilter), "rule", "area", "category")
    list_select_related = ("rule", "area", "category")

    @admin.display(description="issue")
    def issue_link(self, flag: Flag) -> str:
        if not flag.issue_id:
            return "—"
        return format_html(
            '<a href="{}">#{}</a>', reverse("admin:issues_issue_change", args=[flag.issue_id]), flag.issue_id
        )
