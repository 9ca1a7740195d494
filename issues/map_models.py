"""The tenant's street map tiles (issues.models imports this module, so Django sees the
model as the `issues` app's). The operator sets the default tiles in the environment
(MAP_TILE_URL, MAP_TILE_ATTRIBUTION); a tenant may use its own, or none."""

from django.db import models

from civicpulse.core.maps import validate_tile_url


class MapSettings(models.Model):
    """One row per tenant schema (id 1). Empty fields take the operator's values."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    tile_url = models.CharField(
        "tile URL template",
        max_length=500,
        blank=True,
        validators=[validate_tile_url],
        help_text="Like https://tiles.example.org/{z}/{x}/{y}.png (empty: the platform's tiles).",
    )
    tile_attribution = models.CharField(
        max_length=300,
        blank=True,
        help_text="Shown on the map, as the tile provider requires (plain text; empty: the platform's).",
    )
    tiles_off = models.BooleanField(
        "plain area map only",
        default=False,
        help_text="Draw only the outline map of the areas, without street tiles.",
    )

    class Meta:
        verbose_name = "map settings"
        verbose_name_plural = "map settings"
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="mapsettings_single_row")]

    def __str__(self) -> str:
        return "Map settings"
