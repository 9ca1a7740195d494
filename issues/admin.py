import math
from datetime import timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import smart_split, unescape_string_literal

from civicpulse.core.admin import EstimatedCountPaginator, TenantAdmin
from issues.models import Area, Category, Department, GroupingPolicy, Issue, IssueEvent, IssueNote, IssueStatus
from issues.selectors import grouping_policy_get
from issues.services import (
    EDITABLE_FIELDS,
    TransitionError,
    issue_assign,
    issue_event_undo,
    issue_event_undoable,
    issue_merge,
    issue_note_add,
    issue_transition,
    issue_update,
)
from reports.models import Report


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
    fieldsets = (
        (None, {"fields": ("name", "code", "description", "keywords", "default_severity", "active", "department")}),
        ("Grouping reports into issues", {
            "description": "Empty values follow the tenant's grouping policy. How the score is made: docs/grouping.md.",
            "fields": ("related", ("group_radius_m", "group_window_hours", "group_min_similarity"),
                       ("group_borderline_low", "group_join_score", "group_borderline_high")),
        }),
    )


@admin.register(GroupingPolicy)
class GroupingPolicyAdmin(TenantAdmin):
    """The tenant's one grouping policy: the values every category without its own uses."""

    list_display = ("__str__", "radius_m", "window_hours", "min_similarity", "borderline_low", "join_score",
                    "borderline_high")
    fieldsets = (
        ("Candidates", {"fields": ("radius_m", "window_hours", "min_similarity")}),
        ("Score (0 to 1)", {
            "description": "A candidate's score combines text similarity, closeness, time gap and category "
                           "relation. Below “borderline from” a report opens its own issue; from “borderline to” up "
                           "it joins; in between, a language model (when configured) is asked, and without an "
                           "answer the join score decides.",
            "fields": ("borderline_low", "join_score", "borderline_high"),
        }),
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


class AgeFilter(admin.SimpleListFilter):
    title = "age"
    parameter_name = "age"
    BANDS = {"1d": (None, 1), "1-7d": (1, 7), "7-30d": (7, 30), "30d+": (30, None)}

    def lookups(self, request: HttpRequest, model_admin: object) -> list[tuple[str, str]]:
        return [("1d", "Under a day"), ("1-7d", "1 to 7 days"), ("7-30d", "7 to 30 days"), ("30d+", "Over 30 days")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Issue]) -> QuerySet[Issue]:
        if self.value() not in self.BANDS:
            return queryset
        young, old = self.BANDS[self.value()]
        now = timezone.now()
        if young is not None:
            queryset = queryset.filter(created_at__lte=now - timedelta(days=young))
        if old is not None:
            queryset = queryset.filter(created_at__gt=now - timedelta(days=old))
        return queryset


class ReportInline(admin.TabularInline):
    """The issue's reports with why each joined it. Moving and splitting are actions on
    the report list, through the services."""

    model = Report
    fk_name = "issue"
    extra = 0
    can_delete = False
    fields = ("tracking", "submitted_at", "description", "category", "why", "photo_thumb")
    readonly_fields = fields
    ordering = ("submitted_at",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Report]:
        return super().get_queryset(request).select_related("category")  # shown on every row

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="report")
    def tracking(self, report: Report) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:reports_report_change", args=[report.pk]), report.tracking_id)

    @admin.display(description="why it joined")
    def why(self, report: Report) -> str:
        return explain_match(report.match or {})

    @admin.display(description="photo")
    def photo_thumb(self, report: Report) -> str:
        if not report.photo:
            return "—"
        url = reverse("report-photo", args=[report.tracking_id])
        return format_html('<a href="{}"><img src="{}" alt="photo" style="max-height:60px"></a>', url, url)


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
    fields = ("created_at", "kind", "actor", "actor_label", "data", "undo")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[IssueEvent]:
        # Whether each operation was undone, in the same query as the trail itself.
        undone = IssueEvent.objects.filter(
            issue_id=OuterRef("issue_id"), kind=IssueEvent.Kind.UNDONE, data__operation=OuterRef("data__undo__operation")
        )
        return super().get_queryset(request).select_related("actor").annotate(undone=Exists(undone))

    @admin.display(description="undo")
    def undo(self, event: IssueEvent) -> str:
        if not issue_event_undoable(event):
            return ""
        if event.undone:
            return "undone"
        url = reverse("admin:issues_issue_undo", args=[event.issue_id, event.pk])
        return format_html('<a class="button" href="{}">Undo…</a>', url)

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Issue)
class IssueAdmin(TenantAdmin):
    list_display = (
        "id", "title", "status", "category", "severity", "area", "department", "report_count", "assignee", "created_at",
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
        "title", "summary", "category", "severity", "area", "department", "assignee", "status", "report_count", "text",
        "reports_map", "move_reports", "latitude", "longitude", "address_key", "created_at", "last_report_at",
        "acknowledged_at", "resolved_at", "closed_at",
    )
    readonly_fields = (
        "status", "report_count", "text", "reports_map", "move_reports", "latitude", "longitude", "address_key", "created_at",
        "last_report_at", "acknowledged_at", "resolved_at", "closed_at",
    )
    inlines = [ReportInline, IssueNoteInline, IssueEventInline]
    actions = ("assign_to_me", "acknowledge", "start", "resolve", "close", "reopen", "merge")

    def get_urls(self) -> list:
        return [
            path("<int:issue_id>/undo/<int:event_id>/", self.admin_site.admin_view(self.undo_view),
                 name="issues_issue_undo"),
            *super().get_urls(),
        ]

    def undo_view(self, request: HttpRequest, issue_id: int, event_id: int) -> HttpResponse:
        """GET: what the undo would restore, with a button; POST: undo through the service."""
        issue = get_object_or_404(Issue, pk=issue_id)
        event = get_object_or_404(IssueEvent, pk=event_id, issue=issue)
        if not self.has_change_permission(request, issue):
            raise PermissionDenied
        back = reverse("admin:issues_issue_change", args=[issue.pk])
        if request.method == "POST":
            try:
                issue_event_undo(event_id=event.pk, actor=request.user)
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
            else:
                self.message_user(request, f"{event.get_kind_display()} of {event.created_at:%Y-%m-%d %H:%M} undone.",
                                  messages.SUCCESS)
            return HttpResponseRedirect(back)
        record = (event.data or {}).get("undo") or {}
        moves: dict[tuple[int | None, int], int] = {}
        for source, target in record.get("reports", {}).values():
            moves[(target, source)] = moves.get((target, source), 0) + 1
        context = {
            **self.admin_site.each_context(request),
            "title": f"Undo: {event.get_kind_display().lower()}",
            "opts": self.opts,
            "issue": issue,
            "event": event,
            "undoable": issue_event_undoable(event),
            "moves": sorted(moves.items(), key=lambda item: (item[0][0], item[0][1] or 0)),
            "restored": sorted((int(pk), states["before"]) for pk, states in record.get("issues", {}).items()),
            "back": back,
        }
        return TemplateResponse(request, "admin/issues/issue/undo_confirmation.html", context)

    @admin.display(description="move or split reports")
    def move_reports(self, issue: Issue) -> str:
        url = reverse("admin:reports_report_changelist") + f"?issue__id__exact={issue.pk}"
        return format_html('<a href="{}">Select this issue\'s reports to move them or split them out</a>', url)

    @admin.display(description="map of the reports")
    def reports_map(self, issue: Issue) -> str:
        """The reports around the issue's centre, drawn to scale (no tiles): a glance shows
        whether they really are one problem."""
        points = list(issue.reports.exclude(latitude=None).values_list("latitude", "longitude"))
        if not points or issue.latitude is None:
            return "—"
        metres = [((lat - issue.latitude) * 111_320, (lon - issue.longitude) * 111_320 * math.cos(math.radians(issue.latitude)))
                  for lat, lon in points]
        reach = max(25.0, *(max(abs(y), abs(x)) for y, x in metres))
        dots = format_html_join(
            "", '<circle cx="{}" cy="{}" r="4" fill="#a4161a"><title>{} m N, {} m E</title></circle>',
            ((round(100 + x / reach * 90, 1), round(100 - y / reach * 90, 1), round(y), round(x)) for y, x in metres),
        )
        return format_html(
            '<svg viewBox="0 0 200 200" width="200" height="200" role="img" aria-label="reports around the issue"'
            ' style="background:#eef3f0;border:1px solid #ccc"><circle cx="100" cy="100" r="90" fill="none" stroke="#0b6e4f"'
            ' stroke-dasharray="4"/><circle cx="100" cy="100" r="3" fill="#0b6e4f"/>{}</svg><br>{} report(s) within {} m',
            dots, len(points), round(reach),
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Issue]:
        return super().get_queryset(request).prefetch_related("category", "area", "department", "assignee")

    def get_search_results(self, request: HttpRequest, queryset: QuerySet[Issue], search_term: str):
        """Every word in the title or the text, plus a tracking id finds the issue its
        report joined. The text is searched only where it differs from the title, as its
        index holds only those issues (migration issues 0012)."""
        results, duplicates = queryset, False
        for word in smart_split(search_term):
            # A quoted phrase is one word, as the admin reads it; a lone quote is searched as written.
            if len(word) > 1 and word[0] in "\"'" and word[-1] == word[0]:
                word = unescape_string_literal(word)
            results = results.filter(Q(title__icontains=word) | (Q(text__icontains=word) & ~Q(text=F("title"))))
        term = search_term.strip().upper().replace("-", "")
        if len(term) == 10 and term.isalnum():
            results = results | queryset.filter(reports__tracking_id=term)
            duplicates = True
        return results, duplicates

    @admin.action(description="Assign to me")
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet[Issue]) -> None:
        for issue_id in queryset.values_list("pk", flat=True):
            issue_assign(issue_id=issue_id, assignee=request.user, actor=request.user)
        self.message_user(request, f"{queryset.count()} issue(s) assigned to you.", messages.SUCCESS)

    @admin.action(description="Merge selected into one")
    def merge(self, request: HttpRequest, queryset: QuerySet[Issue]) -> None:
        try:
            target = issue_merge(issue_ids=list(queryset.values_list("pk", flat=True)), actor=request.user)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return
        self.message_user(request, f"Merged into #{target.pk}, which now has {target.report_count} report(s).", messages.SUCCESS)

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


def explain_match(match: dict) -> str:
    """Why a report is on its issue, in one line for staff, from its stored `match`."""
    method = match.get("method")
    if method == "moved":
        return f"moved here by {match.get('by') or 'staff'}"
    if method in (None, "new"):
        best = match.get("best")
        if not best:
            return "opened the issue"
        if best.get("closed_meanwhile"):
            return f"opened the issue: the match, #{best.get('issue')}, was closed meanwhile"
        needed = (match.get("thresholds") or {}).get("join_score")
        return f"opened the issue: the closest candidate, #{best.get('issue')}, scored {best.get('score')}" + (
            f" (joining needs {needed}{_adjudication_words(match)})" if needed is not None else ""
        )
    parts = [method]
    if match.get("distance_m") is not None:
        parts.append(f"{match['distance_m']} m")
    parts.append(f"{round(match.get('time_gap_s', 0) / 3600, 1)} h apart")
    parts.append(f"similarity {match.get('similarity')}")
    if match.get("category_relation"):
        parts.append(f"{match['category_relation']} category")
    line = ", ".join(parts)
    if match.get("score") is not None and match.get("thresholds", {}).get("join_score") is not None:
        high = (match["thresholds"].get("borderline") or [None, None])[1]
        line += f"; score {match['score']}"
        if match.get("decision") == "above_band":
            line += f" ≥ {high}"
        elif match.get("decision") == "join_score":
            line += f" ≥ join score {match['thresholds']['join_score']} (borderline)"
        line += _adjudication_words(match)
    return line


def _adjudication_words(match: dict) -> str:
    if "adjudication" not in match:
        return ""
    answer = match["adjudication"]
    if not isinstance(answer, dict) or not isinstance(answer.get("same"), bool):
        return "; the language model gave no answer"
    said = "same problem" if answer["same"] else "different problems"
    confidence = answer.get("confidence")
    return f"; the language model said {said}" + (f" ({confidence})" if confidence is not None else "")
