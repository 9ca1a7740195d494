"""Discovery and the service list: what this endpoint offers, and the tenant's active
categories as services with their definitions (the questions they ask)."""

from django.db import connection
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django_tenants.utils import get_public_schema_name

from issues.models import Category
from reports.open311.decorators import open311
from reports.open311.errors import Open311Error
from reports.open311.rendering import render

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# When this endpoint's service list or definitions last changed shape (discovery's
# `changeset`); categories themselves carry no edit time.
CHANGESET = "2026-11-23T00:00:00Z"


@open311("GET", tenant_required=False)
def discovery(request: HttpRequest, fmt: str) -> HttpResponse:
    tenant = getattr(connection, "tenant", None)
    public = tenant is None or tenant.schema_name == get_public_schema_name()
    body = {
        "changeset": CHANGESET,
        "contact": "Ask the operator of this CivicPulse site."
        + (" Name the place with jurisdiction_id (its slug)." if public else ""),
        "key_service": "API keys are issued by the place's staff (manage.py create_api_key <slug> --scopes submit).",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": request.build_absolute_uri("/open311/v2"),
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return render(fmt, "discovery", body)


def _active_categories() -> QuerySet[Category]:
    return Category.objects.filter(active=True).select_related("department").order_by("name")


@open311("GET")
def services(request: HttpRequest, fmt: str) -> HttpResponse:
    body = [
        {
            "service_code": category.code,
            "service_name": category.name,
            "description": category.description,
            "metadata": bool(category.questions),
            "type": "realtime",
            "keywords": ", ".join(category.keywords),
            "group": category.department.name if category.department else "",
        }
        for category in _active_categories()
    ]
    return render(fmt, "services", body)


def category_or_404(service_code: str) -> Category:
    category = _active_categories().filter(code=service_code).first()
    if category is None:
        raise Open311Error(404, f"service_code {service_code!r} was not found.")
    return category


@open311("GET")
def service_definition(request: HttpRequest, fmt: str, service_code: str) -> HttpResponse:
    category = category_or_404(service_code)
    attributes = [
        {
            "variable": True,
            "code": question["code"],
            "datatype": question["datatype"],
            "required": bool(question.get("required", False)),
            "datatype_description": None,
            "order": order,
            "description": question["description"],
            "values": [{"key": v["key"], "name": v["name"]} for v in question.get("values", [])],
        }
        for order, question in enumerate(category.questions, start=1)
    ]
    return render(fmt, "service_definition", {"service_code": category.code, "attributes": attributes})
