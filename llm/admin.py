from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from civicpulse.core.admin import SETUP_CACHE_NOTE, ReadOnlyTenantAdmin, TenantAdmin
from civicpulse.core.charts import stacked_bars_svg
from llm.models import Endpoint, ModelCall, TrainedClassifier, TrainingExample
from llm.selectors import model_call_daily_totals
from llm.services import endpoint_save


class EndpointForm(forms.ModelForm):
    base_url = forms.URLField(
        required=False, assume_scheme="https", help_text=Endpoint._meta.get_field("base_url").help_text
    )
    api_key = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted and never shown again. Leave empty to keep the current key.",
    )
    clear_api_key = forms.BooleanField(required=False, label="Remove the stored key")

    class Meta:
        model = Endpoint
        fields = (
            "mode",
            "base_url",
            "model",
            "api_key",
            "clear_api_key",
            "timeout_s",
            "classify",
            "adjudicate",
        )


@admin.register(Endpoint)
class EndpointAdmin(TenantAdmin):
    form = EndpointForm
    list_display = ("mode", "base_url", "model", "has_key", "classify", "adjudicate", "updated_at")

    def get_fieldsets(self, request: HttpRequest, obj: Endpoint | None = None) -> list:
        return [
            (None, {"fields": list(self.get_fields(request, obj)), "description": SETUP_CACHE_NOTE.strip()})
        ]

    @admin.display(boolean=True, description="API key")
    def has_key(self, obj: Endpoint) -> bool:
        return bool(obj.api_key_encrypted)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not Endpoint.objects.exists()  # one per tenant

    def save_model(self, request: HttpRequest, obj: Endpoint, form: EndpointForm, change: bool) -> None:
        endpoint_save(
            endpoint=obj,
            api_key=form.cleaned_data["api_key"],
            clear_api_key=form.cleaned_data["clear_api_key"],
        )


@admin.register(ModelCall)
class ModelCallAdmin(ReadOnlyTenantAdmin):
    """The audit log: read-only, with the last 30 days' totals as a chart and a table."""

    change_list_template = "admin/llm/modelcall/change_list.html"
    list_display = (
        "created_at",
        "purpose",
        "model",
        "endpoint",
        "outcome",
        "latency_ms",
        "attempts",
        "prompt_tokens",
        "completion_tokens",
        "detail",
    )
    list_filter = ("purpose", "outcome", "model")
    date_hierarchy = "created_at"

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        daily = model_call_daily_totals(days=30)
        chart = stacked_bars_svg(
            [(f"{d.day:%m-%d}", [d.ok, d.failed]) for d in daily],
            ["answered", "fell back"],
            title="Model calls per day, last 30 days",
        )
        return super().changelist_view(request, {**(extra_context or {}), "daily": daily, "chart": chart})


@admin.register(TrainingExample)
class TrainingExampleAdmin(ReadOnlyTenantAdmin):
    list_display = ("ref", "category", "severity", "updated_at", "text")
    list_filter = ("category", "severity")
    search_fields = ("ref", "text")


@admin.register(TrainedClassifier)
class TrainedClassifierAdmin(ReadOnlyTenantAdmin):
    list_display = ("version", "created_at", "examples", "labels", "metrics")
    exclude = ("parameters",)
