"""A stored property report as HTML (the analyst's page and the PDF share its pieces) and
as PDF. Both are drawn from the report's stored JSON alone, so a PDF made today and one
made next year from the same report say the same thing. The gauge and the map are
server-side SVG: WeasyPrint runs no JavaScript."""

import math

from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.safestring import SafeString

from civicpulse.core.charts import points_map_svg
from civicpulse.core.pdf import html_to_pdf

# The record tables, in the order the report shows them.
DATASETS = (
    ("violations", "Building violations"),
    ("inspections", "Food inspections"),
    ("permits", "Building permits"),
    ("311", "311 service requests"),
    ("tax_sales", "Tax sales and liens"),
    ("vacant_buildings", "Vacant building violations"),
)
CATEGORIES = {
    "A": ("Building safety", "#fdecea", "#a4161a"),
    "B": ("Health", "#fff4e0", "#8a5300"),
    "C": ("Financial distress", "#eaf1fb", "#1f4e8c"),
    "D": ("Vacancy and neglect", "#f1ecf9", "#5b2a86"),
}
TIER_COLOURS = {"LOW": "#0b6e4f", "MODERATE": "#b7950b", "HIGH": "#d35400", "CRITICAL": "#a4161a"}
# Columns every dataset's rows carry that say where a row came from, not what it says.
_PROVENANCE = {"id", "source_dataset", "source_id", "import_batch_id", "source"}


def _arc(cx: float, cy: float, r: float, start: float, end: float) -> str:
    """An SVG path of the upper half-circle between two fractions (0 left, 1 right)."""
    a0, a1 = math.pi * (1 - start), math.pi * (1 - end)
    x0, y0 = cx + r * math.cos(a0), cy - r * math.sin(a0)
    x1, y1 = cx + r * math.cos(a1), cy - r * math.sin(a1)
    return f"M {x0:.1f} {y0:.1f} A {r:.1f} {r:.1f} 0 0 1 {x1:.1f} {y1:.1f}"


def score_gauge_svg(score: int | None, tier: str | None, scale: dict) -> SafeString:
    """A half-circle gauge: the tiers' bands from 0 to the highest possible score, a needle
    at the score, and the score and tier written in the middle."""
    top = max(int(scale.get("max_score") or 1), 1)
    bounds = sorted(scale.get("tier_bounds", {}).items(), key=lambda kv: kv[1])
    bands = []
    for i, (name, start) in enumerate(bounds):
        end = bounds[i + 1][1] if i + 1 < len(bounds) else top
        lo, hi = min(start / top, 1.0), min(end / top, 1.0)
        if hi > lo:
            bands.append(
                format_html(
                    '<path d="{}" stroke="{}" stroke-width="18" fill="none"><title>{} from {}</title></path>',
                    _arc(110, 110, 90, lo, hi),
                    TIER_COLOURS.get(name, "#5b6673"),
                    name,
                    start,
                )
            )
    value = min(max(score or 0, 0) / top, 1.0)
    angle = math.pi * (1 - value)
    label = (
        f"Risk score {score if score is not None else 'unknown'} of at most {top}, tier {tier or 'unknown'}"
    )
    return format_html(
        '<svg viewBox="0 0 220 130" width="220" height="130" role="img" aria-label="{}"><title>{}</title>{}'
        '<line x1="110" y1="110" x2="{}" y2="{}" stroke="#1d2733" stroke-width="4" stroke-linecap="round"/>'
        '<circle cx="110" cy="110" r="6" fill="#1d2733"/>'
        '<text x="110" y="88" text-anchor="middle" font-size="26" font-weight="bold" fill="#1d2733">{}</text>'
        '<text x="110" y="127" text-anchor="middle" font-size="13" fill="{}">{}</text></svg>',
        label,
        label,
        SafeString("".join(bands)),
        f"{110 + 70 * math.cos(angle):.1f}",
        f"{110 - 70 * math.sin(angle):.1f}",
        score if score is not None else "–",
        TIER_COLOURS.get(tier or "", "#5b6673"),
        tier or "",
    )


def location_map_svg(body: dict, *, width: int = 480, height: int = 320) -> SafeString:
    place = body["map"]
    frame = place["frame"]
    return points_map_svg(
        [(frame["name"], frame["boundary"])],
        [(place["latitude"], place["longitude"], body["location"]["address"])],
        title=f"Map: {body['location']['address']}",
        width=width,
        height=height,
    )


def _cell(value: object) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "—"
    return str(value)


def record_tables(body: dict) -> list[dict]:
    """Each dataset's records as a table: its columns (provenance aside) and rows."""
    records = body.get("records") or {}
    tables = []
    for key, title in DATASETS:
        rows = records.get(key) or []
        columns = [c for c in (rows[0].keys() if rows else []) if c not in _PROVENANCE]
        tables.append(
            {
                "key": key.replace("_", "-"),
                "title": title,
                "columns": [c.replace("_", " ") for c in columns],
                "rows": [[_cell(row.get(c)) for c in columns] for row in rows],
                "limit": body.get("record_limit"),
                "freshness": (body.get("freshness") or {}).get(key),
            }
        )
    return tables


def flag_cards(body: dict) -> list[dict]:
    cards = []
    for flag in body.get("flags") or []:
        name, tint, ink = CATEGORIES.get(flag["category"], (flag["category"], "#f3f6f4", "#1d2733"))
        cards.append({**flag, "category_name": name, "tint": tint, "ink": ink})
    return cards


def property_report_context(body: dict) -> dict:
    return {
        "r": body,
        "gauge": score_gauge_svg(body.get("score"), body.get("tier"), body.get("scale") or {}),
        "map": location_map_svg(body),
        "flags": flag_cards(body),
        "tables": record_tables(body),
        "tier_colour": TIER_COLOURS.get(body.get("tier") or "", "#5b6673"),
    }


def property_report_html(body: dict) -> str:
    return render_to_string("property/report_pdf.html", property_report_context(body))


def property_report_pdf(body: dict) -> bytes:
    # Fetching no URL the HTML names (civicpulse.core.pdf).
    return html_to_pdf(property_report_html(body))
