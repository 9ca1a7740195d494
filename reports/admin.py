from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from civicpulse.core.admin import EstimatedCountPaginator, ReadOnlyTenantAdmin, TenantAdmin, acting_user
from civicpulse.core.csv_safe import csv_writer
from issues.models import Issue
from reports import erasure_admin  # noqa: F401  (registers the erasure page)
from reports.addresses import standardise_address
from reports.models import ImportBatch, Location, LocationChange, Report
from reports.services.locations import location_place, point_in_tenant_areas
from reports.services.regrouping import issue_move_reports
from reports.services.staff_edits import report_correct, report_photos_approve, report_place, report_retry


class ReviewFilter(admin.SimpleListFilter):
    """The review lists: what needs a person."""

    title = "needs review"
    parameter_name = "review"
    LOW_CONFIDENCE = 0.4

    def lookups(self, request: HttpRequest, model_admin: object) -> list[tuple[str, str]]:
        return [
            ("failed", "Processing failed"),
            ("placement", "No point: place it"),
            ("confidence", "Low-confidence classification"),
            ("photo", "Photo awaiting approval"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Report]) -> QuerySet[Report]:
        if self.value() == "failed":
            return queryset.filter(status=Report.Status.FAILED)
        if self.value() == "placement":
            return queryset.filter(needs_placement=True, latitude=None)
        if self.value() == "confidence":
            return queryset.filter(
                category_source=Report.CategorySource.CLASSIFIER, confidence__lt=self.LOW_CONFIDENCE
            )
        if self.value() == "photo":
            return queryset.filter(photo_approved=False).exclude(photo="")
        return queryset


class PointForm(forms.ModelForm):
    """A point staff give (a report's placement, an address's place) lies in the tenant's
    areas, when it has any."""

    def clean(self) -> dict:
        data = super().clean() or {}
        latitude, longitude = data.get("latitude"), data.get("longitude")
        moved = {"latitude", "longitude"} & set(self.changed_data)
        if moved and latitude is not None and longitude is not None:
            if not point_in_tenant_areas(latitude, longitude):
                self.add_error("latitude", "That point lies outside all of this place's areas.")
        if "address" in self.fields and "address" in data and not standardise_address(data["address"]).key:
            self.add_error("address", "Give an address with words or numbers in it.")
        return data


class MoveForm(ActionForm):
    to_issue = forms.IntegerField(required=False, label="Issue #", help_text="for “Move to issue”")


@admin.register(Report)
class ReportAdmin(TenantAdmin):
    list_display = (
        "tracking_id",
        "submitted_at",
        "status",
        "category",
        "severity",
        "issue",
        "channel",
        "attempts",
    )
    list_filter = (ReviewFilter, "status", "channel", "category")
    form = PointForm
    action_form = MoveForm
    search_fields = ("tracking_id", "description", "address", "external_id")
    list_select_related = ("category", "issue")
    # Staff correct the category and severity; everything else is the record of what came in.
    fields = (
        "tracking_id",
        "status",
        "description",
        "category",
        "category_source",
        "severity",
        "summary",
        "confidence",
        "classifier",
        "issue",
        "chosen_issue",
        "match",
        "latitude",
        "longitude",
        "address",
        "needs_placement",
        "photo_preview",
        "photo_approved",
        "media_url",
        "email",
        "channel",
        "api_key",
        "external_id",
        "submitted_at",
        "enqueued_at",
        "enqueue_count",
        "attempts",
        "last_error",
        "processed_at",
    )
    readonly_fields = tuple(
        f for f in fields if f not in ("category", "severity", "latitude", "longitude", "photo_approved")
    )

    def get_readonly_fields(self, request: HttpRequest, obj: Report | None = None) -> tuple:
        readonly = self.readonly_fields
        # Approving a photo for the public is a permission of its own (approve_photo).
        if obj is None or not obj.photo or not self.has_approve_photo_permission(request):
            readonly = (*readonly, "photo_approved")
        # The point is set by staff only for a report that has none ("needs placement").
        if obj is not None and obj.needs_placement:
            return readonly
        return (*readonly, "latitude", "longitude")

    def has_approve_photo_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("reports.approve_photo")

    @admin.display(description="photo")
    def photo_preview(self, report: Report) -> str:
        if not report.photo:
            return "—"
        url = reverse("report-photo", args=[report.tracking_id])
        return format_html('<a href="{}"><img src="{}" alt="photo" style="max-height:240px"></a>', url, url)

    @admin.action(description="Approve photos for the public", permissions=["approve_photo"])
    def approve_photos(self, request: HttpRequest, queryset: QuerySet[Report]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        count = report_photos_approve(report_ids=ids, approved=True, actor=acting_user(request))
        self.message_user(request, f"Approved {count} photo(s) for the public.", messages.SUCCESS)

    @admin.action(description="Withdraw photos from the public", permissions=["approve_photo"])
    def withdraw_photos(self, request: HttpRequest, queryset: QuerySet[Report]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        count = report_photos_approve(report_ids=ids, approved=False, actor=acting_user(request))
        self.message_user(request, f"Withdrew {count} photo(s) from the public.", messages.SUCCESS)

    date_hierarchy = "submitted_at"
    actions = ("retry", "move_to_issue", "split_out", "approve_photos", "withdraw_photos")
    paginator = EstimatedCountPaginator
    show_full_result_count = False

    @admin.action(description="Move to issue #… (give the number above)", permissions=["change"])
    def move_to_issue(self, request: HttpRequest, queryset: QuerySet[Report]) -> None:
        to_issue = request.POST.get("to_issue", "").strip()
        if not to_issue.isdigit() or not Issue.objects.filter(pk=int(to_issue)).exists():
            self.message_user(
                request, "Give the number of an existing issue to move the reports to.", messages.ERROR
            )
            return
        self._move(request, queryset, int(to_issue))

    @admin.action(description="Split out into a new issue", permissions=["change"])
    def split_out(self, request: HttpRequest, queryset: QuerySet[Report]) -> None:
        self._move(request, queryset, None)

    def _move(self, request: HttpRequest, queryset: QuerySet[Report], to_issue: int | None) -> None:
        try:
            issue = issue_move_reports(reports=queryset, to_issue_id=to_issue, actor=acting_user(request))
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return
        self.message_user(request, f"Reports now on issue #{issue.pk}.", messages.SUCCESS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # reports arrive through the intake, never typed in here

    def save_model(self, request: HttpRequest, obj: Report, form, change: bool) -> None:
        actor = acting_user(request)
        data = form.cleaned_data
        if (
            data.get("latitude") is not None
            and data.get("longitude") is not None
            and "latitude" in form.changed_data
        ):
            report_place(
                report_id=obj.pk, latitude=data["latitude"], longitude=data["longitude"], actor=actor
            )
        if "photo_approved" in form.changed_data and self.has_approve_photo_permission(request):
            report_photos_approve(report_ids=[obj.pk], approved=data["photo_approved"], actor=actor)
        report_correct(
            report_id=obj.pk,
            category=form.cleaned_data["category"],
            severity=form.cleaned_data["severity"],
            actor=actor,
        )

    @admin.action(description="Retry processing of selected failed reports", permissions=["change"])
    def retry(self, request: HttpRequest, queryset: QuerySet[Report]) -> None:
        count = report_retry(report_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Queued {count} failed report(s) again.", messages.SUCCESS)


class LocationChangeInline(admin.TabularInline):
    """Where the address was placed before, by whom: read-only."""

    model = LocationChange
    extra = 0
    can_delete = False
    fields = ("at", "source", "from_latitude", "from_longitude", "to_latitude", "to_longitude", "actor")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Location | None = None) -> bool:
        return False


@admin.register(Location)
class LocationAdmin(TenantAdmin):
    """Addresses and their points. Staff correct a point here: the move goes through
    location_place and is recorded below the form (reports.services.locations)."""

    list_display = (
        "address",
        "address_key",
        "parse_confidence",
        "latitude",
        "longitude",
        "source",
        "created_at",
    )
    list_filter = ("source",)
    search_fields = ("address", "address_key")
    form = PointForm
    fields = ("address", "address_key", "latitude", "longitude", "source", "created_at")
    inlines = (LocationChangeInline,)

    def get_readonly_fields(self, request: HttpRequest, obj: Location | None = None) -> tuple:
        fixed = ("address_key", "source", "created_at")
        return (*fixed, "address") if obj is not None else fixed

    def save_model(self, request: HttpRequest, obj: Location, form: forms.ModelForm, change: bool) -> None:
        std = standardise_address(obj.address)
        placed = location_place(
            address_key=obj.address_key if change else std.key,
            std=std,
            address=obj.address,
            latitude=form.cleaned_data["latitude"],
            longitude=form.cleaned_data["longitude"],
            actor=acting_user(request),
        )
        obj.pk, obj._state.adding = placed.pk, False  # the admin goes on with the saved row


@admin.register(ImportBatch)
class ImportBatchAdmin(ReadOnlyTenantAdmin):
    """Read-only record of each import, with its rejected rows as a CSV download. Batches
    come from `manage.py import_reports` and, with their dataset, `import_records` and
    `fetch_records`; they are kept: imported reports and records point at them."""

    list_display = (
        "started_at",
        "source_format",
        "dataset",
        "file_name",
        "status",
        "rows_read",
        "rows_loaded",
        "rows_rejected",
        "rows_skipped",
        "rejected_csv",
    )
    list_filter = ("source_format", "dataset", "status")
    readonly_fields = (
        "source_format",
        "dataset",
        "file_name",
        "checksum",
        "started_at",
        "finished_at",
        "rows_read",
        "rows_loaded",
        "rows_rejected",
        "rows_skipped",
        "status",
        "error",
        "rejected_csv",
    )

    def get_urls(self) -> list:
        return [
            path(
                "<int:batch_id>/rejected.csv",
                self.admin_site.admin_view(self.rejected_download),
                name="reports_importbatch_rejected",
            ),
            *super().get_urls(),
        ]

    @admin.display(description="rejected rows")
    def rejected_csv(self, batch: ImportBatch) -> str:
        if not batch.rows_rejected:
            return "—"
        url = reverse("admin:reports_importbatch_rejected", args=[batch.pk])
        return format_html('<a href="{}">{} rows (CSV)</a>', url, batch.rows_rejected)

    def rejected_download(self, request: HttpRequest, batch_id: int) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        batch = get_object_or_404(ImportBatch, pk=batch_id)
        rows = list(batch.rejected.order_by("line").values_list("line", "source_id", "reason", "raw"))
        columns = list(dict.fromkeys(key for *_, raw in rows for key in raw))
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="batch-{batch.pk}-rejected.csv"'
        writer = csv_writer(response)  # formula-safe: the rows are what an import file said
        writer.writerow(["line", "source_id", "reason", *columns])
        for line, source_id, reason, raw in rows:
            writer.writerow([line, source_id, reason, *(raw.get(c, "") for c in columns)])
        return response
