"""Writes on the taxonomy (and, later, on issues and their workflow)."""
from django.db import transaction

from issues.defaults import CATEGORIES_BY_KIND
from issues.models import Area, Category


@transaction.atomic
def taxonomy_install_defaults(*, tenant: object) -> int:
    """Give a new tenant the categories of its kind, in the current schema. Idempotent:
    categories that exist (by code) are left as staff edited them. Returns how many
    were created."""
    defaults = CATEGORIES_BY_KIND.get(getattr(tenant, "kind", ""), CATEGORIES_BY_KIND["facility"])
    existing = set(Category.objects.values_list("code", flat=True))
    created = Category.objects.bulk_create(
        Category(
            code=d.code,
            name=d.name,
            description=d.description,
            keywords=list(d.keywords),
            default_severity=d.severity,
        )
        for d in defaults
        if d.code not in existing
    )
    return len(created)


def area_upsert(*, code: str, name: str, boundary: dict | None = None) -> Area:
    """Create or update an area by its code, validating the boundary."""
    area = Area.objects.filter(code=code).first() or Area(code=code)
    area.name = name
    area.boundary = boundary
    area.full_clean()
    area.save()
    return area
