"""Rules, their versions and the flags they raise. What each rule checks:
analytics/rules/definitions.py and its SQL in analytics/rules/sql/; how flags are
reconciled: analytics/rules/services.py and docs/scores.md."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from analytics.rules.definitions import RULE_DEFINITIONS, RuleConcern
from issues.geo import MAX_GROUP_RADIUS_M
from issues.models import Category, Issue


class Rule(models.Model):
    """A deterministic check over the tenant's issues. Edits of what it checks (its
    parameters, weight or activity) are new versions: each flag names the version that
    raised it, and RuleVersion keeps what every version said."""

    code = models.SlugField(max_length=50, unique=True, choices=[(c, c) for c in RULE_DEFINITIONS])
    description = models.TextField()
    concern = models.CharField(max_length=10, choices=RuleConcern.choices)
    params = models.JSONField(default=dict, help_text="Thresholds; see the description for their meaning.")
    weight = models.FloatField(
        default=1.0,
        validators=[MinValueValidator(0.0)],
        help_text="How much a flag of this rule counts when flags are weighed together.",
    )
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
        # As the grouping distance, and for the same reason: the rule's pairs grow with its square.
        if "radius_m" in self.params and self.params["radius_m"] > MAX_GROUP_RADIUS_M:
            raise ValidationError({"params": f"radius_m is at most {MAX_GROUP_RADIUS_M} metres."})


class RuleVersion(models.Model):
    """What a rule said at one version (append-only): the audit trail of rule edits."""

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    params = models.JSONField()
    weight = models.FloatField()
    active = models.BooleanField()
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["rule", "-version"]
        constraints = [models.UniqueConstraint(fields=["rule", "version"], name="ruleversion_unique")]

    def __str__(self) -> str:
        # Shown under its rule (the rule page's inline), so the version alone says which.
        return f"Version {self.version}"


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
    # PROTECT: areas are retired, never deleted (issues.models.Area.active).
    area = models.ForeignKey("issues.Area", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
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
            models.UniqueConstraint(
                fields=["rule", "subject"],
                condition=models.Q(cleared_at__isnull=True),
                name="flag_one_active_per_subject",
            ),
        ]
        indexes = [models.Index(fields=["cleared_at", "rule"], name="flag_active")]

    def __str__(self) -> str:
        return f"{self.rule.code} on {self.subject}"
