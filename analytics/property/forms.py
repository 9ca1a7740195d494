"""The analyst pages' forms."""

from django import forms


class SignUpForm(forms.Form):
    full_name = forms.CharField(
        label="Full name", max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    email = forms.EmailField(
        label="Email (your login)", widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    organisation = forms.CharField(
        label="Organisation (optional)",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "organization"}),
    )
    password = forms.CharField(
        label="Password",
        min_length=8,
        help_text="At least 8 characters; not a common password, not only digits, not like your name or email.",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


class SignInForm(forms.Form):
    login = forms.CharField(
        label="Email or username", max_length=254, widget=forms.TextInput(attrs={"autocomplete": "username"})
    )
    password = forms.CharField(
        label="Password", widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class SearchForm(forms.Form):
    """Any of: an address, a PIN, a point. The tiers are tried in the lookup's order."""

    address = forms.CharField(
        label="Address",
        max_length=500,
        required=False,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "list": "address-suggestions", "spellcheck": "false"}
        ),
    )
    pin = forms.CharField(label="Parcel number (PIN)", max_length=40, required=False)
    latitude = forms.FloatField(label="Latitude", required=False, min_value=-90, max_value=90)
    longitude = forms.FloatField(label="Longitude", required=False, min_value=-180, max_value=180)

    def clean(self) -> dict:
        data = super().clean() or {}
        point = [data.get("latitude"), data.get("longitude")]
        if (point[0] is None) != (point[1] is None):
            raise forms.ValidationError("Give latitude and longitude together.")
        if not (data.get("address") or data.get("pin") or point[0] is not None):
            raise forms.ValidationError("Give an address, a parcel number, or a latitude and longitude.")
        return data

    def query(self) -> dict:
        """The query as the lookup and the stored report take it."""
        data = self.cleaned_data
        query: dict = {k: data[k].strip() for k in ("address", "pin") if data.get(k, "").strip()}
        if data.get("latitude") is not None:
            query |= {"latitude": data["latitude"], "longitude": data["longitude"]}
        return query
