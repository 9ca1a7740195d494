"""Writes on the taxonomy: a tenant's default categories, departments and grouping policy,
and its areas."""

from typing import TYPE_CHECKING

from django.db import transaction

from issues.defaults import CATEGORIES_BY_KIND, DEPARTMENTS_BY_KIND
from issues.models import Area, Category, Department, GroupingPolicy

if TYPE_CHECKING:
    from tenants.models import Tenant


@transaction.atomic
def taxonomy_install_defaults(*, tenant: "Tenant") -> int:
    """Give a new tenant the categories of its kind, their departments and the grouping
    policy, in the current schema. Idempotent: what exists is left as staff edited it.
    Returns how many categories were created."""
    defaults = CATEGORIES_BY_KIND.get(getattr(tenant, "kind", ""), CATEGORIES_BY_KIND["facility"])
    existing = set(Category.objects.values_list("code", flat=True))
    created = Category.objects.bulk_create(
        Category(
            code=d.code,
            name=d.name,
            description=d.description,
            keywords=list(d.keywords),
            default_severity=d.severity,
            questions=[dict(q) for q in d.questions],
        )
        for d in defaults
        if d.code not in existing
    )
    _departments_install_defaults(getattr(tenant, "kind", ""))
    GroupingPolicy.objects.get_or_create(pk=1)
    return len(created)


def _departments_install_defaults(kind: str) -> None:
    """Departments of the kind, and the routing of categories that have none yet."""
    for dept in DEPARTMENTS_BY_KIND.get(kind, DEPARTMENTS_BY_KIND["facility"]):
        department, _ = Department.objects.get_or_create(code=dept.code, defaults={"name": dept.name})
        Category.objects.filter(code__in=dept.categories, department=None).update(department=department)


def area_upsert(*, code: str, name: str, boundary: dict | None = None) -> Area:
    """Create or update an area by its code, validating the boundary."""
    area = Area.objects.filter(code=code).first() or Area(code=code)
    area.name = name
    area.boundary = boundary
    area.full_clean()
    area.save()
    return area
