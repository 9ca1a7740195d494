"""Charts drawn on the server as SVG (no JavaScript, no CDN): every page that sums up
numbers shows them as a chart beside its table."""

import math
from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from civicpulse.core.geo import geojson_polygons

_COLOURS = ("#0b6e4f", "#c0392b", "#2c7fb8", "#e6a700")


def _n(value: float) -> str:
    """A coordinate, formatted before format_html escapes it."""
    return f"{value:.1f}"


def stacked_bars_svg(
    rows: Sequence[tuple[str, Sequence[float]]],
    series: Sequence[str],
    *,
    title: str,
    width: int = 640,
    height: int = 180,
) -> SafeString:
    """One bar per row (label, values per series), stacked, with a legend. Labels are
    escaped; the chart has a text title for screen readers."""
    top: float = max((sum(values) for _, values in rows), default=0) or 1
    plot_h, left = height - 40, 36
    step = (width - left - 8) / max(len(rows), 1)
    bars = []
    for i, (label, values) in enumerate(rows):
        x, y = left + i * step, float(plot_h)
        for j, value in enumerate(values):
            h = value / top * (plot_h - 10)
            y -= h
            bars.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {} {}</title></rect>',
                    _n(x + 1),
                    _n(y),
                    _n(max(step - 2, 1)),
                    _n(h),
                    _COLOURS[j % len(_COLOURS)],
                    label,
                    f"{value:g}",
                    series[j],
                )
            )
        if len(rows) <= 12 or i % max(len(rows) // 8, 1) == 0:
            bars.append(format_html('<text x="{}" y="{}" font-size="9">{}</text>', _n(x), plot_h + 12, label))
    legend = format_html_join(
        "",
        '<rect x="{}" y="{}" width="10" height="10" fill="{}"/><text x="{}" y="{}" font-size="10">{}</text>',
        (
            (left + k * 110, height - 12, _COLOURS[k % len(_COLOURS)], left + k * 110 + 14, height - 3, name)
            for k, name in enumerate(series)
        ),
    )
    return format_html(
        '<svg viewBox="0 0 {w} {h}" width="100%" style="max-width:{w}px" role="img" aria-label="{t}">'
        '<title>{t}</title><text x="0" y="10" font-size="9">{top}</text>'
        '<line x1="{l}" y1="{p}" x2="{w}" y2="{p}" stroke="#999"/>{bars}{legend}</svg>',
        w=width,
        h=height,
        t=title,
        top=f"{top:g}",
        l=left,
        p=plot_h,
        bars=SafeString("".join(bars)),
        legend=legend,
    )


def hbars_svg(
    rows: Sequence[tuple[str, float | None]],
    *,
    title: str,
    unit: str = "",
    maximum: float | None = None,
    width: int = 640,
) -> SafeString:
    """One horizontal bar per row, its value written beside it: readable on a phone,
    where vertical bars' labels collide. An empty value (too few to judge) is drawn as a
    dash."""
    top = maximum or max((v for _, v in rows if v is not None), default=0) or 1
    label_w, bar_h, gap = 150, 16, 6
    height = max(len(rows), 1) * (bar_h + gap) + 8
    plot_w = width - label_w - 70
    parts = []
    for i, (label, value) in enumerate(rows):
        y = 4 + i * (bar_h + gap)
        parts.append(
            format_html(
                '<text x="{}" y="{}" font-size="11" text-anchor="end">{}</text>',
                label_w - 6,
                _n(y + bar_h - 4),
                label[:28],
            )
        )
        if value is None:
            parts.append(
                format_html(
                    '<text x="{}" y="{}" font-size="11" fill="#5b6673">—</text>',
                    label_w + 2,
                    _n(y + bar_h - 4),
                )
            )
            continue
        w = max(value, 0) / top * plot_w
        text = f"{value:.0%}" if unit == "%" else f"{value:,.1f} {unit}" if unit else f"{value:,.0f}"
        parts.append(
            format_html(
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {}</title></rect>'
                '<text x="{}" y="{}" font-size="11">{}</text>',
                label_w,
                _n(y),
                _n(w),
                bar_h,
                _COLOURS[0],
                label,
                text,
                _n(label_w + w + 4),
                _n(y + bar_h - 4),
                text,
            )
        )
    return format_html(
        '<svg viewBox="0 0 {w} {h}" width="100%" style="max-width:{w}px" role="img" aria-label="{t}">'
        "<title>{t}</title>{parts}</svg>",
        w=width,
        h=height,
        t=title,
        parts=SafeString("".join(parts)),
    )


def line_svg(
    points: Sequence[tuple[str, float | None]],
    *,
    title: str,
    maximum: float | None = None,
    percent: bool = False,
    width: int = 640,
    height: int = 180,
) -> SafeString:
    """A line over labelled points in order (gaps where a value is empty), with the
    first, middle and last labels under it and the top value on the axis."""
    values = [v for _, v in points if v is not None]
    top = maximum or max(values, default=0) or 1
    left, plot_h = 40, height - 24
    step = (width - left - 10) / max(len(points) - 1, 1)
    segments: list[list[str]] = [[]]
    dots = []
    for i, (label, value) in enumerate(points):
        if value is None:
            segments.append([])
            continue
        x, y = left + i * step, plot_h - value / top * (plot_h - 10)
        segments[-1].append(f"{x:.1f},{y:.1f}")
        shown = f"{value:.0%}" if percent else f"{value:g}"
        dots.append(
            format_html(
                '<circle cx="{}" cy="{}" r="2.5" fill="{}"><title>{}: {}</title></circle>',
                _n(x),
                _n(y),
                _COLOURS[2],
                label,
                shown,
            )
        )
    lines = format_html_join(
        "",
        '<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>',
        ((" ".join(seg), _COLOURS[2]) for seg in segments if seg),
    )
    ticks = format_html_join(
        "",
        '<text x="{}" y="{}" font-size="9" text-anchor="{}">{}</text>',
        (
            (_n(left + i * step), height - 6, anchor, points[i][0])
            for i, anchor in ((0, "start"), (len(points) // 2, "middle"), (len(points) - 1, "end"))
            if points and i < len(points)
        ),
    )
    return format_html(
        '<svg viewBox="0 0 {w} {h}" width="100%" style="max-width:{w}px" role="img" aria-label="{t}">'
        '<title>{t}</title><text x="0" y="12" font-size="9">{top}</text>'
        '<line x1="{l}" y1="{p}" x2="{w}" y2="{p}" stroke="#999"/>{lines}{dots}{ticks}</svg>',
        w=width,
        h=height,
        t=title,
        top=f"{top:.0%}" if percent else f"{top:g}",
        l=left,
        p=plot_h,
        lines=lines,
        dots=SafeString("".join(dots)),
        ticks=ticks,
    )


def points_map_svg(
    boundaries: Sequence[tuple[str, dict]],
    points: Sequence[tuple[float, float, str]],
    *,
    title: str,
    width: int = 640,
    height: int = 420,
) -> SafeString:
    """Points (latitude, longitude, label) drawn over area boundaries (name, GeoJSON
    Polygon or MultiPolygon): a map without tiles, which cannot be fetched here. The
    view fits the boundaries and points (equirectangular, scaled by the cosine of the
    middle latitude so distances look right), each area named at its middle."""
    rings: list[tuple[str, list[list[float]]]] = []
    for name, geometry in boundaries:
        rings.extend((name, ring) for polygon in geojson_polygons(geometry) for ring in polygon)
    lons = [p[0] for _, ring in rings for p in ring] + [lon for _, lon, _ in points]
    lats = [p[1] for _, ring in rings for p in ring] + [lat for lat, _, _ in points]
    if not lons:
        return format_html(
            '<svg viewBox="0 0 {} 40" width="100%" role="img" aria-label="{}"><title>{}</title>'
            '<text x="4" y="20" font-size="12">Nothing to map.</text></svg>',
            width,
            title,
            title,
        )
    kx = math.cos(math.radians((min(lats) + max(lats)) / 2))
    span_x = max((max(lons) - min(lons)) * kx, 1e-6)
    span_y = max(max(lats) - min(lats), 1e-6)
    scale = min((width - 20) / span_x, (height - 20) / span_y)
    height = round(span_y * scale + 20)  # no blank band where the places are wider than tall

    def xy(lon: float, lat: float) -> tuple[str, str]:
        return _n(10 + (lon - min(lons)) * kx * scale), _n(height - 10 - (lat - min(lats)) * scale)

    shapes = format_html_join(
        "",
        '<polygon points="{}" fill="#eef3f7" stroke="#5b6673" stroke-width="1"><title>{}</title></polygon>',
        ((" ".join(",".join(xy(p[0], p[1])) for p in ring), name) for name, ring in rings),
    )
    names = format_html_join(
        "",
        '<text x="{}" y="{}" font-size="11" text-anchor="middle" fill="#5b6673">{}</text>',
        # At the mean of the corners of each area's outer ring (its last point repeats the first).
        (
            (*xy(*(sum(p[k] for p in outer[:-1]) / (len(outer) - 1) for k in (0, 1))), name)
            for name, outer in ((name, geojson_polygons(geometry)[0][0]) for name, geometry in boundaries)
        ),
    )
    dots = format_html_join(
        "",
        '<circle cx="{}" cy="{}" r="3" fill="{}" fill-opacity="0.7"><title>{}</title></circle>',
        ((*xy(lon, lat), _COLOURS[1], label) for lat, lon, label in points),
    )
    return format_html(
        '<svg viewBox="0 0 {w} {h}" width="100%" style="max-width:{w}px;background:#fff" role="img" aria-label="{t}">'
        "<title>{t}</title>{shapes}{names}{dots}</svg>",
        w=width,
        h=height,
        t=title,
        shapes=shapes,
        names=names,
        dots=dots,
    )
