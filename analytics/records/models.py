"""The record datasets (append-only: a row is never updated or deleted after its load; a
correction is a new row in a new batch, and the views read each record's latest row) and
parcels. Every row keeps its source dataset and import batch, so each figure traces back
to the file or download it came from."""

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from reports.models import ImportBatch, Location


class Dataset(models.TextChoices):
    VIOLATIONS = "violations", "Building violations"
    INSPECTIONS = "inspections", "Food inspections"
    PERMITS = "permits", "Building permits"
    REQUESTS_311 = "311", "311 service requests"
    TAX_SALES = "tax_sales", "Tax sale and lien events"
    VACANT_BUILDINGS = "vacant_buildings", "Vacant building violations"


class Record(models.Model):
    """What every record row carries: where it came from and where it is."""

    # `chicago:violations`, `cook_county:tax_sales`, or a mapping's `source`.
    source_dataset = models.CharField(max_length=50)
    source_id = models.CharField(max_length=100, help_text="The row's id in its source (or a hash of it).")
    # The row's mapped values hashed: an unchanged row is never loaded twice, a changed
    # one (a correction) is a new row.
    row_hash = models.CharField(max_length=32)
    # No index of their own, paid for on every one of a million rows loaded: the batch's
    # rows are not looked up by it, and each table's (location, date) index serves the
    # location's.
    import_batch = models.ForeignKey(ImportBatch, on_delete=models.PROTECT, related_name="+", db_index=False)
    # NULL when the row's address and point matched no location.
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    loaded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        abstract = True


class AddressedRecord(Record):
    address = models.TextField(blank=True)
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)

    class Meta:
        abstract = True


class BuildingViolation(AddressedRecord):
    violation_date = models.DateField()
    code = models.TextField(blank=True)
    status = models.TextField(blank=True)
    status_date = models.DateField(null=True, blank=True)
    description = models.TextField(blank=True)
    inspection_status = models.TextField(blank=True)
    street_number = models.TextField(blank=True)
    street_direction = models.TextField(blank=True)
    street_name = models.TextField(blank=True)
    street_type = models.TextField(blank=True)
    zip = models.TextField(blank=True)

    class Meta:
        ordering = ["-violation_date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["source_dataset", "source_id", "row_hash"], name="violation_once")
        ]
        indexes = [models.Index(fields=["location", "-violation_date"], name="violation_location")]

    def __str__(self) -> str:
        return f"{self.code} {self.violation_date} at {self.address}"


class FoodInspection(AddressedRecord):
    business_name = models.TextField(blank=True)
    facility_type = models.TextField(blank=True)
    risk_level = models.TextField(blank=True)
    inspection_date = models.DateField()
    inspection_type = models.TextField(blank=True)
    result = models.TextField(blank=True)
    violations = models.TextField(blank=True)
    zip = models.TextField(blank=True)

    class Meta:
        ordering = ["-inspection_date", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source_dataset", "source_id", "row_hash"], name="inspection_once"
            )
        ]
        indexes = [models.Index(fields=["location", "-inspection_date"], name="inspection_location")]

    def __str__(self) -> str:
        return f"{self.business_name} {self.inspection_date}: {self.result}"


class BuildingPermit(AddressedRecord):
    permit_number = models.TextField()
    permit_type = models.TextField(blank=True)
    status = models.TextField(blank=True)
    application_start_date = models.DateField(null=True, blank=True)
    issue_date = models.DateField(null=True, blank=True)
    processing_days = models.IntegerField(null=True, blank=True)
    work_description = models.TextField(blank=True)
    pins = ArrayField(models.CharField(max_length=14), default=list, blank=True)
    street_number = models.TextField(blank=True)
    street_direction = models.TextField(blank=True)
    street_name = models.TextField(blank=True)
    street_type = models.TextField(blank=True)
    zip = models.TextField(blank=True)

    class Meta:
        ordering = ["-issue_date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["source_dataset", "source_id", "row_hash"], name="permit_once")
        ]
        indexes = [models.Index(fields=["location", "-issue_date"], name="permit_location")]

    def __str__(self) -> str:
        return f"Permit {self.permit_number}"


class TaxLienEvent(Record):
    """A tax sale or lien event of one parcel. Its location is its parcel's (the views
    read it through Parcel, so a parcel located after the event was loaded counts)."""

    pin = models.CharField(max_length=14)
    tax_year = models.IntegerField(null=True, blank=True)
    event_type = models.TextField(blank=True, help_text="The lien or sale type, as the source names it.")
    sold_at_sale = models.BooleanField(null=True, blank=True)
    amount_offered = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["-tax_year", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["source_dataset", "source_id", "row_hash"], name="taxlien_once")
        ]
        indexes = [
            models.Index(fields=["pin", "-tax_year"], name="taxlien_pin"),
            models.Index(fields=["location", "-tax_year"], name="taxlien_location"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.tax_year} on {self.pin}"


class VacantBuildingViolation(AddressedRecord):
    docket_number = models.TextField(blank=True)
    violation_number = models.TextField(blank=True)
    issued_date = models.DateField(null=True, blank=True)
    violation_type = models.TextField(blank=True)
    disposition = models.TextField(blank=True)
    total_fines = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    amount_due = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["-issued_date", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["source_dataset", "source_id", "row_hash"], name="vacant_once")
        ]
        indexes = [models.Index(fields=["location", "-issued_date"], name="vacant_location")]

    def __str__(self) -> str:
        return f"Docket {self.docket_number} at {self.address}"


class Parcel(models.Model):
    """A Cook County parcel by its 14-digit PIN (analytics.records.pins), located by the
    permits that name it. Not a record: its location is filled in once it becomes known."""

    pin = models.CharField(max_length=14, unique=True)
    # Indexed by `parcel_location` (Meta).
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pin"]
        constraints = [
            models.CheckConstraint(condition=models.Q(pin__regex=r"^[0-9]{14}$"), name="parcel_pin_digits")
        ]
        indexes = [models.Index(fields=["location"], name="parcel_location")]

    def __str__(self) -> str:
        return self.pin


class RecordSource(models.Model):
    """Where a dataset is downloaded from, for one tenant: a Socrata portal and a dataset id
    (analytics/records/socrata.py)."""

    dataset = models.CharField(max_length=20, unique=True, choices=Dataset.choices)
    base_url = models.URLField(help_text="The portal, e.g. https://data.cityofchicago.org")
    resource_id = models.CharField(max_length=20, help_text="The Socrata dataset id, e.g. 22u3-xenr.")
    format = models.CharField(max_length=20, default="chicago", help_text="The layout its rows are read in.")
    # The portal's app token (optional: a higher rate limit), encrypted as tenants' model
    # keys are (llm.secrets, LLM_SECRET_KEY); set through record_source_save, never shown.
    app_token_encrypted = models.TextField(blank=True, editable=False)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["dataset"]

    def __str__(self) -> str:
        return f"{self.dataset} from {self.base_url} ({self.resource_id})"
