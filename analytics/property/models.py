"""Stored property reports and the analysts who ask for them (docs/property.md)."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class MatchConfidence(models.TextChoices):
    """How the place asked for was found: the first of the four tiers that matched."""

    EXACT_PIN = "EXACT_PIN", "The parcel number"
    EXACT_ADDRESS = "EXACT_ADDRESS", "The standardised address"
    STREET_ZIP = "STREET_ZIP", "House number, street and ZIP code"
    GEOSPATIAL = "GEOSPATIAL", "The nearest known location within 50 m"
    NO_MATCH = "NO_MATCH", "Nothing matched"
    # A report asked for by a location id (from an earlier lookup): no matching was done.
    LOCATION_ID = "LOCATION_ID", "Named by its location id"


class PropertyReport(models.Model):
    """One generated property report, kept whole: its JSON is what the API returns again
    and what the PDF is rendered from, so a stored report reads the same however often it
    is fetched, whatever records arrive later."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Reports asked for with an API key are that key's: `mine` lists them.
    api_key = models.ForeignKey(
        "apikeys.ApiKey", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # "api:<key name>" or the username: kept even if the key or the user goes.
    requested_by_label = models.CharField(max_length=150)
    query = models.JSONField(help_text="What was asked: a location id, a PIN, an address or a point.")
    location = models.ForeignKey(
        "reports.Location", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    match_confidence = models.CharField(max_length=15, choices=MatchConfidence.choices)
    score = models.IntegerField(null=True, blank=True)
    tier = models.CharField(max_length=10, blank=True)
    flags = models.JSONField(default=list, help_text="The firing rules' codes.")
    body = models.JSONField(help_text="The whole report as generated.")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="propertyreport_user_recent")]

    def __str__(self) -> str:
        return f"Property report {self.pk} ({self.created_at:%Y-%m-%d %H:%M})"


class PropertyReportPdf(models.Model):
    """The PDF rendered once from a stored report: the report never changes, so neither
    does its PDF. Apart from the report so that lists never load the bytes."""

    report = models.OneToOneField(
        PropertyReport, on_delete=models.CASCADE, primary_key=True, related_name="pdf"
    )
    content = models.BinaryField()
    rendered_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"PDF of property report {self.report_id}"


class Analyst(models.Model):
    """What makes a user an analyst: property search, their own reports and their
    account, never the staff console (their user is never staff)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="analyst")
    full_name = models.CharField(max_length=150)
    organisation = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.full_name
