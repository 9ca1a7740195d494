"""Service-level targets. Later: calendars, pauses, metrics, scores, rules and flags."""
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models

from issues.models import Category, Severity


class SlaPolicy(models.Model):
    """Targets for one severity, for one category or (category empty) for every category
    that has no policy of its own."""

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

    class Meta:
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"
        ordering = ["category__name", "severity"]
        constraints = [
            models.UniqueConstraint(
                fields=["category", "severity"], name="sla_policy_unique_category_severity"
            ),
            models.UniqueConstraint(
                fields=["severity"],
                condition=models.Q(category__isnull=True),
                name="sla_policy_unique_default_severity",
            ),
        ]

    def __str__(self) -> str:
        scope = self.category.name if self.category_id else "Any category"
        return f"{scope} / {self.get_severity_display()}"

    def clean(self) -> None:
        if (
            self.acknowledge_hours is not None
            and self.resolve_hours is not None
            and self.acknowledge_hours > self.resolve_hours
        ):
            raise ValidationError(
                {"acknowledge_hours": "Acknowledgement cannot take longer than resolution."}
            )
