"""The staff console's city records (read-only: records are append-only, a correction is
a new batch; batches and their rejected rows are under Import batches), parcels, the
Socrata sources, and the property rules (an edit of what a rule checks is a new version,
kept with its history) with the tier bounds."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from analytics.records.models import (
    BuildingPermit,
    BuildingViolation,
    FoodInspection,
    Parcel,
    RecordSource,
    TaxLienEvent,
    VacantBuildingViolation,
)
from analytics.records.rule_models import PropertyRule, PropertyRuleVersion, PropertyTierBound
from analytics.records.rule_services import (
    property_rule_revise,
    property_tier_bounds_check,
    property_tier_bounds_set,
)
from analytics.records.sources import record_source_save
from civicpulse.core.admin import EstimatedCountPaginator, ReadOnlyTenantAdmin, TenantAdmin, acting_user

_PROVENANCE = ("source_dataset", "source_id", "import_batch", "location")


class RecordAdmin(ReadOnlyTenantAdmin):
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_filter = ("source_dataset",)
    raw_id_fields = ("import_batch", "location")


@admin.register(BuildingViolation)
class BuildingViolationAdmin(RecordAdmin):
    list_display = ("violation_date", "code", "status", "address", *_PROVENANCE)
    search_fields = ("source_id", "address", "code")


@admin.register(FoodInspection)
class FoodInspectionAdmin(RecordAdmin):
    list_display = ("inspection_date", "business_name", "risk_level", "result", "address", *_PROVENANCE)
    search_fields = ("source_id", "business_name", "address")


@admin.register(BuildingPermit)
class BuildingPermitAdmin(RecordAdmin):
    list_display = ("issue_date", "permit_number", "permit_type", "processing_days", "address", *_PROVENANCE)
    search_fields = ("permit_number", "address")


@admin.register(TaxLienEvent)
class TaxLienEventAdmin(RecordAdmin):
    list_display = ("tax_year", "pin", "event_type", "sold_at_sale", "amount_offered", *_PROVENANCE)
    search_fields = ("pin",)


@admin.register(VacantBuildingViolation)
class VacantBuildingViolationAdmin(RecordAdmin):
    list_display = ("issued_date", "docket_number", "violation_type", "amount_due", "address", *_PROVENANCE)
    search_fields = ("docket_number", "violation_number", "address")


@admin.register(Parcel)
class ParcelAdmin(ReadOnlyTenantAdmin):
    list_display = ("pin", "location", "created_at")
    search_fields = ("pin",)
    raw_id_fields = ("location",)


class RecordSourceForm(forms.ModelForm):
    base_url = forms.URLField(
        assume_scheme="https", help_text=RecordSource._meta.get_field("base_url").help_text
    )
    app_token = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text="Optional: a higher rate limit. Stored encrypted and never shown again. "
        "Leave empty to keep the current token.",
    )
    clear_app_token = forms.BooleanField(required=False, label="Remove the stored token")

    class Meta:
        model = RecordSource
        fields = ("dataset", "base_url", "resource_id", "format", "app_token", "clear_app_token", "active")


@admin.register(RecordSource)
class RecordSourceAdmin(TenantAdmin):
    form = RecordSourceForm
    list_display = ("dataset", "base_url", "resource_id", "format", "has_token", "active")

    @admin.display(boolean=True, description="App token")
    def has_token(self, obj: RecordSource) -> bool:
        return bool(obj.app_token_encrypted)

    def save_model(
        self, request: HttpRequest, obj: RecordSource, form: RecordSourceForm, change: bool
    ) -> None:
        record_source_save(
            source=obj,
            app_token=form.cleaned_data["app_token"],
            clear_app_token=form.cleaned_data["clear_app_token"],
        )


class PropertyRuleVersionInline(admin.TabularInline):
    model = PropertyRuleVersion
    fields = ("version", "threshold", "years", "severity", "active", "created_at", "created_by")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: PropertyRule | None = None) -> bool:
        return False


@admin.register(PropertyRule)
class PropertyRuleAdmin(TenantAdmin):
    list_display = ("code", "category", "description", "threshold", "years", "severity", "active", "version")
    list_filter = ("category", "active")
    readonly_fields = ("code", "category", "version", "updated_at")
    fields = (
        "code",
        "category",
        "description",
        "threshold",
        "years",
        "severity",
        "active",
        "version",
        "updated_at",
    )
    inlines = [PropertyRuleVersionInline]

    def save_model(
        self, request: HttpRequest, obj: PropertyRule, form: forms.ModelForm, change: bool
    ) -> None:
        # Through the service: a changed threshold, years, severity or activity is a new version.
        changes = {
            f: form.cleaned_data[f]
            for f in ("description", "threshold", "years", "severity", "active")
            if f in form.changed_data
        }
        before = obj.version
        rule = property_rule_revise(rule_id=obj.pk, actor=acting_user(request), **changes)
        if rule.version != before:
            self.message_user(
                request,
                f"Saved as version {rule.version}; reports made from now on use it, earlier ones keep "
                f"version {before}.",
                messages.INFO,
            )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a rule is SQL (analytics/records/sql/property_flags.sql); its row tunes it

    def has_delete_permission(self, request: HttpRequest, obj: PropertyRule | None = None) -> bool:
        return False  # deactivate it instead


class PropertyTierBoundForm(forms.ModelForm):
    class Meta:
        model = PropertyTierBound
        fields = ("min_score",)

    def clean(self) -> dict:
        # Refused on the form, with the reason, rather than after a "changed" message.
        cleaned = super().clean() or {}
        if cleaned.get("min_score") is not None:
            try:
                property_tier_bounds_check(bounds={self.instance.tier: cleaned["min_score"]})
            except ValidationError as exc:
                raise forms.ValidationError(exc.messages) from exc
        return cleaned


@admin.register(PropertyTierBound)
class PropertyTierBoundAdmin(TenantAdmin):
    form = PropertyTierBoundForm
    list_display = ("tier", "min_score", "updated_at")
    readonly_fields = ("tier", "updated_at")
    fields = ("tier", "min_score", "updated_at")

    def save_model(
        self, request: HttpRequest, obj: PropertyTierBound, form: forms.ModelForm, change: bool
    ) -> None:
        property_tier_bounds_set(bounds={obj.tier: obj.min_score})

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: PropertyTierBound | None = None) -> bool:
        return False
