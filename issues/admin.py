"""The staff console's taxonomy and issue pages. `IssueAdmin` is the issue pages' base:
what the issue itself holds (fields, notes, trail, workflow actions). The pieces that need
other apps (its reports, merging, undo; SLA; location reports) are mixins of those apps,
composed with it and registered once in civicpulse/admin.py; the hooks they use are
Django's own (get_inlines, get_fields, get_actions, get_urls, get_search_results).
Areas and departments, retired rather than deleted: issues.admin_taxonomy."""

from datetime import timedelta
from typing import ClassVar

from django.contrib import admin, messages
from django.db.models import F, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.text import smart_split, unescape_string_literal

from civicpulse.core.admin import SETUP_CACHE_NOTE, EstimatedCountPaginator, TenantAdmin, acting_user
from issues.admin_taxonomy import AreaAdmin, DepartmentAdmin  # noqa: F401  (registers them)
from issues.models import (
    Category,
    Department,
    GroupingPolicy,
    Issue,
    IssueEvent,
    IssueNote,
    IssueStatus,
)
from issues.selectors import grouping_policy_get
from issues.services.workflow import (
    EDITABLE_FIELDS,
    TransitionError,
    issue_assign,
    issue_note_add,
    issue_transition,
    issue_update,
)


@admin.register(Category)
class CategoryAdmin(TenantAdmin):
    list_display = ("name", "code", "department", "default_severity", "active")
    list_filter = ("active", "default_severity", "department")
    list_select_related = ("department",)
    list_editable = ("active",)
    search_fields = ("name", "code", "description")
    filter_horizontal = ("related",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "name",
                    "code",
                    "description",
                    "keywords",
                    "default_severity",
                    "active",
                    "department",
                )
            },
        ),
        (
            "Grouping reports into issues",
            {
                "description": "Empty values follow the tenant's grouping policy. How the score is made: docs/grouping.md."
                + SETUP_CACHE_NOTE,
                "fields": (
                    "related",
                    ("group_radius_m", "group_window_hours", "group_min_similarity"),
                    ("group_borderline_low", "group_join_score", "group_borderline_high"),
                ),
            },
        ),
    )


@admin.register(GroupingPolicy)
class GroupingPolicyAdmin(TenantAdmin):
    """The tenant's one grouping policy: the values every category without its own uses."""

    list_display = (
        "__str__",
        "radius_m",
        "window_hours",
        "min_similarity",
        "borderline_low",
        "join_score",
        "borderline_high",
    )
    fieldsets = (
        (
            "Candidates",
            {"fields": ("radius_m", "window_hours", "min_similarity"), "description": SETUP_CACHE_NOTE},
        ),
        (
            "Score (0 to 1)",
            {
                "description": "A candidate's score combines text similarity, closeness, time gap and category "
                "relation. Below “borderline from” a report opens its own issue; from “borderline to” up "
                "it joins; in between, a language model (when configured) is asked, and without an "
                "answer the join score decides.",
                "fields": ("borderline_low", "join_score", "borderline_high"),
            },
        ),
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # provisioning makes the one row (and the list below, if it is missing)

    def has_delete_permission(self, request: HttpRequest, obj: GroupingPolicy | None = None) -> bool:
        return False  # grouping always has a policy; edit it instead

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        # One row per tenant: straight to it, saved with the defaults if it is missing.
        policy = grouping_policy_get()
        if policy._state.adding and self.has_change_permission(request):
            policy.save()
        return HttpResponseRedirect(reverse("admin:issues_groupingpolicy_change", args=[policy.pk]))


class MyDepartmentFilter(admin.SimpleListFilter):
    title = "department"
    parameter_name = "department_scope"

    def lookups(self, request: HttpRequest, model_admin: object) -> list[tuple[str, str]]:
        return [("mine", "My departments"), *((str(d.pk), d.name) for d in Department.objects.all())]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Issue]) -> QuerySet[Issue]:
        value = self.value()
        if value == "mine":
            return queryset.filter(department__members=acting_user(request))
        if value:
            return queryset.filter(department_id=value)
        return queryset


class AgeFilter(admin.SimpleListFilter):
    title = "age"
    parameter_name = "age"
    BANDS = {"1d": (None, 1), "1-7d": (1, 7), "7-30d": (7, 30), "30d+": (30, None)}

    def lookups(self, request: HttpRequest, model_admin: object) -> list[tuple[str, str]]:
        return [
            ("1d", "Under a day"),
            ("1-7d", "1 to 7 days"),
            ("7-30d", "7 to 30 days"),
            ("30d+", "Over 30 days"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Issue]) -> QuerySet[Issue]:
        value = self.value()
        if value is None or value not in self.BANDS:
            return queryset
        young, old = self.BANDS[value]
        now = timezone.now()
        if young is not None:
            queryset = queryset.filter(created_at__lte=now - timedelta(days=young))
        if old is not None:
            queryset = queryset.filter(created_at__gt=now - timedelta(days=old))
        return queryset


class IssueNoteInline(admin.StackedInline):
    """Notes are added here and never edited: what residents were told stays told."""

    model = IssueNote
    extra = 1
    fields = ("visibility", "body", "author", "created_at")
    readonly_fields = ("author", "created_at")

    def has_change_permission(self, request: HttpRequest, obj: Issue | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Issue | None = None) -> bool:
        return False


class IssueEventInline(admin.TabularInline):
    """The trail. The reports app's issue mixin shows it with an undo column instead
    (merges and moves are undone there)."""

    model = IssueEvent
    extra = 0
    can_delete = False
    fields: ClassVar[tuple[str, ...]] = ("created_at", "kind", "actor", "actor_label", "data")
    readonly_fields: ClassVar[tuple[str, ...]] = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[IssueEvent]:
        return super().get_queryset(request).select_related("actor")

    def has_add_permission(self, request: HttpRequest, obj: Issue | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Issue | None = None) -> bool:
        return False


class IssueAdmin(TenantAdmin):
    """The issue pages' base (see the module's docstring). Its reports, their map, the
    merge action and the undo page come from reports.issue_admin.IssueReportsAdminMixin."""

    list_display = (
        "id",
        "title",
        "status",
        "category",
        "severity",
        "area",
        "department",
        "report_count",
        "assignee",
        "created_at",
    )
    list_filter = ("status", "severity", "category", "area", MyDepartmentFilter, "assignee", AgeFilter)
    search_fields = ("title", "text")  # the search box; the lookups are in get_search_results
    # Related rows are fetched for the page only (prefetch, in get_queryset): joining them
    # to every issue made PostgreSQL sort the whole table instead of reading the first
    # page off the `issue_triage_order` index (480 ms against 1 million issues).
    list_select_related = ()
    # Most-reported first: a problem many residents report outranks one reported once.
    # The change list adds "-pk" to make the order total, which is then exactly the
    # `issue_triage_order` index (report_count DESC, created_at DESC, id DESC).
    ordering = ("-report_count", "-created_at")
    sortable_by = ("id", "status", "severity", "report_count", "created_at")
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50
    fields = (
        "title",
        "summary",
        "category",
        "severity",
        "area",
        "department",
        "assignee",
        "status",
        "report_count",
        "text",
        "latitude",
        "longitude",
        "address_key",
        "created_at",
        "last_report_at",
        "acknowledged_at",
        "resolved_at",
        "closed_at",
    )
    readonly_fields = (
        "status",
        "report_count",
        "text",
        "latitude",
        "longitude",
        "address_key",
        "created_at",
        "last_report_at",
        "acknowledged_at",
        "resolved_at",
        "closed_at",
    )
    inlines = [IssueNoteInline, IssueEventInline]
    actions = ("assign_to_me", "acknowledge", "start", "resolve", "close", "reopen")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Issue]:
        return super().get_queryset(request).prefetch_related("category", "area", "department", "assignee")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Issue], search_term: str
    ) -> tuple[QuerySet[Issue], bool]:
        """Every word in the title or the text (the reports mixin adds: a tracking id finds
        the issue its report joined). The text is searched only where it differs from the
        title, as its index holds only those issues (migration issues 0012)."""
        results = queryset
        for word in smart_split(search_term):
            # A quoted phrase is one word, as the admin reads it; a lone quote is searched as written.
            if len(word) > 1 and word[0] in "\"'" and word[-1] == word[0]:
                word = unescape_string_literal(word)
            results = results.filter(
                Q(title__icontains=word) | (Q(text__icontains=word) & ~Q(text=F("title")))
            )
        return results, False

    @admin.action(description="Assign to me", permissions=["change"])
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet[Issue]) -> None:
        me = acting_user(request)
        for issue_id in queryset.values_list("pk", flat=True):
            issue_assign(issue_id=issue_id, assignee=me, actor=me)
        self.message_user(request, f"{queryset.count()} issue(s) assigned to you.", messages.SUCCESS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # issues are opened by the pipeline from reports

    def has_delete_permission(self, request: HttpRequest, obj: Issue | None = None) -> bool:
        return False  # the trail must survive; close instead

    def save_model(self, request: HttpRequest, obj: Issue, form, change: bool) -> None:
        # Through the services, so every edit leaves an event with its actor.
        changed = set(form.changed_data)
        if "assignee" in changed:
            issue_assign(issue_id=obj.pk, assignee=form.cleaned_data["assignee"], actor=acting_user(request))
        edits = {f: form.cleaned_data[f] for f in EDITABLE_FIELDS if f in changed}
        if edits:
            issue_update(issue_id=obj.pk, actor=acting_user(request), **edits)

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        if formset.model is not IssueNote:
            return super().save_formset(request, form, formset, change)
        # What the admin's change message reads from a saved formset.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for note_form in formset.forms:
            data = getattr(note_form, "cleaned_data", None)
            if data and data.get("body") and not note_form.instance.pk:
                formset.new_objects.append(
                    issue_note_add(
                        issue_id=form.instance.pk,
                        body=data["body"],
                        visibility=data["visibility"],
                        author=acting_user(request),
                    )
                )

    def _move(self, request: HttpRequest, queryset: QuerySet[Issue], to_status: str) -> None:
        actor = acting_user(request)
        moved, refused = 0, []
        for issue_id in queryset.values_list("pk", flat=True):
            try:
                issue_transition(issue_id=issue_id, to_status=to_status, actor=actor)
                moved += 1
            except TransitionError as exc:
                refused.append(f"#{issue_id}: {' '.join(exc.messages)}")
        if moved:
            self.message_user(
                request, f"{moved} issue(s) now {IssueStatus(to_status).label.lower()}.", messages.SUCCESS
            )
        for line in refused:
            self.message_user(request, line, messages.ERROR)

    @admin.action(description="Acknowledge", permissions=["change"])
    def acknowledge(self, request: HttpRequest, queryset: QuerySet[Issue]) -> None:
        self._move(request, queryset, IssueStatus.ACKNOWLEDGED)

    @admin.action(description="Start work", permissions=["change"])
    def start(self, request: HttpRequest, queryset: QuerySet[Issue]) -> None:
        self._move(request, queryset, IssueStatus.IN_PROGRESS)

    @admin.action(description="Resolve", permissions=["change"])
    def resolve(self, request: HttpRequest, queryset: QuerySet[Issue]) -> None:
        self._move(request, queryset, IssueStatus.RESOLVED)

    @admin.action(description="Close", permissions=["change"])
    def close(self, request: HttpRequest, queryset: QuerySet[Issue]) -> None:
        self._move(request, queryset, IssueStatus.CLOSED)

    @admin.action(description="Reopen", permissions=["change"])
    def reopen(self, request: HttpRequest, queryset: QuerySet[Issue]) -> None:
        self._move(request, queryset, IssueStatus.OPEN)
