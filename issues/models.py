"""The tenant's taxonomy: where problems happen (Area) and what they are (Category)."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from issues.geo import MAX_GROUP_RADIUS_M
from issues.validators import QUESTION_DATATYPES, validate_category_questions, validate_geojson_boundary

code_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9_]{0,49}$", "Use lower-case letters, digits and underscores."
)


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class Area(models.Model):
    name = models.CharField(max_length=200)
    code = models.CharField(max_length=50, unique=True, validators=[code_validator])
    boundary = models.JSONField(
        null=True,
        blank=True,
        validators=[validate_geojson_boundary],
        help_text="Optional GeoJSON Polygon or MultiPolygon, [longitude, latitude] positions.",
    )
    active = models.BooleanField(
        default=True,
        help_text="Areas are never deleted: issues, scores, flags and location reports keep pointing at "
        "them. Untick to retire one: new issues are no longer placed in it, and its history stays.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Department(models.Model):
    """Who handles a category's issues. Staff belong to departments to filter their work."""

    code = models.CharField(max_length=50, unique=True, validators=[code_validator])
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True, help_text="Where the department's alerts go.")
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="departments")
    active = models.BooleanField(
        default=True,
        help_text="Departments are never deleted: issues and categories keep pointing at them. Untick to "
        "retire one: new issues are no longer routed to it, and its history stays.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Category(models.Model):
    code = models.CharField(max_length=50, unique=True, validators=[code_validator])
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    keywords = ArrayField(
        models.CharField(max_length=100),
        default=list,
        blank=True,
        help_text="Words that point to this category, comma-separated.",
    )
    examples = ArrayField(
        models.CharField(max_length=300),
        default=list,
        blank=True,
        help_text="Short reports of this category in residents' words. Before the tenant's corrections "
        "train a model, a new report is compared with these to pick its category.",
    )
    default_severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MEDIUM)
    active = models.BooleanField(default=True)
    questions = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_category_questions],
        help_text="Optional extra questions for reporters (Open311 service attributes): a list of "
        '{"code", "description", "datatype", "required", "values": [{"key", "name"}]}; '
        f"datatypes: {', '.join(QUESTION_DATATYPES)}.",
    )
    department = models.ForeignKey(
        Department,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="categories",
        help_text="The department this category's issues are routed to.",
    )
    # How reports of this category are grouped into one issue. Every value left empty
    # follows the tenant's GroupingPolicy, so one change there moves every category
    # staff did not tune.
    related = models.ManyToManyField(
        "self", blank=True, help_text="Categories whose issues reports of this one may join."
    )
    group_radius_m = models.PositiveIntegerField(
        "grouping distance (m)",
        null=True,
        blank=True,
        validators=[MaxValueValidator(MAX_GROUP_RADIUS_M)],
        help_text=f"Reports farther apart are different problems (at most {MAX_GROUP_RADIUS_M} m). "
        "Empty: the tenant's default.",
    )
    group_window_hours = models.PositiveIntegerField(
        "grouping window (hours)",
        null=True,
        blank=True,
        help_text="How long after an issue's latest report another may join it. Empty: the tenant's default.",
    )
    group_min_similarity = models.FloatField(
        "minimum text similarity",
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Similarity (0 to 1) in words (trigrams) or in meaning (embeddings), the better of the two, a report's text needs with the issue's to be a candidate. "
        "Empty: the tenant's default.",
    )
    group_join_score = models.FloatField(
        "join score",
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Grouping score (0 to 1) a candidate needs to be joined. Empty: the tenant's default.",
    )
    group_borderline_low = models.FloatField(
        "borderline from",
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Scores from here up to “borderline to” are borderline: a language model, when configured, "
        "may be asked. Empty: the tenant's default.",
    )
    group_borderline_high = models.FloatField(
        "borderline to",
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Scores from here up join without asking. Empty: the tenant's default.",
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(group_radius_m__isnull=True)
                | models.Q(group_radius_m__lte=MAX_GROUP_RADIUS_M),
                name="category_group_radius_bounded",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """The score bounds must nest (borderline from <= join score <= borderline to)
        once the empty ones are filled from the tenant's policy."""
        from issues.selectors import grouping_thresholds  # the selectors read these models

        values = grouping_thresholds(self)
        _validate_score_bounds(
            values.borderline_low, values.join_score, values.borderline_high, prefix="group_"
        )


def _validate_score_bounds(low: float, join: float, high: float, *, prefix: str) -> None:
    if low > join:
        raise ValidationError(
            {f"{prefix}borderline_low": f"Borderline from ({low}) must not exceed the join score ({join})."}
        )
    if join > high:
        raise ValidationError(
            {f"{prefix}borderline_high": f"Borderline to ({high}) must not be below the join score ({join})."}
        )


class GroupingPolicy(models.Model):
    """The tenant's grouping defaults: one row per tenant schema, used for every value a
    category leaves empty. How the score is made: docs/grouping.md."""

    # Always 1: a tenant has one policy (a check constraint holds it).
    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    radius_m = models.PositiveIntegerField(
        "grouping distance (m)",
        default=50,
        validators=[MaxValueValidator(MAX_GROUP_RADIUS_M)],
        help_text=f"Reports farther apart are different problems (at most {MAX_GROUP_RADIUS_M} m).",
    )
    window_hours = models.PositiveIntegerField(
        "grouping window (hours)",
        default=168,
        help_text="How long after an issue's latest report another may join it.",
    )
    min_similarity = models.FloatField(
        "minimum text similarity",
        default=0.1,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Similarity (0 to 1) in words (trigrams) or in meaning (embeddings), the better of the two, a report's text needs with the issue's to be a candidate at all.",
    )
    join_score = models.FloatField(
        default=0.55,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Grouping score (0 to 1) the best candidate needs to be joined.",
    )
    borderline_low = models.FloatField(
        "borderline from",
        default=0.45,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Below this score a report never joins. From here up to “borderline to” a language model, "
        "when configured, is asked; without an answer the join score decides.",
    )
    borderline_high = models.FloatField(
        "borderline to",
        default=0.7,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="From this score up a report joins without asking.",
    )

    class Meta:
        verbose_name = "grouping policy"
        verbose_name_plural = "grouping policy"
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="groupingpolicy_single_row"),
            models.CheckConstraint(
                condition=models.Q(borderline_low__lte=models.F("join_score"))
                & models.Q(join_score__lte=models.F("borderline_high")),
                name="groupingpolicy_bounds_nest",
            ),
            models.CheckConstraint(
                condition=models.Q(radius_m__lte=MAX_GROUP_RADIUS_M), name="groupingpolicy_radius_bounded"
            ),
        ]

    def __str__(self) -> str:
        return "Grouping policy"

    def clean(self) -> None:
        _validate_score_bounds(self.borderline_low, self.join_score, self.borderline_high, prefix="")


class IssueStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    IN_PROGRESS = "in_progress", _("In progress")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


# Reports are grouped only into issues in these states; Open311 calls them `open`.
OPEN_STATUSES = (IssueStatus.OPEN, IssueStatus.ACKNOWLEDGED, IssueStatus.IN_PROGRESS)
# The rest: the work is done (Open311's `closed`); an issue in one has a resolution time.
FINISHED_STATUSES = (IssueStatus.RESOLVED, IssueStatus.CLOSED)


class Issue(models.Model):
    """One problem in the world, reported by one or more residents."""

    title = models.CharField(max_length=200)
    summary = models.CharField(max_length=300, blank=True)
    # The first report's text: what later reports are compared with.
    text = models.TextField(blank=True)
    # Its meaning as numbers (civicpulse.core.vectors; 512 bytes), when the embedding model
    # was there; later reports are compared with it beside the words.
    embedding = models.BinaryField(null=True, blank=True, editable=False)
    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, null=True, blank=True, related_name="issues"
    )
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MEDIUM)
    status = models.CharField(max_length=20, choices=IssueStatus.choices, default=IssueStatus.OPEN)
    # PROTECT: an area or department is retired (`active`), never deleted, so no issue's
    # history is silently emptied.
    area = models.ForeignKey(Area, on_delete=models.PROTECT, null=True, blank=True, related_name="issues")
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, null=True, blank=True, related_name="issues"
    )
    # Centroid of the issue's located reports.
    latitude = models.FloatField(null=True, blank=True)
    longitude = models.FloatField(null=True, blank=True)
    # For issues whose reports have an address and no point: the normalised address.
    address_key = models.CharField(max_length=300, blank=True)
    report_count = models.PositiveIntegerField(default=0)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_report_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "created_at"], name="issue_status_created"),
            # The triage list's order: most reported first, then newest.
            models.Index(fields=["-report_count", "-created_at", "-id"], name="issue_triage_order"),
            # The public list's order, newest first: a page is read from the index's top.
            models.Index(fields=["-created_at", "-id"], name="issue_public_recent"),
            models.Index(
                fields=["address_key", "last_report_at"],
                name="issue_open_address",
                condition=models.Q(status__in=OPEN_STATUSES) & ~models.Q(address_key=""),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"


class IssueEvent(models.Model):
    """The append-only trail of an issue: who did what, when, with which data."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        REPORT_LINKED = "report_linked", "Report linked"
        REPORT_CORRECTED = "report_corrected", "Report corrected"
        STATUS_CHANGED = "status_changed", "Status changed"
        ASSIGNED = "assigned", "Assigned"
        UPDATED = "updated", "Updated"
        NOTE_ADDED = "note_added", "Note added"
        MERGED = "merged", "Merged"
        REPORTS_MOVED = "reports_moved", "Reports moved"
        # A merge or move taken back; `data["undoes"]` is the event staff undid.
        UNDONE = "undone", "Undone"
        # The SLA clocks stopped and started again (analytics records them).
        PAUSED = "paused", "Clock paused"
        RESUMED = "resumed", "Clock resumed"
        # A share of an SLA target used up; `data` names the target and the threshold.
        SLA_AT_RISK = "sla_at_risk", "SLA at risk"
        SLA_BREACHED = "sla_breached", "SLA breached"
        # Staff erased a reporter's data (reports.services.residents_data): `data` says how
        # many of this issue's reports and whether their text went too, never whose.
        REPORTER_DATA_ERASED = "reporter_data_erased", "Reporter's data erased"

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Who acted when it was no person: "pipeline", "api:<key name>", "import".
    actor_label = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["issue", "created_at"], name="issueevent_issue_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on issue {self.issue_id}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise ValueError("Issue events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise ValueError("Issue events are append-only.")


class IssueNote(models.Model):
    """A note on an issue: public ones are shown to residents (and in Open311), internal
    ones only to staff."""

    class Visibility(models.TextChoices):
        PUBLIC = "public", "Public (residents see it)"
        INTERNAL = "internal", "Internal (staff only)"

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="notes")
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.INTERNAL)
    body = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["issue", "visibility", "created_at"], name="issuenote_issue_visible")]

    def __str__(self) -> str:
        return f"{self.get_visibility_display()} note on issue {self.issue_id}"


from issues.map_models import MapSettings  # noqa: E402, F401  (its own module: registered from here)
