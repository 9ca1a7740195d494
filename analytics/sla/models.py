"""Service levels: versioned SLA policies, the tenant's business calendar (and its
materialised working intervals), pauses, the state of open issues and the metrics of
resolved ones. How the figures are computed: analytics/sla/sql.py and docs/sla.md."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from issues.models import Category, Issue, IssueEvent, Severity


class SlaClock(models.TextChoices):
    BUSINESS = "business", "Business hours"
    CALENDAR = "calendar", "Calendar hours"


class SlaPolicy(models.Model):
    """One version of the targets for one severity, for one category or (category empty)
    for every category that has no policy of its own.

    Versions are immutable: editing a policy supersedes the row and adds the next version
    (analytics.sla.services.policies.sla_policy_revise), so a metric keeps the targets it was measured
    with. An issue is measured with the version in effect when it was created; versions
    installed with the tenant (effective_from empty) also cover older, imported issues."""

    category = models.ForeignKey(
        Category,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="sla_policies",
        help_text="Leave empty for the tenant-wide default of this severity.",
    )
    severity = models.CharField(max_length=10, choices=Severity.choices)
    acknowledge_hours = models.DecimalField(
        max_digits=7, decimal_places=2, validators=[MinValueValidator(0.01)]
    )
    resolve_hours = models.DecimalField(max_digits=7, decimal_places=2, validators=[MinValueValidator(0.01)])
    clock = models.CharField(
        max_length=10,
        choices=SlaClock.choices,
        default=SlaClock.BUSINESS,
        help_text="Business hours follow the tenant's calendar; calendar hours count every hour.",
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    effective_from = models.DateTimeField(null=True, blank=True, editable=False)
    superseded_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )

    class Meta:
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        ordering = ["category__name", "severity", "-version"]
        constraints = [
            # Only the current versions are unique; superseded ones stay for their metrics.
            models.UniqueConstraint(
                fields=["category", "severity"],
                condition=models.Q(superseded_at__isnull=True),
                name="sla_policy_unique_category_severity",
            ),
            models.UniqueConstraint(
                fields=["severity"],
                condition=models.Q(category__isnull=True, superseded_at__isnull=True),
                name="sla_policy_unique_default_severity",
            ),
            models.UniqueConstraint(
                fields=["category", "severity", "version"], name="sla_policy_unique_version"
            ),
        ]

    def __str__(self) -> str:
        scope = self.category.name if self.category else "Any category"
        return f"{scope} / {self.get_severity_display()} (v{self.version})"

    def clean(self) -> None:
        if (
            self.acknowledge_hours is not None
            and self.resolve_hours is not None
            and self.acknowledge_hours > self.resolve_hours
        ):
            raise ValidationError(
                {"acknowledge_hours": "Acknowledgement cannot take longer than resolution."}
            )


class BusinessCalendar(models.Model):
    """The tenant's working week and holidays, in the tenant's time zone. One per tenant
    schema. Every edit re-materialises CalendarInterval."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    name = models.CharField(max_length=100, default="Business hours")
    # What CalendarInterval was generated from: the zone and the span it covers.
    materialised_timezone = models.CharField(max_length=64, blank=True, editable=False)
    horizon_start = models.DateField(null=True, blank=True, editable=False)
    horizon_end = models.DateField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="businesscalendar_single_row")]

    def __str__(self) -> str:
        return self.name


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class OpeningHours(models.Model):
    """One working interval of a weekday in local time; a day may have several. A closing
    time of 00:00 means midnight at the end of the day."""

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering = ["weekday", "opens"]
        verbose_name_plural = "opening hours"

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}–{self.closes:%H:%M}"

    def clean(self) -> None:
        if (
            self.opens is not None
            and self.closes is not None
            and self.closes.isoformat() != "00:00:00"
            and self.closes <= self.opens
        ):
            raise ValidationError({"closes": "Closing must come after opening (00:00 means midnight)."})


class Holiday(models.Model):
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["calendar", "date"], name="holiday_unique_date")]

    def __str__(self) -> str:
        return f"{self.date}: {self.name}"


# Derived rows with no admin and no relation: never shown, so no __str__.
class CalendarInterval(models.Model):  # noqa: DJ008
    """The calendar turned into working intervals in UTC, each with the working seconds
    of all intervals before it. Working seconds up to a moment are then one index probe
    (see analytics/sla/sql.py), so every issue is measured in one SQL statement."""

    start_at = models.DateTimeField(unique=True)
    end_at = models.DateTimeField()
    cum_before = models.FloatField()
    cum_after = models.FloatField(db_index=True)

    class Meta:
        ordering = ["start_at"]


class PauseReason(models.Model):
    """Why an issue's clock may stop: something outside the tenant's control."""

    code = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class IssuePause(models.Model):
    """A stretch of time during which an issue's SLA clocks stood still."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="sla_pauses")
    reason = models.ForeignKey(PauseReason, on_delete=models.PROTECT, related_name="pauses")
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=300, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["started_at"]
        indexes = [models.Index(fields=["issue", "started_at"], name="issuepause_issue_start")]
        constraints = [
            models.UniqueConstraint(
                fields=["issue"], condition=models.Q(ended_at__isnull=True), name="issuepause_one_open"
            ),
            models.CheckConstraint(
                condition=models.Q(ended_at__isnull=True) | models.Q(ended_at__gte=models.F("started_at")),
                name="issuepause_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reason} on issue {self.issue_id}"


class SlaState(models.TextChoices):
    ON_TRACK = "on_track", "On track"
    AT_RISK = "at_risk", "At risk"
    BREACHED = "breached", "Breached"


class SlaTarget(models.TextChoices):
    ACKNOWLEDGE = "acknowledge", "Acknowledgement"
    RESOLVE = "resolve", "Resolution"


# The SLA state, crossings and metrics are derived: one SQL pass writes hundreds of
# thousands of them at a time from the issues and policies, and recompute_sla rebuilds
# them. Their keys are not enforced by PostgreSQL (db_constraint=False): deferred key
# checks cost a third of a first pass over a million issues, and these rows are only
# ever written by that pass from rows that exist. Deleting an issue or a category through
# Django still cascades to them as declared.
class IssueSla(models.Model):
    """Where an open issue stands, as of the last evaluation pass. Rows of issues that
    are no longer open are removed by the pass."""

    issue = models.OneToOneField(
        Issue, on_delete=models.CASCADE, primary_key=True, related_name="sla", db_constraint=False
    )
    policy = models.ForeignKey(SlaPolicy, on_delete=models.PROTECT, related_name="+", db_constraint=False)
    ack_due_at = models.DateTimeField(null=True)
    resolve_due_at = models.DateTimeField(null=True)
    # The deadline that matters next: acknowledgement until acknowledged, then resolution.
    next_due_at = models.DateTimeField(null=True)
    ack_used = models.FloatField(help_text="Share of the acknowledgement target used (1 = all of it).")
    resolve_used = models.FloatField(help_text="Share of the resolution target used (1 = all of it).")
    paused_seconds = models.FloatField(default=0, help_text="Paused time, in the policy's hours.")
    paused = models.BooleanField(default=False)
    state = models.CharField(max_length=10, choices=SlaState.choices)
    evaluated_at = models.DateTimeField()

    class Meta:
        verbose_name = "SLA state"
        indexes = [models.Index(fields=["state", "next_due_at"], name="issuesla_state_due")]

    def __str__(self) -> str:
        return f"SLA of issue {self.issue_id}: {self.get_state_display()}"


class SlaCrossing(models.Model):
    """A threshold (50 %, 75 %, breach) of one target crossed by an issue: recorded once,
    with its IssueEvent, and notified (75 % and breach) once."""

    issue = models.ForeignKey(
        Issue, on_delete=models.CASCADE, related_name="sla_crossings", db_constraint=False
    )
    target = models.CharField(max_length=12, choices=SlaTarget.choices)
    threshold = models.PositiveSmallIntegerField(help_text="Percent of the target: 50, 75 or 100 (breach).")
    crossed_at = models.DateTimeField(help_text="When the threshold was reached.")
    recorded_at = models.DateTimeField(default=timezone.now)
    # No database constraint: a first pass over a tenant's backlog records hundreds of
    # thousands of crossings, each of whose key checks at commit cost more than the
    # insert. Both rows are written by the same statement and neither is ever deleted on
    # its own (an issue's deletion takes both).
    event = models.ForeignKey(
        IssueEvent, on_delete=models.CASCADE, null=True, related_name="+", db_constraint=False
    )
    # Empty when nobody is to be told (50 %, a stopped clock, or no address).
    recipient = models.EmailField(blank=True)
    notified_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issue", "target", "threshold"], name="slacrossing_once"),
        ]
        indexes = [
            models.Index(
                fields=["recorded_at"],
                name="slacrossing_pending",
                condition=models.Q(notified_at__isnull=True) & ~models.Q(recipient=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.threshold} % of issue {self.issue_id}'s {self.get_target_display().lower()} target"


class SlaMetric(models.Model):
    """How a resolved issue did against its targets, measured with the policy version in
    effect when it was created. Rebuilt idempotently (recompute_sla)."""

    issue = models.OneToOneField(
        Issue, on_delete=models.CASCADE, primary_key=True, related_name="sla_metric", db_constraint=False
    )
    policy = models.ForeignKey(
        SlaPolicy, on_delete=models.PROTECT, related_name="metrics", db_constraint=False
    )
    clock = models.CharField(max_length=10, choices=SlaClock.choices)
    category = models.ForeignKey(
        Category, on_delete=models.SET_NULL, null=True, related_name="+", db_constraint=False
    )
    severity = models.CharField(max_length=10, choices=Severity.choices)
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField()
    # An issue resolved without being acknowledged first was acknowledged by resolving it.
    ack_seconds = models.FloatField(help_text="Time to acknowledge in the policy's hours, pauses excluded.")
    resolve_seconds = models.FloatField()
    ack_target_seconds = models.FloatField()
    resolve_target_seconds = models.FloatField()
    ack_met = models.BooleanField()
    resolve_met = models.BooleanField()
    paused_seconds = models.FloatField()
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name = "SLA metric"
        indexes = [models.Index(fields=["resolved_at"], name="slametric_resolved")]

    def __str__(self) -> str:
        return f"SLA metric of issue {self.issue_id}"
