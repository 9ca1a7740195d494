"""Reports (one resident submission each), import batches, and known locations used to
place address-only reports."""

import secrets
import uuid

from django.conf import settings
from django.contrib.postgres.functions import RandomUUID
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models.functions import Collate
from django.utils import timezone

from civicpulse.apikeys.models import ApiKey
from issues.models import Category, Issue, Severity

# Crockford's base32 without I, L, O, U: easy to read out on a phone, no lookalikes.
TRACKING_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TRACKING_LENGTH = 10  # 50 random bits


def new_tracking_id() -> str:
    # The 32 letters are 5 bits each: one draw of 50 bits is the same as ten draws of a
    # letter, with one read of the system's randomness instead of ten (a tenth of an
    # API intake's CPU went to those reads).
    bits = secrets.randbits(5 * TRACKING_LENGTH)
    return "".join(TRACKING_ALPHABET[(bits >> (5 * i)) & 31] for i in range(TRACKING_LENGTH))


class ImportBatch(models.Model):
    """One run of `import_reports`: what was read, from where, and what became of it.
    Every imported report keeps its batch, so each figure traces back to its file."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    source_format = models.CharField(max_length=20)
    file_name = models.CharField(max_length=500)
    checksum = models.CharField(max_length=64, help_text="SHA-256 of the file as read.")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    rows_read = models.PositiveIntegerField(default=0)
    rows_loaded = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    rows_skipped = models.PositiveIntegerField(default=0, help_text="Already imported by an earlier batch.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    error = models.TextField(blank=True)
    # The record dataset a city-records batch loaded (analytics.records); empty for reports.
    dataset = models.CharField(max_length=20, blank=True, default="", db_default="")

    class Meta:
        ordering = ["-started_at"]
        verbose_name_plural = "import batches"

    def __str__(self) -> str:
        return f"{self.source_format}: {self.file_name} ({self.started_at:%Y-%m-%d %H:%M})"


class RejectedRow(models.Model):
    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="rejected")
    line = models.PositiveIntegerField(help_text="Line in the file (the header is line 1).")
    source_id = models.CharField(max_length=100, blank=True)
    reason = models.CharField(max_length=300)
    raw = models.JSONField()

    class Meta:
        ordering = ["batch", "line"]

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class Report(models.Model):
    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"

    class Channel(models.TextChoices):
        API = "api", "API"
        WEB = "web", "Resident form"
        OPEN311 = "open311", "Open311"
        IMPORT = "import", "Import"

    class CategorySource(models.TextChoices):
        RESIDENT = "resident", "Chosen by the resident"
        CLASSIFIER = "classifier", "Classifier"
        STAFF = "staff", "Staff"

    # Unique through a constraint (Meta), not unique=True: that would add a second,
    # pattern-matching index no query uses, paid for on every insert.
    tracking_id = models.CharField(max_length=TRACKING_LENGTH, default=new_tracking_id)
    # The id public feeds (Open311 `service_request_id`) show: never the tracking id, which
    # stays the reporter's own key to the tracking page and the photo. The database
    # default serves the bulk import, which inserts with SQL of its own.
    public_id = models.UUIDField(default=uuid.uuid4, db_default=RandomUUID(), editable=False)
    channel = models.CharField(max_length=10, choices=Channel.choices, default=Channel.API)
    api_key = models.ForeignKey(
        ApiKey, on_delete=models.SET_NULL, null=True, blank=True, related_name="reports"
    )
    # NULL, not "": "no external id", which the partial unique constraint below leaves out.
    external_id = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001

    description = models.TextField()
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    address = models.CharField(max_length=500, blank=True)
    address_key = models.CharField(max_length=300, blank=True)
    # An address-only report no known location matched: staff should place it.
    needs_placement = models.BooleanField(default=False)
    email = models.EmailField(blank=True)
    # Double opt-in: updates go only to an address whose owner clicked the link of the
    # confirmation email. `confirmation_sent_at` empty with an email is the pending marker
    # the notification sweep sends confirmations by.
    email_confirmed = models.BooleanField(default=False, db_default=False)
    confirmation_sent_at = models.DateTimeField(null=True, blank=True)
    # Answers to the category's extra questions, by question code (Open311 attributes).
    # The database default serves the bulk import, which inserts with SQL of its own.
    attributes = models.JSONField(
        default=dict, db_default=models.Value({}, output_field=models.JSONField()), blank=True
    )
    # Cleared by the one-click unsubscribe link in every update email.
    notify = models.BooleanField(default=True)
    # The language the resident's pages spoke (the form's): their emails speak it too.
    # Empty (API, Open311, imports): the tenant's default language.
    language = models.CharField(max_length=10, blank=True, default="", db_default="")
    # Stored re-encoded, without EXIF or location metadata (reports.photos).
    photo = models.ImageField(upload_to="photos/%Y/%m/", blank=True)
    # Size of the stored photo (0: none), so a tenant's photo storage is summed from an
    # index instead of walking the disk (reports.limits).
    photo_bytes = models.PositiveIntegerField(default=0, db_default=0)
    # Shown publicly (Open311 `media_url`) only once staff approved it; until then only
    # staff and the reporter's own tracking page show it.
    photo_approved = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Staff checked the photo: it may be shown publicly (Open311 media_url).",
    )
    # A picture the reporting system keeps itself (Open311 `media_url`): linked, not fetched.
    media_url = models.URLField(max_length=500, blank=True, default="", db_default="")

    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, null=True, blank=True, related_name="reports"
    )
    category_source = models.CharField(max_length=10, choices=CategorySource.choices, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, blank=True)
    summary = models.CharField(max_length=300, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    classifier = models.CharField(max_length=50, blank=True)
    # Why the language model's answer was not used, when one was asked ("model not used: timeout").
    classifier_note = models.CharField(max_length=200, blank=True)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    submitted_at = models.DateTimeField(default=timezone.now)
    # Delivery bookkeeping, so the sweeper re-sends only what is really stuck.
    enqueued_at = models.DateTimeField(null=True, blank=True)
    enqueue_count = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(default=0)
    # When a worker claimed the report and started processing it; cleared when that try
    # fails. The sweeper leaves a report alone while this is recent: a worker is on it.
    processing_started_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    # Indexed by report_issue_time (issue, submitted_at), which serves both.
    issue = models.ForeignKey(
        Issue, on_delete=models.SET_NULL, null=True, blank=True, related_name="reports", db_index=False
    )
    # Imported history: the batch it came in and its id in the source system.
    import_batch = models.ForeignKey(
        ImportBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="reports"
    )
    source = models.CharField(max_length=20, blank=True, help_text="The source system of an imported report.")
    # NULL, not "", for a live report (not imported): the partial unique constraint below leaves it out.
    source_id = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    # Why the report joined its issue: method, distance, time gap, similarity, thresholds.
    match = models.JSONField(null=True, blank=True)
    # The issue the resident said this is ("Me too" on the report form's list of issues
    # already reported nearby): grouping links the report to it while it is open. Not
    # indexed: only the report's own processing reads it.
    chosen_issue = models.ForeignKey(
        Issue,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        help_text="The issue the resident chose (“Me too”) when sending the report.",
    )

    class Meta:
        ordering = ["-submitted_at"]
        permissions = [("approve_photo", "Can approve report photos for the public")]
        constraints = [
            models.UniqueConstraint(fields=["tracking_id"], name="report_unique_tracking_id"),
            models.UniqueConstraint(fields=["public_id"], name="report_unique_public_id"),
            models.UniqueConstraint(
                fields=["api_key", "external_id"],
                condition=models.Q(external_id__isnull=False),
                name="report_unique_external_id_per_key",
            ),
            # Re-importing a file loads nothing twice.
            models.UniqueConstraint(
                fields=["source", "source_id"],
                condition=models.Q(source_id__isnull=False),
                name="report_unique_source_id",
            ),
        ]
        indexes = [
            models.Index(fields=["submitted_at"], name="report_submitted"),
            models.Index(
                fields=["enqueued_at"], name="report_received_queue", condition=models.Q(status="received")
            ),
            models.Index(fields=["issue", "submitted_at"], name="report_issue_time"),
            models.Index(fields=["address_key"], name="report_address_key"),
            # The tenant's photo storage in use: an index-only sum over reports with a photo.
            models.Index(
                fields=["photo_bytes"], name="report_photo_bytes", condition=models.Q(photo_bytes__gt=0)
            ),
            # The notification sweep's confirmation emails still to send (a few rows at most).
            models.Index(
                fields=["submitted_at"],
                name="report_confirmation_pending",
                condition=models.Q(email_confirmed=False, confirmation_sent_at=None) & ~models.Q(email=""),
            ),
        ]

    def __str__(self) -> str:
        return self.tracking_id


class Location(models.Model):
    """A place known by its standardised address, with its point. The point comes from
    staff placement, from several independent reports that agree (LocationSighting,
    reports.services.locations) or from the city's own imported records; only staff move
    it once known, and each change is a LocationChange."""

    class Source(models.TextChoices):
        STAFF = "staff", "Placed by staff"
        REPORTS = "reports", "Agreement of independent reports"
        IMPORT = "import", "Imported city records"

    address_key = models.CharField(max_length=300)
    address = models.CharField(max_length=500)
    # The standardised parts (reports.addresses), empty where the address is not US-style.
    number = models.CharField(max_length=20, blank=True)
    direction = models.CharField(max_length=10, blank=True)
    street = models.CharField(max_length=200, blank=True)
    street_type = models.CharField(max_length=20, blank=True)
    unit = models.CharField(max_length=50, blank=True)
    zip = models.CharField(max_length=10, blank=True)
    latitude = models.FloatField()
    longitude = models.FloatField()
    # The database default serves the bulk import, which inserts with SQL of its own.
    source = models.CharField(
        max_length=10, choices=Source.choices, default=Source.STAFF, db_default="import"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # HIGH when the house number and street are known (split columns, or recovered by
    # parsing the address), LOW otherwise. Computed by PostgreSQL from the parts, so every
    # writer (intake, imports, record loaders) agrees without saying so.
    parse_confidence = models.GeneratedField(
        expression=models.Case(
            models.When(~models.Q(number="") & ~models.Q(street=""), then=models.Value("HIGH")),
            default=models.Value("LOW"),
        ),
        output_field=models.CharField(max_length=4),
        db_persist=True,
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["address_key"], name="location_unique_address_key")]
        indexes = [
            # The property search's address autocomplete: a prefix (LIKE 'q%', in "C"
            # order so the first ten are read straight from the index) and a trigram
            # similarity over the standardised addresses (docs/property.md).
            models.Index(Collate("address_key", "C"), name="location_address_c"),
            GinIndex(fields=["address_key"], opclasses=["public.gin_trgm_ops"], name="location_address_trgm"),
            # The property lookup's nearest location to a point: the box around it first.
            models.Index(fields=["latitude", "longitude"], name="location_point"),
            # The lookup by house number, street and ZIP code.
            models.Index(fields=["street", "number", "zip"], name="location_street_number_zip"),
        ]

    def __str__(self) -> str:
        return self.address


class LocationSighting(models.Model):
    """One independent witness of where an address is: a report that gave the address
    and a point. Witnesses are keyed (salted hashes, never the raw values) by the client
    address, and the email when one was given; a witness counts once per address.
    Deleted once the address has its Location."""

    address_key = models.CharField(max_length=300)
    client_hash = models.CharField(max_length=64)
    email_hash = models.CharField(max_length=64, blank=True)
    latitude = models.FloatField()
    longitude = models.FloatField()
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["address_key", "client_hash"], name="sighting_once_per_client")
        ]

    def __str__(self) -> str:
        return f"{self.address_key} at {self.latitude:.5f}, {self.longitude:.5f}"


class LocationChange(models.Model):
    """The append-only record of where an address was placed, by whom and from where."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="changes")
    source = models.CharField(max_length=10, choices=Location.Source.choices)
    from_latitude = models.FloatField(null=True, blank=True)
    from_longitude = models.FloatField(null=True, blank=True)
    to_latitude = models.FloatField()
    to_longitude = models.FloatField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.location_id}: {self.get_source_display()} at {self.at:%Y-%m-%d %H:%M}"


class PendingNotification(models.Model):
    """A public change (an IssueEvent) residents were not told about yet: written in the
    change's own transaction, deleted once the notifications went out, so the sweep finds
    whatever a lost message left behind, however old."""

    event_id = models.BigIntegerField(primary_key=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"event {self.event_id} to tell"


class Notification(models.Model):
    """One email to one address about one issue event: the unique pair makes a change
    notify each resident once, however often the task runs."""

    event_id = models.BigIntegerField()
    email = models.EmailField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event_id", "email"], name="notification_once_per_event")
        ]

    def __str__(self) -> str:
        return f"{self.email} about event {self.event_id}"


class Erasure(models.Model):
    """Staff erased one reporter's data across the tenant (reports.services.residents_data):
    when, by whom and how much, never whose. Adding one is the permission to erase."""

    created_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reports = models.PositiveIntegerField(help_text="Reports whose email address was removed.")
    photos = models.PositiveIntegerField(help_text="Photos deleted.")
    text_redacted = models.BooleanField(help_text="The reports' text was removed too.")

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "reporter erasure"

    def __str__(self) -> str:
        return f"erasure of {self.created_at:%Y-%m-%d %H:%M}"
