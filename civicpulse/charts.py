"""Charts drawn on the server as SVG (no JavaScript, no CDN): every page that sums up
numbers shows them as a chart beside its table."""
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

_COLOURS = ("#0b6e4f", "#c0392b", "#2c7fb8", "#e6a700")


def _n(value: float) -> str:
    """A coordinate, formatted before format_html escapes it."""
    return f"{value:.1f}"


def stacked_bars_svg(
    rows: list[tuple[str, list[float]]], series: list[str], *, title: str, width: int = 640, height: int = 180
) -> SafeString:
    """One bar per row (label, values per series), stacked, with a legend. Labels are
    escaped; the chart has a text title for screen readers."""
    top = max((sum(values) for _, values in rows), default=0) or 1
    plot_h, left, bottom = height - 40, 36, 24
    step = (width - left - 8) / max(len(rows), 1)
    bars = []
    for i, (label, values) in enumerate(rows):
        x, y = left + i * step, plot_h
        for j, value in enumerate(values):
            h = value / top * (plot_h - 10)
            y -= h
            bars.append(format_html(
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {} {}</title></rect>',
                _n(x + 1), _n(y), _n(max(step - 2, 1)), _n(h), _COLOURS[j % len(_COLOURS)], label, f"{value:g}",
                series[j],
            ))
        if len(rows) <= 12 or i % max(len(rows) // 8, 1) == 0:
            bars.append(format_html('<text x="{}" y="{}" font-size="9">{}</text>', _n(x), plot_h + 12, label))
    legend = format_html_join(
        "", '<rect x="{}" y="{}" width="10" height="10" fill="{}"/><text x="{}" y="{}" font-size="10">{}</text>',
        ((left + k * 110, height - 12, _COLOURS[k % len(_COLOURS)], left + k * 110 + 14, height - 3, name)
         for k, name in enumerate(series)),
    )
    return format_html(
        '<svg viewBox="0 0 {w} {h}" width="100%" style="max-width:{w}px" role="img" aria-label="{t}">'
        '<title>{t}</title><text x="0" y="10" font-size="9">{top}</text>'
        '<line x1="{l}" y1="{p}" x2="{w}" y2="{p}" stroke="#999"/>{bars}{legend}</svg>',
        w=width, h=height, t=title, top=f"{top:g}", l=left, p=plot_h, bars=SafeString("".join(bars)), legend=legend,
    )
