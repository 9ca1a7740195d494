from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from civicpulse.admin import TenantAdmin
from issues.models import Area, Category, Department, Issue, IssueEvent, IssueNote, IssueStatus
from issues.services import (
    EDITABLE_FIELDS,
    TransitionError,
    issue_assign,
    issue_note_add,
    issue_transition,
    issue_update,
)


@admin.register(Area)
class AreaAdmin(TenantAdmin):
    list_display = ("name", "code", "has_boundary")
    search_fields = ("name", "code")

    @admin.display(boolean=True, description="boundary")
    def has_boundary(self, obj: Area) -> bool:
        return bool(obj.boundary)


@admin.register(Category)
class CategoryAdmin(TenantAdmin):
    list_display = ("name", "code", "department", "default_severity", "active")
    list_filter = ("active", "default_severity", "department")
    list_select_related = ("department",)
    list_editable = ("active",)
    search_fields = ("name", "code", "description")
    filter_horizontal = ("related",)


@admin.register(Department)
class DepartmentAdmin(TenantAdmin):
    list_display = ("name", "code", "email")
    search_fields = ("name", "code")
    filter_horizontal = ("members",)


class MyDepartmentFilter(admin.SimpleListFilter):
    title = "department"
    parameter_name = "department_scope"

    def lookups(self, request: HttpRequest, model_admin: object) -> list[tuple[str, str]]:
        return [("mine", "My departments"), *((str(d.pk), d.name) for d in Department.objects.all())]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Issue]) -> QuerySet[Issue]:
        if self.value() == "mine":
            return queryset.filter(department__members=request.user)
        if self.value():
            return queryset.filter(department_id=self.value())
        return queryset


class IssueNoteInline(admin.StackedInline):
    """Notes are added here and never edited: what residents were told stays told."""

    model = IssueNote
    extra = 1
    fields = ("visibility", "body", "author", "created_at")
    readonly_fields = ("author", "created_at")

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class IssueEventInline(admin.TabularInline):
    model = IssueEvent
    extra = 0
    can_delete = False
    fields = ("created_at", "kind", "actor", "actor_label", "data")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Issue)
class IssueAdmin(TenantAdmin):
    list_display = (
        "id", "title", "status", "category", "severity", "area", "department", "report_count", "assignee", "created_at",
    )
    list_filter = ("status", "severity", "category", "area", MyDepartmentFilter)
    search_fields = ("title", "text")
    list_select_related = ("category", "area", "department", "assignee")
    fields = (
        "title", "summary", "category", "severity", "area", "department", "assignee", "status", "report_count", "text",
        "latitude", "longitude", "address_key", "created_at", "last_report_at", "acknowledged_at",
        "resolved_at", "closed_at",
    )
    readonly_fields = (
        "status", "report_count", "text", "latitude", "longitude", "address_key", "created_at",
        "last_report_at", "acknowledged_at", "resolved_at", "closed_at",
    )
    inlines = [IssueNoteInline, IssueEventInline]
    actions = ("acknowledge", "start", "resolve", "close", "reopen")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # issues are opened by the pipeline from reports

    def has_delete_permission(self, request: HttpRequest, obj: Issue | None = None) -> bool:
        return False  # the trail must survive; close instead

    def save_model(self, request: HttpRequest, obj: Issue, form, change: bool) -> None:
        # Through the services, so every edit leaves an event with its actor.
        changed = set(form.changed_data)
        if "assignee" in changed:
            issue_assign(issue_id=obj.pk, assignee=form.cleaned_data["assignee"], actor=request.user)
        edits = {f: form.cleaned_data[f] for f in EDITABLE_FIELDS if f in changed}
        if edits:
            issue_update(issue_id=obj.pk, actor=request.user, **edits)

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        if formset.model is not IssueNote:
            return super().save_formset(request, form, formset, change)
        # What the admin's change message reads from a saved formset.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for note_form in formset.forms:
            data = getattr(note_form, "cleaned_data", None)
            if data and data.get("body") and not note_form.instance.pk:
                formset.new_objects.append(issue_note_add(
                    issue_id=form.instance.pk, body=data["body"], visibility=data["visibility"], author=request.user
                ))

    def _move(self, request: HttpRequest, queryset: QuerySet[Issue], to_status: str) -> None:
        moved, refused = 0, []
        for issue_id in queryset.values_list("pk", flat=True):
            try:
                issue_transition(issue_id=issue_id, to_status=to_status, actor=request.user)
                moved += 1
            except TransitionError as exc:
                refused.append(f"#{issue_id}: {' '.join(exc.messages)}")
        if moved:
            self.message_user(request, f"{moved} issue(s) now {IssueStatus(to_status).label.lower()}.", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.ERROR)

    @admin.action(description="Acknowledge")
    def acknowledge(self, request: HttpRequest, queryset: QuerySet[Issue]) -> None:
        self._move(request, queryset, IssueStatus.ACKNOWLEDGED)

    @admin.action(description="Start work")
    def start(self, request: HttpRequest, queryset: QuerySet[Issue]) -> None:
        self._move(request, queryset, IssueStatus.IN_PROGRESS)

    @admin.action(description="Resolve")
    def resolve(self, request: HttpRequest, queryset: QuerySet[Issue]) -> None:
        self._move(request, queryset, IssueStatus.RESOLVED)

    @admin.action(description="Close")
    def close(self, request: HttpRequest, queryset: QuerySet[Issue]) -> None:
        self._move(request, queryset, IssueStatus.CLOSED)

    @admin.action(description="Reopen")
    def reopen(self, request: HttpRequest, queryset: QuerySet[Issue]) -> None:
        self._move(request, queryset, IssueStatus.OPEN)
