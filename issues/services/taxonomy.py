"""Writes on the taxonomy: a tenant's default categories, departments and grouping policy,
its areas, and a copy of its categories into a scratch schema (grouping evaluations)."""

from django.db import transaction

from civicpulse.core.tenancy import current_schema
from issues.defaults import CATEGORIES_BY_KIND, DEPARTMENTS_BY_KIND
from issues.models import Area, Category, Department, GroupingPolicy
from issues.starter_examples import starter_examples
from tenants.models import Tenant


@transaction.atomic
def taxonomy_install_defaults(*, tenant: Tenant) -> int:
    """Give a new tenant the categories of its kind, their departments and the grouping
    policy, in the current schema. Idempotent: what exists is left as staff edited it.
    Returns how many categories were created."""
    kind = getattr(tenant, "kind", "")
    defaults = CATEGORIES_BY_KIND.get(kind, CATEGORIES_BY_KIND["facility"])
    examples = starter_examples(kind)
    existing = set(Category.objects.values_list("code", flat=True))
    created = Category.objects.bulk_create(
        Category(
            code=d.code,
            name=d.name,
            description=d.description,
            keywords=list(d.keywords),
            examples=list(examples.get(d.code, ())),
            default_severity=d.severity,
            questions=[dict(q) for q in d.questions],
        )
        for d in defaults
        if d.code not in existing
    )
    _departments_install_defaults(kind)
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


@transaction.atomic
def taxonomy_copy_into_scratch(
    *, scratch_schema: str, categories: list[Category], policy: GroupingPolicy
) -> dict[str, Category]:
    """Replace the categories and grouping policy of a scratch schema (the current one)
    with copies of a tenant's (same ids, related links, grouping values), so grouping can
    be measured there with the tenant's own rules. Departments stay behind: routing plays
    no part in grouping. Returns the copies by code.

    It replaces every category where it runs, so it refuses any schema but the scratch
    one it is given, and any schema a tenant lives in."""
    schema = current_schema()
    if schema != scratch_schema or Tenant.objects.filter(schema_name=schema).exists():
        raise ValueError(f"refusing to replace the taxonomy of schema {schema!r}: not a scratch schema")
    Category.objects.all().delete()
    copies = Category.objects.bulk_create(
        Category(
            pk=c.pk,
            code=c.code,
            name=c.name,
            description=c.description,
            keywords=c.keywords,
            examples=c.examples,
            default_severity=c.default_severity,
            active=c.active,
            group_radius_m=c.group_radius_m,
            group_window_hours=c.group_window_hours,
            group_min_similarity=c.group_min_similarity,
            group_join_score=c.group_join_score,
            group_borderline_low=c.group_borderline_low,
            group_borderline_high=c.group_borderline_high,
        )
        for c in categories
    )
    Category.related.through.objects.bulk_create(
        Category.related.through(from_category_id=c.pk, to_category_id=other.pk)
        for c in categories
        for other in c.related.all()
    )
    GroupingPolicy.objects.update_or_create(
        pk=1,
        defaults={
            f.name: getattr(policy, f.name) for f in GroupingPolicy._meta.concrete_fields if not f.primary_key
        },
    )
    return {c.code: c for c in copies}
