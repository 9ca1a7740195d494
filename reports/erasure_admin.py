"""The staff console's erasure of one reporter: a form that erases (the permission is
Django's "add" on Erasure) and the list of erasures done, which says when, by whom and
how much, never whose."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from civicpulse.core.admin import TenantAdmin, acting_user
from reports.models import Erasure
from reports.services.residents_data import reporter_erase


class EraseForm(forms.Form):
    email = forms.EmailField(label="Reporter's email address")
    redact_text = forms.BooleanField(
        required=False,
        label="Also remove their words",
        help_text="The text of their reports (and of an issue that copied it) is replaced by a note.",
    )
    confirm = forms.BooleanField(label="I understand that this cannot be undone")


@admin.register(Erasure)
class ErasureAdmin(TenantAdmin[Erasure]):
    list_display = ("created_at", "actor", "reports", "photos", "text_redacted")
    list_select_related = ("actor",)
    fields = list_display
    readonly_fields = list_display

    def has_change_permission(self, request: HttpRequest, obj: Erasure | None = None) -> bool:
        return False  # the record of an erasure is what happened: nobody edits it

    def has_delete_permission(self, request: HttpRequest, obj: Erasure | None = None) -> bool:
        return False

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = EraseForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                erasure = reporter_erase(
                    email=form.cleaned_data["email"],
                    redact_text=form.cleaned_data["redact_text"],
                    actor=acting_user(request),
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                self.message_user(
                    request,
                    f"Erased: {erasure.reports} report(s) lost the address, {erasure.photos} photo(s) deleted"
                    + (", their text removed." if erasure.text_redacted else "."),
                    messages.SUCCESS,
                )
                return redirect("admin:reports_erasure_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": "Erase a reporter",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/reports/erasure/erase.html", context)
