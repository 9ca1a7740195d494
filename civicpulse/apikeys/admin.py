"""API keys in the staff console: created with the key shown once, revoked, never deleted."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers

from civicpulse.apikeys.models import ApiKey
from civicpulse.apikeys.services import api_key_create, api_key_revoke
from civicpulse.core.admin import TenantAdmin

# The request attribute carrying a key just created from save_model to response_add.
_NEW_KEY = "_civicpulse_new_api_key"


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
        # Shown once, on the page answering this POST (response_add); only its digest is
        # stored. Never a message: messages travel in a cookie or the session.
        setattr(request, _NEW_KEY, key)  # on this request only, for response_add

    def response_add(
        self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None
    ) -> HttpResponse:
        key = getattr(request, _NEW_KEY, None)
        if key is None:
            return super().response_add(request, obj, post_url_continue)
        response = TemplateResponse(
            request,
            "admin/apikeys/apikey/created.html",
            {**self.admin_site.each_context(request), "title": "New API key", "api_key": obj, "key": key},
        )
        add_never_cache_headers(response)  # no copy of the key in any cache
        return response

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        return False  # revoke instead: reports keep pointing at the key that sent them

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for api_key in queryset:
            api_key_revoke(api_key=api_key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)
