"""An integrator's key to a tenant's API."""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone


class ApiKey(models.Model):
    class Scope(models.TextChoices):
        SUBMIT = "submit", "Submit reports"
        READ = "read", "Read"
        STAFF = "staff", "Staff actions"
        PROPERTY = "property", "Property lookups and reports"
        # Its own scope: a location report writes a row and may call the language model.
        LOCATION = "location", "Create location reports"

    name = models.CharField(max_length=100)
    # The first characters of the key, to recognise it in lists; the key itself is not kept.
    prefix = models.CharField(max_length=12, db_index=True)
    # SHA-256 of the whole key: keys are long random strings, so a fast digest is enough
    # and keeps authentication cheap on the intake path.
    digest = models.CharField(max_length=64, unique=True)
    scopes = ArrayField(models.CharField(max_length=10, choices=Scope.choices), default=list)
    rate_per_minute = models.PositiveIntegerField(
        default=6000, help_text="Requests a minute before answering 429; 0 means no limit."
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # The table it was born with, when keys belonged to the reports app.
        db_table = "reports_apikey"
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
