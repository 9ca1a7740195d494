"""The public issues list's filters."""

from django import forms
from django.utils.translation import gettext_lazy as _

from issues.models import Area, Category, IssueStatus

# The deepest page of the public issues list (20 issues a page): beyond it, filter.
PUBLIC_LIST_MAX_PAGE = 500


class PublicIssueFilterForm(forms.Form):
    """The public issues list's filters (and its page). Choices are read afresh in each
    tenant's schema, for each form."""

    category = forms.ChoiceField(label=_("Category"), required=False)
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("Open and recent")), *IssueStatus.choices],
    )
    area = forms.ChoiceField(label=_("Area"), required=False)
    page = forms.IntegerField(required=False, min_value=1, max_value=PUBLIC_LIST_MAX_PAGE)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["category"].choices = [  # type: ignore[attr-defined]
            ("", _("All categories")),
            *Category.objects.order_by("name").values_list("code", "name"),
        ]
        self.fields["area"].choices = [  # type: ignore[attr-defined]
            ("", _("All areas")),
            *Area.objects.order_by("name").values_list("code", "name"),
        ]
