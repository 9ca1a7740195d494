"""The property rules' configuration, read by the `property_flags` and `property_scores`
views (analytics/records/sql/): each rule's threshold, years, severity and activity, kept
as versions as the issue rules are (analytics/rules), and the tier bounds."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone


class RuleCategory(models.TextChoices):
    BUILDING_SAFETY = "A", "A · Building safety"
    HEALTH = "B", "B · Health"
    FINANCIAL = "C", "C · Financial distress"
    VACANCY = "D", "D · Vacancy and neglect"


class PropertyRule(models.Model):
    """One of the fifteen rules of `property_flags`. Its SQL is fixed; this row tunes it.
    An edit of the threshold, years, severity or activity is a new version."""

    code = models.CharField(max_length=3, unique=True)
    category = models.CharField(max_length=1, choices=RuleCategory.choices)
    description = models.TextField()
    threshold = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="The rule's threshold (empty for rules without one).",
    )
    years = models.PositiveIntegerField(null=True, blank=True, help_text="The window in years (C2 only).")
    severity = models.PositiveIntegerField(default=1, help_text="Points the rule adds to the raw score.")
    active = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} (v{self.version})"

    def clean(self) -> None:
        from analytics.records.rule_defaults import PROPERTY_RULES

        default = PROPERTY_RULES.get(self.code)
        if default is None:
            return
        if default.threshold is not None and self.threshold is None:
            raise ValidationError({"threshold": "This rule needs a threshold."})
        if default.years is not None and not self.years:
            raise ValidationError({"years": "This rule needs a window of at least one year."})


class PropertyRuleVersion(models.Model):
    """What a property rule said at one version (append-only)."""

    rule = models.ForeignKey(PropertyRule, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    threshold = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    years = models.PositiveIntegerField(null=True, blank=True)
    severity = models.PositiveIntegerField()
    active = models.BooleanField()
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["rule", "-version"]
        constraints = [models.UniqueConstraint(fields=["rule", "version"], name="propertyruleversion_unique")]

    def __str__(self) -> str:
        return f"Version {self.version}"


class RiskTier(models.TextChoices):
    LOW = "LOW", "Low"
    MODERATE = "MODERATE", "Moderate"
    HIGH = "HIGH", "High"
    CRITICAL = "CRITICAL", "Critical"


class PropertyTierBound(models.Model):
    """A tier starts at `min_score`: a location's tier is the one with the highest bound
    its raw score reaches (LOW starts at 0)."""

    tier = models.CharField(max_length=10, choices=RiskTier.choices, unique=True)
    min_score = models.PositiveIntegerField()
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["min_score"]

    def __str__(self) -> str:
        return f"{self.tier} from {self.min_score}"

    def clean(self) -> None:
        if self.tier == RiskTier.LOW and self.min_score != 0:
            raise ValidationError({"min_score": "LOW starts at 0."})
