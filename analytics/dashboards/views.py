"""The dashboards: the staff dashboard (in the staff console) and the public
accountability page (no login). Thin: filters in, selectors, charts and tables out.
Every figure is drawn (server-side SVG) and tabled; any staff table downloads as CSV."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from analytics.dashboards.selectors import (
    Table,
    area_boundaries,
    dashboard_backlog,
    dashboard_breaches,
    dashboard_compliance_trend,
    dashboard_concern_by_area,
    dashboard_flags,
    dashboard_open_points,
)
from analytics.rules.selectors import flags_count_by_rule
from analytics.scores.models import ScoreScope, ScoreSettings
from analytics.scores.selectors import score_run_latest, score_snapshots, score_trend
from analytics.sla.selectors import sla_policies_current
from civicpulse.core.charts import hbars_svg, line_svg, points_map_svg, stacked_bars_svg
from civicpulse.core.csv_safe import csv_writer
from civicpulse.core.geo import geojson_polygons
from civicpulse.core.maps import parse_bbox
from issues.models import Area, Category
from issues.selectors import map_tiles, open_issue_markers, recent_issue_extent
from tenants.selectors import current_tenant

# The public page's charts are drawn this wide so their text stays legible on a phone.
PHONE_WIDTH = 400
PERIODS = [(7, "Last 7 days"), (30, "Last 30 days"), (90, "Last 90 days"), (365, "Last year")]


class DashboardFilters(forms.Form):
    period = forms.TypedChoiceField(choices=PERIODS, coerce=int, initial=30, required=False)
    area = forms.ModelChoiceField(Area.objects.all(), required=False, empty_label="All areas")
    category = forms.ModelChoiceField(Category.objects.all(), required=False, empty_label="All categories")


def _csv(table: Table) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{table.key}.csv"'
    writer = csv_writer(response)  # formula-safe: cells hold text staff and residents wrote
    writer.writerow(table.columns)
    writer.writerows(table.rows)
    return response


def staff_dashboard(request: HttpRequest, extra_context: dict) -> HttpResponse:
    """Backlog by status and age, the weekly SLA compliance trend, breaches by category
    and area, active flags and a map of open issues, filtered by period, area and
    category. `?csv=<table key>` downloads that table."""
    form = DashboardFilters(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    days = data.get("period") or 30
    area = data.get("area")
    category = data.get("category")
    area_id, category_id = (area.pk if area else None), (category.pk if category else None)
    now = timezone.now()
    since = now - timedelta(days=days)
    scope: dict[str, Any] = {"area_id": area_id, "category_id": category_id}
    period: dict[str, Any] = {"since": since, "until": now, **scope}
    builders: dict[str, Callable[[], Table]] = {
        "backlog": lambda: dashboard_backlog(now=now, **scope),
        "trend": lambda: dashboard_compliance_trend(**period),
        "breaches_category": lambda: dashboard_breaches(by="category", **period),
        "breaches_area": lambda: dashboard_breaches(by="area", **period),
        "flags": lambda: dashboard_flags(**scope),
        "concern": lambda: dashboard_concern_by_area(**scope),
        "map": lambda: dashboard_open_points(**scope),
    }
    if request.GET.get("csv") in builders:  # a download builds its own table only
        return _csv(builders[request.GET["csv"]]())
    backlog, trend, by_category, by_area, flags, concern, points = (build() for build in builders.values())
    band_names = backlog.columns[1:-1]
    sections = [
        (
            backlog,
            stacked_bars_svg(
                [(row[0], row[1:-1]) for row in backlog.rows],
                band_names,
                title="Open issues by status, stacked by age",
            ),
        ),
        (
            trend,
            line_svg(
                [(row[0], row[3]) for row in trend.rows],
                title="Share resolved within target, per week",
                maximum=1,
                percent=True,
            ),
        ),
        (
            by_category,
            stacked_bars_svg(
                [(row[0], row[1:]) for row in by_category.rows[:12]],
                ["resolved late", "open and breached"],
                title="Breaches by category",
            ),
        ),
        (
            by_area,
            stacked_bars_svg(
                [(row[0], row[1:]) for row in by_area.rows[:12]],
                ["resolved late", "open and breached"],
                title="Breaches by area",
            ),
        ),
        (
            flags,
            hbars_svg(
                flags_count_by_rule(area_id=area_id, category_id=category_id), title="Active flags per rule"
            ),
        ),
        (
            concern,
            hbars_svg(
                [(row[0], row[2]) for row in concern.rows[:12]],
                title="Weighted concern by area (the sum of active flags' rule weights)",
            ),
        ),
        (
            points,
            points_map_svg(
                area_boundaries(area_id=area_id),
                [(row[1], row[2], f"{row[0]} {row[4]}") for row in points.rows],
                title="Open issues over the area boundaries",
            ),
        ),
    ]
    query = request.GET.copy()
    query.pop("csv", None)
    return TemplateResponse(
        request,
        "admin/analytics/dashboard.html",
        {
            **extra_context,
            "title": "Accountability dashboard",
            "form": form,
            "sections": sections,
            "query": query.urlencode(),
            "period_days": days,
            "tiles": map_tiles(),
            # A tenant without area outlines: around its latest issues, not the world.
            "map_bounds": _bounds(area_boundaries(area_id=area_id)) or recent_issue_extent(),
        },
    )


def _bounds(areas: list[tuple[str, dict]]) -> dict[str, float] | None:
    """West, south, east and north of the areas' outer rings: where the map starts."""
    points = [p for _, boundary in areas for polygon in geojson_polygons(boundary) for p in polygon[0]]
    if not points:
        return None
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    return {"west": min(lons), "south": min(lats), "east": max(lons), "north": max(lats)}


def staff_markers(request: HttpRequest) -> JsonResponse:
    """The dashboard map's open issues in one viewport (`?bbox=west,south,east,north`,
    and the dashboard's area and category filters): bounded, see open_issue_markers."""
    try:
        bbox = parse_bbox(request.GET.get("bbox", ""))
    except ValueError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    form = DashboardFilters(request.GET)
    data = form.cleaned_data if form.is_valid() else {}
    answer = open_issue_markers(
        bbox=bbox,
        limit=settings.MAP_MARKERS_LIMIT,
        area_id=data["area"].pk if data.get("area") else None,
        category_id=data["category"].pk if data.get("category") else None,
    )
    # One link pattern for every marker, filled in by the page.
    issue_url = reverse("admin:issues_issue_change", args=[0]).replace("/0/", "/{id}/")
    return JsonResponse({**answer, "issue_url": issue_url})


def _hours(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f} h" if value < 72 else f"{value / 24:.1f} days"


def accountability(request: HttpRequest) -> HttpResponse:
    """The tenant's public accountability page: what residents reported, how fast it was
    fixed against the published targets, per category and area (figures below the
    minimum sample are withheld), the area rankings unless switched off, and the trend.
    Reads only the latest scores run and the current targets: a few small queries
    however many issues the tenant has."""
    tenant = current_tenant()
    if not tenant.public_page_enabled:
        raise Http404("This place does not publish an accountability page.")
    settings_row = ScoreSettings.objects.filter(id=1).first() or ScoreSettings()
    run = score_run_latest()
    context: dict = {"tenant": tenant, "run": run, "settings": settings_row, "policies": [], "sections": []}
    policies = sorted(
        sla_policies_current(), key=lambda p: (p.category.name if p.category else "", p.severity)
    )
    context["policies"] = [
        {
            "scope": p.category.name if p.category else "Any category",
            "severity": p.get_severity_display(),
            "acknowledge": _hours(float(p.acknowledge_hours)),
            "resolve": _hours(float(p.resolve_hours)),
            "clock": p.get_clock_display().lower(),
        }
        for p in policies
    ]
    if run is None:
        return render(request, "analytics/accountability.html", context)
    whole = score_snapshots(run=run, scope=ScoreScope.TENANT)
    context["whole"] = whole[0] if whole else None
    enough = run.min_resolved
    by_scope = {
        scope: score_snapshots(run=run, scope=scope) for scope in (ScoreScope.CATEGORY, ScoreScope.AREA)
    }
    for scope, label in ((ScoreScope.CATEGORY, "category"), (ScoreScope.AREA, "area")):
        rows = by_scope[scope]
        named = [(str(s.category if scope == ScoreScope.CATEGORY else s.area), s) for s in rows]
        named.sort(key=lambda pair: pair[0])
        context["sections"].append(
            {
                "key": label,
                "reported_chart": hbars_svg(
                    [(name, s.reported) for name, s in named],
                    title=f"Issues reported per {label}",
                    width=PHONE_WIDTH,
                ),
                "compliance_chart": hbars_svg(
                    [(name, s.compliance if s.resolved >= enough else None) for name, s in named],
                    title=f"Share fixed within target per {label}",
                    unit="%",
                    maximum=1,
                    width=PHONE_WIDTH,
                ),
                "rows": [
                    {
                        "name": name,
                        "snap": s,
                        "judged": s.resolved >= enough and s.resolved > 0,
                        "median": _hours(s.median_hours),
                        "p90": _hours(s.p90_hours),
                    }
                    for name, s in named
                ],
            }
        )
    if settings_row.public_rankings:
        ranked = [s for s in by_scope[ScoreScope.AREA] if s.rank is not None]
        context["rankings"] = ranked
        context["rankings_chart"] = hbars_svg(
            [(str(s.area), s.score) for s in ranked],
            title="Area scores (0–100)",
            maximum=100,
            width=PHONE_WIDTH,
        )
    trend = list(score_trend(since=run.window_end - timedelta(days=90)))
    context["trend"] = [
        {"day": s.day, "compliance": s.compliance, "resolved": s.resolved, "score": s.score} for s in trend
    ]
    context["trend_chart"] = line_svg(
        [(t["day"].isoformat(), t["compliance"]) for t in context["trend"]],
        title="Share fixed within target, over the last 90 days",
        maximum=1,
        percent=True,
        width=PHONE_WIDTH,
        height=160,
    )
    return render(request, "analytics/accountability.html", context)
