"""The tenant's taxonomy: where problems happen (Area) and what they are (Category)."""
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

code_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9_]{0,49}$", "Use lower-case letters, digits and underscores."
)


class Severity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


def validate_geojson_boundary(value: object) -> None:
    """An area boundary is a GeoJSON Polygon or MultiPolygon in WGS84 longitude/latitude."""
    if value in (None, ""):
        return
    if not isinstance(value, dict) or value.get("type") not in ("Polygon", "MultiPolygon"):
        raise ValidationError("The boundary must be a GeoJSON Polygon or MultiPolygon.")
    polygons = value.get("coordinates")
    if value["type"] == "Polygon":
        polygons = [polygons]
    if not isinstance(polygons, list) or not polygons:
        raise ValidationError("The boundary has no coordinates.")
    for polygon in polygons:
        if not isinstance(polygon, list) or not polygon:
            raise ValidationError("Each polygon needs at least one ring.")
        for ring in polygon:
            if not isinstance(ring, list) or len(ring) < 4:
                raise ValidationError("Each ring needs at least four positions.")
            for position in ring:
                if (
                    not isinstance(position, list | tuple)
                    or len(position) < 2
                    or not all(isinstance(c, int | float) for c in position[:2])
                    or not (-180 <= position[0] <= 180 and -90 <= position[1] <= 90)
                ):
                    raise ValidationError(f"Invalid position {position!r}: use [longitude, latitude].")
            if list(ring[0][:2]) != list(ring[-1][:2]):
                raise ValidationError("Each ring must end where it starts.")


class Area(models.Model):
    name = models.CharField(max_length=200)
    code = models.CharField(max_length=50, unique=True, validators=[code_validator])
    boundary = models.JSONField(
        null=True,
        blank=True,
        validators=[validate_geojson_boundary],
        help_text="Optional GeoJSON Polygon or MultiPolygon, [longitude, latitude] positions.",
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
    default_severity = models.CharField(
        max_length=10, choices=Severity.choices, default=Severity.MEDIUM
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name
