"""The resident report form. Field rules live in report_submit; the form shapes input."""

from django import forms
from django.utils.translation import gettext_lazy as _

from issues.models import Category
from reports.services.locations import point_in_tenant_areas

OUTSIDE_AREAS = _(
    "That point is outside the area this place looks after. Move the pin inside it, or type the address."
)


class CategoryChoiceField(forms.ModelChoiceField[Category]):
    """A category shown with its description, when it has one."""

    def label_from_instance(self, obj: Category) -> str:
        return f"{obj.name} — {obj.description}" if obj.description else obj.name


class ReportForm(forms.Form):
    description = forms.CharField(
        label=_("What is the problem?"),
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": 4000}),
        max_length=4000,
        strip=False,
    )
    category = CategoryChoiceField(
        label=_("Category (optional)"),
        # Copied for each form (ModelChoiceField's deepcopy), so read afresh in each tenant's schema.
        queryset=Category.objects.filter(active=True).order_by("name"),
        required=False,
        empty_label=_("Not sure — let us decide"),
    )
    address = forms.CharField(label=_("Address or place"), required=False, max_length=500)
    latitude = forms.FloatField(required=False, widget=forms.HiddenInput, min_value=-90, max_value=90)
    longitude = forms.FloatField(required=False, widget=forms.HiddenInput, min_value=-180, max_value=180)
    # "Me too" on an issue of the "already reported near here?" list: the report joins
    # that issue (checked by report_submit, honoured by grouping).
    chosen_issue = forms.IntegerField(required=False, widget=forms.HiddenInput, min_value=1)
    email = forms.EmailField(
        label=_("Email for updates (optional)"),
        required=False,
        help_text=_("Used only for updates about this report."),
    )
    # A file, not Django's ImageField: that opens the photo with Pillow in the web process.
    # It is opened only by a photo decoding process, once everything else is checked
    # (reports.photos).
    photo = forms.FileField(
        label=_("Photo (optional)"), required=False, widget=forms.FileInput(attrs={"accept": "image/*"})
    )
    # Invisible to people (hidden by CSS, skipped by keyboards and screen readers); bots
    # that fill every field fill this one.
    website = forms.CharField(required=False, label=_("Leave this empty"))

    def clean(self) -> dict:
        data = super().clean() or {}
        latitude, longitude = data.get("latitude"), data.get("longitude")
        if latitude is not None and longitude is not None and not point_in_tenant_areas(latitude, longitude):
            self.add_error("latitude", OUTSIDE_AREAS)
        return data
