"""Shared (public schema) models: who the tenants are and which hosts reach them."""

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import connection, models
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin
from django_tenants.postgresql_backend.base import _check_schema_name
from django_tenants.utils import get_public_schema_name, schema_exists

from civicpulse.core.tenancy import tenant_connection
from tenants.schema_clone import clone_schema

# Lower-case letters, digits and inner hyphens: usable as a host label and a schema name.
slug_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$",
    "Use 1 to 50 lower-case letters, digits and hyphens, not at either end.",
)
RESERVED_SLUGS = frozenset({"public", "www", "admin", "api", "static", "media", "tenant_template"})


def validate_not_reserved(value: str) -> None:
    if value in RESERVED_SLUGS:
        raise ValidationError(f"{value!r} is reserved.")


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"Unknown time zone: {value!r}.")


def language_choices() -> list[tuple[str, str]]:
    # Read when a form asks, not at import time: settings.LANGUAGES is the one list.
    return list(settings.LANGUAGES)


class Tenant(TenantMixin):
    class Kind(models.TextChoices):
        # Translated: the public site and the tenant's home page show them to residents.
        CITY = "city", _("City")
        BUILDING = "building", _("Building")
        CAMPUS = "campus", _("Campus")
        HOTEL = "hotel", _("Hotel")
        FACILITY = "facility", _("Facility")

    # The slug is the schema name: one identifier for the host label, the schema and the CLI.
    schema_name = models.CharField(
        "slug", max_length=50, unique=True, validators=[slug_validator, validate_not_reserved]
    )
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    default_language = models.CharField(
        max_length=10,
        choices=language_choices,
        default="en",
        help_text="Resident pages and emails use it when a resident has not chosen a language "
        "(neither with the switcher nor in their browser).",
    )
    open311_jurisdiction_id = models.CharField(
        "Open311 jurisdiction id",
        max_length=100,
        unique=True,
        null=True,
        blank=True,
        help_text="Selects this tenant on the public host's Open311 endpoint.",
    )
    suspended = models.BooleanField(
        default=False, help_text="A suspended tenant answers 403 and keeps all of its data."
    )
    public_page_enabled = models.BooleanField(default=True, help_text="Show the public accountability page.")
    # Opt-in for every kind but a city (set by kind in tenant_create): a building's or a
    # hotel's record is not for the public to compare unless it chooses so.
    leaderboard_enabled = models.BooleanField(
        default=False, help_text="Take part in the cross-tenant leaderboard."
    )
    # On for cities, off for every other kind (set by kind in tenant_create): their
    # reports are about rooms and private buildings, not public streets.
    open311_public_reads = models.BooleanField(
        "public Open311 reads",
        default=False,
        help_text="Anyone may read this tenant's service requests through Open311 (GET requests); "
        "when off, only callers with a read API key may.",
    )
    analyst_accounts_enabled = models.BooleanField(
        default=False,
        help_text="Let people register as analysts (property search and reports only; city tenants).",
    )
    # Residents' submissions and data (docs/security.md, "Resident intake and residents' data").
    resident_reports_per_hour = models.PositiveIntegerField(
        default=300,
        help_text="Reports the resident form accepts in one hour across all senders (0: no cap). "
        "Past it, residents are asked to try again later.",
    )
    photo_storage_quota_mb = models.PositiveIntegerField(
        "photo storage quota (MB)",
        default=5120,
        help_text="Storage for residents' photos (0: no quota). When full, reports are still "
        "accepted, without a photo.",
    )
    resident_data_retention_months = models.PositiveSmallIntegerField(
        default=12,
        validators=[MinValueValidator(1)],
        help_text="Months after an issue is closed before its reporters' email addresses and "
        "photos are deleted. The issue and its public history stay.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when the platform admin deletes the tenant (tenants.deletion): it is suspended at
    # once and its schema, files and exports are dropped only once this has passed.
    deletion_due_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When this suspended tenant's data will be deleted for good (empty: not scheduled).",
    )

    auto_create_schema = True
    auto_drop_schema = False

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.schema_name})"

    def create_schema(
        self, check_if_exists: bool = False, sync_schema: bool = True, verbosity: int = 1
    ) -> bool:
        """Clone the migrated template when there is one (fast, whatever the number of
        tenants); otherwise create and migrate the schema the slow way."""
        template = settings.TENANT_TEMPLATE_SCHEMA
        if not sync_schema or not schema_exists(template):
            return super().create_schema(check_if_exists, sync_schema, verbosity)
        if check_if_exists and schema_exists(self.schema_name):
            return False
        _check_schema_name(self.schema_name)
        with connection.cursor() as cursor:
            clone_schema(cursor, template, self.schema_name)
        tenant_connection().set_schema_to_public()
        return True

    @property
    def slug(self) -> str:
        return self.schema_name

    @property
    def is_public(self) -> bool:
        return self.schema_name == get_public_schema_name()


class Domain(DomainMixin):
    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain


class LeaderboardEntry(models.Model):
    """A tenant's whole-tenant score at one moment, copied into the public schema by its
    hourly computation so the public site can compare tenants without entering their
    schemas. Copied only while the tenant takes part; read only for tenants that still
    do (an opt-out hides the history too)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="leaderboard_entries")
    kind = models.CharField(max_length=20, choices=Tenant.Kind.choices)
    computed_at = models.DateTimeField()
    window_days = models.PositiveSmallIntegerField()
    reported = models.PositiveIntegerField()
    resolved = models.PositiveIntegerField()
    compliance = models.FloatField(null=True)
    median_hours = models.FloatField(null=True)
    score = models.FloatField(null=True, help_text="Empty below the tenant's minimum of resolved issues.")

    class Meta:
        ordering = ["-computed_at"]
        verbose_name_plural = "leaderboard entries"
        indexes = [models.Index(fields=["tenant", "-computed_at"], name="leaderboard_tenant_time")]

    def __str__(self) -> str:
        return f"{self.tenant_id} at {self.computed_at:%Y-%m-%d %H:%M}"


class TenantExport(models.Model):
    """One export of a tenant's data (tenants.export): a zip of CSV files, one per table
    worth exporting, and the tenant's files, with a manifest of row counts and checksums.
    Progress while it runs is kept in the cache (the export reads one snapshot)."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for a worker"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    # Deleted with its tenant, and its file too (tenants.deletion).
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="exports")
    requested_by = models.CharField(max_length=150, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    file_name = models.CharField(max_length=300, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField("SHA-256", max_length=64, blank=True)
    tables = models.PositiveIntegerField(null=True, blank=True)
    rows = models.BigIntegerField(null=True, blank=True)
    files = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"export of {self.tenant_id} at {self.created_at:%Y-%m-%d %H:%M}"
