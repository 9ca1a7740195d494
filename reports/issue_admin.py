"""The issue pages' parts that need reports: the issue's reports with why each joined, a
map of them, the link to move or split them, search by tracking id, merging issues, and
undoing a merge or move from the trail. Composed with issues.admin.IssueAdmin in
civicpulse/admin.py (`issues` knows nothing of reports), through Django's own hooks.
Its own fields go right after the issue's text, wherever it stands among the mixins;
mixins that append fields (SLA, location report) keep their order in the composition:

    class ComposedIssueAdmin(..., IssueReportsAdminMixin, IssueAdmin): ...
"""

from typing import TYPE_CHECKING, TypedDict

from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR, InlineModelAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.templatetags.static import static
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join, json_script
from django.utils.safestring import SafeString

from civicpulse.core.admin import acting_user
from civicpulse.core.geo import METRES_PER_DEGREE, metres_per_degree_lon
from issues.admin import IssueEventInline
from issues.match_score import explain_match
from issues.models import Issue, IssueEvent
from issues.selectors import map_tiles
from reports.models import Report
from reports.services.regrouping import issue_event_undo, issue_event_undoable, issue_merge

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin
    from django.contrib.admin.options import _FieldGroups
    from django.utils.datastructures import _ListOrTuple
    from django_stubs_ext import WithAnnotations

    _IssueAdminBase = ModelAdmin[Issue]
else:
    _IssueAdminBase = object

# Shown on the issue page right after the issue's text.
REPORT_FIELDS = ("reports_map", "move_reports")
# Reports drawn on the issue page's map: enough for any real issue, bounded for a flood.
MAP_REPORTS = 1000


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

    def has_add_permission(self, request: HttpRequest, obj: Issue | None = None) -> bool:
        return False

    @admin.display(description="report")
    def tracking(self, report: Report) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:reports_report_change", args=[report.pk]),
            report.tracking_id,
        )

    @admin.display(description="why it joined")
    def why(self, report: Report) -> str:
        return explain_match(report.match or {})

    @admin.display(description="photo")
    def photo_thumb(self, report: Report) -> str:
        if not report.photo:
            return "—"
        url = reverse("report-photo", args=[report.tracking_id])
        return format_html('<a href="{}"><img src="{}" alt="photo" style="max-height:60px"></a>', url, url)


class _Undone(TypedDict):
    undone: bool  # a later UNDONE event names the event's operation


class IssueEventUndoInline(IssueEventInline):
    """The trail, with a link to undo each merge or move that can still be undone."""

    fields = (*IssueEventInline.fields, "undo")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> "QuerySet[WithAnnotations[IssueEvent, _Undone]]":
        # Whether each operation was undone, in the same query as the trail itself.
        undone = IssueEvent.objects.filter(
            issue_id=OuterRef("issue_id"),
            kind=IssueEvent.Kind.UNDONE,
            data__operation=OuterRef("data__undo__operation"),
        )
        return super().get_queryset(request).annotate(undone=Exists(undone))

    @admin.display(description="undo")
    def undo(self, event: "WithAnnotations[IssueEvent, _Undone]") -> str:
        if not issue_event_undoable(event):
            return ""
        if event.undone:
            return "undone"
        url = reverse("admin:issues_issue_undo", args=[event.issue_id, event.pk])
        return format_html('<a class="button" href="{}">Undo…</a>', url)


class IssueReportsAdminMixin(_IssueAdminBase):
    """What the issue pages show and do about reports (see the module's docstring): the
    reports inline first, the trail with its undo column, the map and the move link after
    the issue's text, the merge action, the undo page, and search by tracking id."""

    def get_inlines(self, request: HttpRequest, obj: Issue | None) -> list[type[InlineModelAdmin]]:
        inlines = [
            IssueEventUndoInline if inline is IssueEventInline else inline
            for inline in super().get_inlines(request, obj)
        ]
        return [ReportInline, *inlines]

    def get_fields(self, request: HttpRequest, obj: Issue | None = None) -> "_FieldGroups":
        fields = [field for field in super().get_fields(request, obj) if field not in REPORT_FIELDS]
        at = fields.index("text") + 1 if "text" in fields else len(fields)
        return [*fields[:at], *REPORT_FIELDS, *fields[at:]]

    def get_readonly_fields(self, request: HttpRequest, obj: Issue | None = None) -> "_ListOrTuple[str]":
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, *(field for field in REPORT_FIELDS if field not in readonly)]

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        if self.actions is not None and IS_POPUP_VAR not in request.GET:
            merge = self.get_action("merge")
            # Held to the permissions it declares, as Django holds the actions it collects
            # itself: a member who may only view is not offered it (nor can post it).
            if merge is not None and all(
                getattr(self, f"has_{permission}_permission")(request)
                for permission in getattr(merge[0], "allowed_permissions", ())
            ):
                actions[merge[1]] = merge
        return actions

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<int:issue_id>/undo/<int:event_id>/",
                self.admin_site.admin_view(self.undo_view),
                name="issues_issue_undo",
            ),
            *super().get_urls(),
        ]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Issue], search_term: str
    ) -> tuple[QuerySet[Issue], bool]:
        """Also a tracking id, which finds the issue its report joined."""
        results, duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip().upper().replace("-", "")
        if len(term) == 10 and term.isalnum():
            results = results | queryset.filter(reports__tracking_id=term)
            duplicates = True
        return results, duplicates

    def undo_view(self, request: HttpRequest, issue_id: int, event_id: int) -> HttpResponse:
        """GET: what the undo would restore, with a button; POST: undo through the service."""
        issue = get_object_or_404(Issue, pk=issue_id)
        event = get_object_or_404(IssueEvent, pk=event_id, issue=issue)
        if not self.has_change_permission(request, issue):
            raise PermissionDenied
        back = reverse("admin:issues_issue_change", args=[issue.pk])
        if request.method == "POST":
            try:
                issue_event_undo(event_id=event.pk, actor=acting_user(request))
            except ValidationError as exc:
                self.message_user(request, " ".join(exc.messages), messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"{event.get_kind_display()} of {event.created_at:%Y-%m-%d %H:%M} undone.",
                    messages.SUCCESS,
                )
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
            "restored": sorted(
                (int(pk), states["before"]) for pk, states in record.get("issues", {}).items()
            ),
            "back": back,
        }
        return TemplateResponse(request, "admin/issues/issue/undo_confirmation.html", context)

    @admin.display(description="move or split reports")
    def move_reports(self, issue: Issue) -> str:
        url = reverse("admin:reports_report_changelist") + f"?issue__id__exact={issue.pk}"
        return format_html(
            '<a href="{}">Select this issue\'s reports to move them or split them out</a>', url
        )

    @admin.display(description="map of the reports")
    def reports_map(self, issue: Issue) -> str:
        """The reports around the issue's centre on street tiles, clustered (map.js), over
        the same drawn to scale without tiles (the fallback): a glance shows whether they
        really are one problem."""
        rows = [
            (pk, tracking_id, lat, lon)
            for pk, tracking_id, lat, lon in Report.objects.filter(issue=issue)
            .exclude(latitude=None)
            .order_by("submitted_at", "pk")
            .values_list("pk", "tracking_id", "latitude", "longitude")[:MAP_REPORTS]
            if lat is not None and lon is not None  # a report has both or neither
        ]
        if not rows or issue.latitude is None or issue.longitude is None:
            return "—"
        tiles = map_tiles()
        data = {
            "centre": {"latitude": issue.latitude, "longitude": issue.longitude, "title": f"#{issue.pk}"},
            "points": [
                {
                    "id": pk,
                    "title": tracking_id,
                    "latitude": lat,
                    "longitude": lon,
                    "url": reverse("admin:reports_report_change", args=[pk]),
                }
                for pk, tracking_id, lat, lon in rows
            ],
        }
        return format_html(
            '<div id="issue-map" class="civic-map" hidden data-civic-map="points" data-points="issue-map-points"'
            ' data-fallback="issue-map-svg" data-tile-url="{}" data-tile-attribution="{}" role="region"'
            ' aria-label="map of the reports" style="width:36rem;max-width:100%;height:20rem"></div>'
            '<div id="issue-map-svg">{}</div>{}'
            '<link rel="stylesheet" href="{}"><link rel="stylesheet" href="{}"><link rel="stylesheet" href="{}">'
            '<link rel="stylesheet" href="{}"><script src="{}"></script><script src="{}"></script><script src="{}"></script>',
            tiles["url"],
            tiles["attribution"],
            self._reports_svg((issue.latitude, issue.longitude), [(lat, lon) for _, _, lat, lon in rows]),
            json_script(data, "issue-map-points"),
            static("vendor/leaflet/leaflet.css"),
            static("vendor/leaflet.markercluster/MarkerCluster.css"),
            static("vendor/leaflet.markercluster/MarkerCluster.Default.css"),
            static("civicpulse/map.css"),
            static("vendor/leaflet/leaflet.js"),
            static("vendor/leaflet.markercluster/leaflet.markercluster.js"),
            static("civicpulse/map.js"),
        )

    @staticmethod
    def _reports_svg(centre: tuple[float, float], points: list[tuple[float, float]]) -> SafeString:
        """The reports around the issue's centre, drawn to scale without tiles."""
        metres = [
            (
                (lat - centre[0]) * METRES_PER_DEGREE,
                (lon - centre[1]) * metres_per_degree_lon(centre[0]),
            )
            for lat, lon in points
        ]
        reach = max(25.0, *(max(abs(y), abs(x)) for y, x in metres))
        dots = format_html_join(
            "",
            '<circle cx="{}" cy="{}" r="4" fill="#a4161a"><title>{} m N, {} m E</title></circle>',
            (
                (round(100 + x / reach * 90, 1), round(100 - y / reach * 90, 1), round(y), round(x))
                for y, x in metres
            ),
        )
        return format_html(
            '<svg viewBox="0 0 200 200" width="200" height="200" role="img" aria-label="reports around the issue"'
            ' style="background:#eef3f0;border:1px solid #ccc"><circle cx="100" cy="100" r="90" fill="none" stroke="#0b6e4f"'
            ' stroke-dasharray="4"/><circle cx="100" cy="100" r="3" fill="#0b6e4f"/>{}</svg><br>{} report(s) within {} m',
            dots,
            len(points),
            round(reach),
        )

    @admin.action(description="Merge selected into one", permissions=["change"])
    def merge(self, request: HttpRequest, queryset: QuerySet[Issue]) -> None:
        try:
            target = issue_merge(
                issue_ids=list(queryset.values_list("pk", flat=True)), actor=acting_user(request)
            )
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return
        self.message_user(
            request,
            f"Merged into #{target.pk}, which now has {target.report_count} report(s).",
            messages.SUCCESS,
        )
