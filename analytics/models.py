"""Service levels: versioned SLA policies, the tenant's business calendar (and its
materialised working intervals), pauses, the state of open issues and the metrics of
resolved ones. How the figures are computed: analytics/sla.py and docs/sla.md."""
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
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
    (analytics.services.sla_policy_revise), so a metric keeps the targets it was measured
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
    resolve_hours = models.DecimalField(
        max_digits=7, decimal_places=2, validators=[MinValueValidator(0.01)]
    )
    clock = models.CharField(
        max_length=10, choices=SlaClock.choices, default=SlaClock.BUSINESS,
        help_text="Business hours follow the tenant's calendar; calendar hours count every hour.",
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    effective_from = models.DateTimeField(null=True, blank=True, editable=False)
    superseded_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
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
            models.UniqueConstraint(fields=["category", "severity", "version"], name="sla_policy_unique_version"),
        ]

    def __str__(self) -> str:
        scope = self.category.name if self.category_id else "Any category"
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
        if self.opens is not None and self.closes is not None and self.closes.isoformat() != "00:00:00" and self.closes <= self.opens:
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


class CalendarInterval(models.Model):
    """The calendar turned into working intervals in UTC, each with the working seconds
    of all intervals before it. Working seconds up to a moment are then one index probe
    (see analytics/sla.py), so every issue is measured in one SQL statement."""

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
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    ended_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["started_at"]
        indexes = [models.Index(fields=["issue", "started_at"], name="issuepause_issue_start")]
        constraints = [
            models.UniqueConstraint(fields=["issue"], condition=models.Q(ended_at__isnull=True), name="issuepause_one_open"),
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


class SlaCrossing(models.Model):
    """A threshold (50 %, 75 %, breach) of one target crossed by an issue: recorded once,
    with its IssueEvent, and notified (75 % and breach) once."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="sla_crossings", db_constraint=False)
    target = models.CharField(max_length=12, choices=SlaTarget.choices)
    threshold = models.PositiveSmallIntegerField(help_text="Percent of the target: 50, 75 or 100 (breach).")
    crossed_at = models.DateTimeField(help_text="When the threshold was reached.")
    recorded_at = models.DateTimeField(default=timezone.now)
    # No database constraint: a first pass over a tenant's backlog records hundreds of
    # thousands of crossings, each of whose key checks at commit cost more than the
    # insert. Both rows are written by the same statement and neither is ever deleted on
    # its own (an issue's deletion takes both).
    event = models.ForeignKey(IssueEvent, on_delete=models.CASCADE, null=True, related_name="+", db_constraint=False)
    # Empty when nobody is to be told (50 %, a stopped clock, or no address).
    recipient = models.EmailField(blank=True)
    notified_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issue", "target", "threshold"], name="slacrossing_once"),
        ]
        indexes = [
            models.Index(fields=["recorded_at"], name="slacrossing_pending", condition=models.Q(notified_at__isnull=True) & ~models.Q(recipient="")),
        ]


class SlaMetric(models.Model):
    """How a resolved issue did against its targets, measured with the policy version in
    effect when it was created. Rebuilt idempotently (recompute_sla)."""

    issue = models.OneToOneField(
        Issue, on_delete=models.CASCADE, primary_key=True, related_name="sla_metric", db_constraint=False
    )
    policy = models.ForeignKey(SlaPolicy, on_delete=models.PROTECT, related_name="metrics", db_constraint=False)
    clock = models.CharField(max_length=10, choices=SlaClock.choices)
    category = models.ForeignKey(Category, on_delete=models.SET_NULL, null=True, related_name="+", db_constraint=False)
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


# ---------------------------------------------------------------------------
# Scores: how SLA figures are summed up per tenant, area and category, hourly.
# How they are computed: analytics/scoring.py and docs/scores.md.


class ScoreSettings(models.Model):
    """The tenant's scoring choices. One row per tenant schema; the admin edits it."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    compliance_weight = models.FloatField(
        default=0.7, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Share of the score given to SLA compliance (0 to 1); resolution speed gets the rest.",
    )
    min_resolved = models.PositiveIntegerField(
        "minimum resolved issues", default=10,
        help_text="An area or category with fewer resolved issues in the window gets no score: "
                  "a handful of issues would make a misleading one.",
    )
    window_days = models.PositiveSmallIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="Days each computation looks back.",
    )
    public_rankings = models.BooleanField(
        "show area rankings publicly", default=True,
        help_text="Show the ranking of areas on the public accountability page.",
    )

    class Meta:
        verbose_name = "score settings"
        verbose_name_plural = "score settings"
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="scoresettings_single_row")]

    def __str__(self) -> str:
        return "Score settings"

    @property
    def speed_weight(self) -> float:
        return round(1 - self.compliance_weight, 4)


class ScoreRun(models.Model):
    """One computation: the window it covered and the settings it used, so every
    snapshot can be reproduced and explained."""

    computed_at = models.DateTimeField(db_index=True)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    compliance_weight = models.FloatField()
    min_resolved = models.PositiveIntegerField()
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-computed_at"]
        get_latest_by = "computed_at"

    def __str__(self) -> str:
        return f"Scores of {self.window_end:%Y-%m-%d %H:%M}"


class ScoreScope(models.TextChoices):
    TENANT = "tenant", "Whole tenant"
    AREA = "area", "Area"
    CATEGORY = "category", "Category"


class ScoreSnapshot(models.Model):
    """The figures of the tenant, one area or one category over one run's window. Kept
    as history: trends are drawn from these rows."""

    run = models.ForeignKey(ScoreRun, on_delete=models.CASCADE, related_name="snapshots")
    computed_at = models.DateTimeField(help_text="The run's window end, repeated for trend queries.")
    scope = models.CharField(max_length=10, choices=ScoreScope.choices)
    area = models.ForeignKey("issues.Area", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    category = models.ForeignKey(Category, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    reported = models.PositiveIntegerField(help_text="Issues created in the window.")
    resolved = models.PositiveIntegerField(help_text="Issues resolved in the window.")
    met = models.PositiveIntegerField(help_text="Of those, resolved within their target.")
    open_count = models.PositiveIntegerField(help_text="Issues open at the window's end.")
    compliance = models.FloatField(null=True, help_text="met / resolved.")
    median_hours = models.FloatField(null=True, help_text="Median hours from creation to resolution.")
    p90_hours = models.FloatField(null=True)
    backlog_median_hours = models.FloatField(null=True, help_text="Median age of the open issues.")
    backlog_max_hours = models.FloatField(null=True)
    speed = models.FloatField(null=True, help_text="1 − median share of the resolution target used ÷ 2, within 0 and 1.")
    score = models.FloatField(null=True, help_text="0 to 100; empty below the minimum of resolved issues.")
    rank = models.PositiveIntegerField(null=True, help_text="Rank among the run's scored areas (or categories).")

    class Meta:
        ordering = ["-computed_at", "scope", "rank"]
        indexes = [
            models.Index(fields=["scope", "computed_at"], name="scoresnapshot_scope_time"),
            models.Index(fields=["area", "computed_at"], name="scoresnapshot_area_time"),
            models.Index(fields=["category", "computed_at"], name="scoresnapshot_category_time"),
        ]


# ---------------------------------------------------------------------------
# Rules and flags. Each rule is a SQL view over the issue data (migration
# 0003_scores_rules) reading its parameters from its row, so an admin edit changes what
# it finds without a deployment.


class RuleConcern(models.TextChoices):
    LOCATION = "location", "A place keeps having problems"
    SLA = "sla", "Targets are missed"
    BACKLOG = "backlog", "Issues wait too long"
    QUALITY = "quality", "Fixes do not hold"
    DEMAND = "demand", "Demand is unusual"


# What each rule's view reads from `params`: name -> (default, meaning). The views are
# written for exactly these codes; a rule of any other code finds nothing.
RULE_DEFINITIONS: dict[str, dict] = {
    "repeat_location": {
        "concern": RuleConcern.LOCATION,
        "description": "At least `count` issues within `radius_m` metres of each other, created in the last `days` days.",
        "params": {"count": (3, "issues"), "radius_m": (50, "metres"), "days": (30, "days")},
    },
    "chronic_breach": {
        "concern": RuleConcern.SLA,
        "description": "An area where at least `share` of the issues resolved in the last `days` days missed "
                       "their resolution target, out of at least `min_resolved`.",
        "params": {"share": (0.3, "share, 0 to 1"), "min_resolved": (10, "issues"), "days": (30, "days")},
    },
    "aging_open": {
        "concern": RuleConcern.BACKLOG,
        "description": "An area with at least `count` open issues older than `days` days.",
        "params": {"count": (5, "issues"), "days": (30, "days")},
    },
    "reopened": {
        "concern": RuleConcern.QUALITY,
        "description": "An issue reopened at least `count` times in the last `days` days.",
        "params": {"count": (1, "reopenings"), "days": (30, "days")},
    },
    "category_surge": {
        "concern": RuleConcern.DEMAND,
        "description": "A category with at least `min_count` issues in the last `days` days and at least `ratio` "
                       "times its usual rate over the `baseline_days` before.",
        "params": {"days": (7, "days"), "baseline_days": (56, "days"), "ratio": (2.0, "times"),
                   "min_count": (5, "issues")},
    },
}


class Rule(models.Model):
    """A deterministic check over the tenant's issues. Edits of what it checks (its
    parameters, weight or activity) are new versions: each flag names the version that
    raised it, and RuleVersion keeps what every version said."""

    code = models.SlugField(max_length=50, unique=True, choices=[(c, c) for c in RULE_DEFINITIONS])
    description = models.TextField()
    concern = models.CharField(max_length=10, choices=RuleConcern.choices)
    params = models.JSONField(default=dict, help_text="Thresholds; see the description for their meaning.")
    weight = models.FloatField(default=1.0, validators=[MinValueValidator(0.0)],
                               help_text="How much a flag of this rule counts when flags are weighed together.")
    active = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} (v{self.version})"

    def clean(self) -> None:
        definition = RULE_DEFINITIONS.get(self.code)
        if definition is None:
            return
        if not isinstance(self.params, dict):
            raise ValidationError({"params": "Give the parameters as a JSON object."})
        wanted = set(definition["params"])
        if set(self.params) != wanted:
            raise ValidationError({"params": f"Give exactly these parameters: {', '.join(sorted(wanted))}."})
        for name, value in self.params.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValidationError({"params": f"{name} must be a number, at least 0."})
        if "share" in self.params and self.params["share"] > 1:
            raise ValidationError({"params": "share is at most 1."})


class RuleVersion(models.Model):
    """What a rule said at one version (append-only): the audit trail of rule edits."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    params = models.JSONField()
    weight = models.FloatField()
    active = models.BooleanField()
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")

    class Meta:
        ordering = ["rule", "-version"]
        constraints = [models.UniqueConstraint(fields=["rule", "version"], name="ruleversion_unique")]


class Flag(models.Model):
    """A rule that fired on one subject (an issue, an area or a category), with the count
    that supports it. Active while the rule keeps firing at the same version; cleared
    when it stops (or the rule changes: the new version raises its own flags)."""

    rule = models.ForeignKey(Rule, on_delete=models.PROTECT, related_name="flags")
    rule_version = models.PositiveIntegerField()
    params = models.JSONField(help_text="The parameters of that version.")
    weight = models.FloatField()
    # `issue:12`, `area:3`, `area:none`, `category:7`: what the rule fired on.
    subject = models.CharField(max_length=100)
    area = models.ForeignKey("issues.Area", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    category = models.ForeignKey(Category, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    issue = models.ForeignKey(Issue, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    support = models.PositiveIntegerField(help_text="The count that made the rule fire.")
    detail = models.JSONField(default=dict, blank=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "subject"], condition=models.Q(cleared_at__isnull=True),
                                    name="flag_one_active_per_subject"),
        ]
        indexes = [models.Index(fields=["cleared_at", "rule"], name="flag_active")]

    def __str__(self) -> str:
        return f"{self.rule.code} on {self.subject}"


# ---------------------------------------------------------------------------
# Location accountability reports (analytics/location_reports.py, docs/location-reports.md)


class NarrativeSource(models.TextChoices):
    MODEL = "model", "Written by the language model"
    DETERMINISTIC = "deterministic", "Deterministic summary"


class LocationReport(models.Model):
    """One generated report, kept whole: its JSON is what the API returns again and what
    the PDF is rendered from, so a stored report reads the same however often it is
    fetched, whatever has happened since."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+")
    # "api:<key name>" or the staff member's username: kept even if the key or user goes.
    requested_by_label = models.CharField(max_length=150)
    request = models.JSONField(help_text="What was asked: an address, a point or an area.")
    resolved = models.BooleanField()
    location = models.ForeignKey("reports.Location", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    area = models.ForeignKey("issues.Area", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    narrative_source = models.CharField(max_length=15, choices=NarrativeSource.choices)
    body = models.JSONField(help_text="The whole report as generated: findings, narrative and its source.")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Location report {self.pk} ({self.created_at:%Y-%m-%d %H:%M})"
