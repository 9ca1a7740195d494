"""API keys in the staff console: created with the key shown once, revoked, never deleted."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from civicpulse.apikeys.models import ApiKey
from civicpulse.apikeys.services import api_key_create, api_key_revoke
from civicpulse.core.admin import TenantAdmin


@admin.register(ApiKey)
class ApiKeyAdmin(TenantAdmin):
    list_display = ("name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    fields = ("name", "scopes", "rate_per_minute", "prefix", "created_at", "last_used_at", "revoked_at")
    readonly_fields = ("prefix", "created_at", "last_used_at", "revoked_at")
    actions = ("revoke",)

    def save_model(self, request: HttpRequest, obj: ApiKey, form: ModelForm, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created, key = api_key_create(name=obj.name, scopes=list(obj.scopes))
        ApiKey.objects.filter(pk=created.pk).update(rate_per_minute=obj.rate_per_minute)
        obj.pk, obj._state.adding = created.pk, False
        # The key is shown this once; only its digest is stored.
        self.message_user(
            request, f"New API key (copy it now, it will not be shown again): {key}", messages.WARNING
        )

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False  # revoke instead: reports keep pointing at the key that sent them

    @admin.action(description="Revoke selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for api_key in queryset:
            api_key_revoke(api_key=api_key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)
