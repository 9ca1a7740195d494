"""Scores: how SLA figures are summed up per tenant, area and category, hourly. How they
are computed: analytics/scores/sql.py and docs/scores.md."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from issues.models import Category


class ScoreSettings(models.Model):
    """The tenant's scoring choices. One row per tenant schema; the admin edits it."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    compliance_weight = models.FloatField(
        default=0.7,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Share of the score given to SLA compliance (0 to 1); resolution speed gets the rest.",
    )
    min_resolved = models.PositiveIntegerField(
        "minimum resolved issues",
        default=10,
        help_text=(
            "An area or category with fewer resolved issues in the window gets no score: "
            "a handful of issues would make a misleading one."
        ),
    )
    window_days = models.PositiveSmallIntegerField(
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="Days each computation looks back.",
    )
    public_rankings = models.BooleanField(
        "show area rankings publicly",
        default=True,
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

    # PROTECT: a run is never deleted, so the public trend drawn from its snapshots survives.
    run = models.ForeignKey(ScoreRun, on_delete=models.PROTECT, related_name="snapshots")
    computed_at = models.DateTimeField(help_text="The run's window end, repeated for trend queries.")
    scope = models.CharField(max_length=10, choices=ScoreScope.choices)
    # PROTECT: areas are retired, never deleted (issues.models.Area.active).
    area = models.ForeignKey("issues.Area", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
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
    speed = models.FloatField(
        null=True, help_text="1 − median share of the resolution target used ÷ 2, within 0 and 1."
    )
    score = models.FloatField(null=True, help_text="0 to 100; empty below the minimum of resolved issues.")
    rank = models.PositiveIntegerField(
        null=True, help_text="Rank among the run's scored areas (or categories)."
    )

    class Meta:
        ordering = ["-computed_at", "scope", "rank"]
        indexes = [
            models.Index(fields=["scope", "computed_at"], name="scoresnapshot_scope_time"),
            models.Index(fields=["area", "computed_at"], name="scoresnapshot_area_time"),
            models.Index(fields=["category", "computed_at"], name="scoresnapshot_category_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_scope_display()} score of {self.computed_at:%Y-%m-%d %H:%M}"
