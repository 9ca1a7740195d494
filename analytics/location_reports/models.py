"""Location accountability reports, stored whole (analytics/location_reports/,
docs/location-reports.md)."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class NarrativeSource(models.TextChoices):
    MODEL = "model", "Written by the language model"
    DETERMINISTIC = "deterministic", "Deterministic summary"


class LocationReport(models.Model):
    """One generated report, kept whole: its JSON is what the API returns again and what
    the PDF is rendered from, so a stored report reads the same however often it is
    fetched, whatever has happened since."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # "api:<key name>" or the staff member's username: kept even if the key or user goes.
    requested_by_label = models.CharField(max_length=150)
    request = models.JSONField(help_text="What was asked: an address, a point or an area.")
    resolved = models.BooleanField()
    location = models.ForeignKey(
        "reports.Location", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # PROTECT: areas are retired, never deleted (issues.models.Area.active).
    area = models.ForeignKey("issues.Area", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    narrative_source = models.CharField(max_length=15, choices=NarrativeSource.choices)
    body = models.JSONField(help_text="The whole report as generated: findings, narrative and its source.")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Location report {self.pk} ({self.created_at:%Y-%m-%d %H:%M})"


class LocationReportPdf(models.Model):
    """A stored report's PDF, rendered once, on its first download, and served from here
    after: rendering is the costly part (WeasyPrint), and the report never changes."""

    report = models.OneToOneField(
        LocationReport, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    pdf = models.BinaryField()
    rendered_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"PDF of location report {self.pk}"
