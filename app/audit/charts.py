"""Inline SVG charts (no script, no network): stacked bars by label, share bars, monthly columns.

Shared by ``report.html`` and the auditor page. Every value shown is also in the table beside the chart
(the chart is a picture of the numbers, the numbers are the link to their filter).
"""

from __future__ import annotations

from html import escape

COLOURS = {
    "usually-appropriate": "#2e7d32",
    "may-be-appropriate": "#f9a825",
    "may-be-appropriate-disagreement": "#ef6c00",
    "usually-not-appropriate": "#c62828",
    "insufficient-data": "#5c6bc0",
    "no-criteria": "#9e9e9e",
}
LABEL_ORDER = tuple(COLOURS)
OTHER = "#78909c"


def colour(label: str) -> str:
    return COLOURS.get(label, OTHER)


def legend(labels: list[str]) -> str:
    items = "".join(
        f'<span class="key"><svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" '
        f'fill="{colour(lb)}"/></svg> {escape(lb)}</span>'
        for lb in labels
    )
    return f'<div class="legend">{items}</div>'


def stacked_bars(rows: list[tuple[str, dict[str, int]]], *, title: str, width: int = 640) -> str:
    """One horizontal bar per row, split by label, scaled to the largest row total."""
    if not rows:
        return '<p class="empty">no orders</p>'
    label_w, bar_w, row_h = 230, width - 230 - 60, 22
    biggest = max(sum(parts.values()) for _, parts in rows) or 1
    out = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" '
        f'height="{row_h * len(rows) + 6}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, (name, parts) in enumerate(rows):
        y = i * row_h + 3
        out.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12">{escape(name[:34])}</text>'
        )
        x = float(label_w)
        for lb in sorted(parts, key=lambda k: LABEL_ORDER.index(k) if k in LABEL_ORDER else 99):
            w = parts[lb] / biggest * bar_w
            out.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{row_h - 6}" fill="{colour(lb)}">'
                f"<title>{escape(name)}: {escape(lb)} {parts[lb]}</title></rect>"
            )
            x += w
        out.append(f'<text x="{x + 4:.1f}" y="{y + 15}" font-size="11">{sum(parts.values())}</text>')
    out.append("</svg>")
    return "".join(out)


def share_bars(rows: list[tuple[str, int, int]], *, title: str, width: int = 640) -> str:
    """One horizontal bar per row: ``part / whole`` as a share of 100 %."""
    if not rows:
        return '<p class="empty">no orders</p>'
    label_w, bar_w, row_h = 230, width - 230 - 70, 22
    out = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" '
        f'height="{row_h * len(rows) + 6}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, (name, part, whole) in enumerate(rows):
        y = i * row_h + 3
        share = part / whole if whole else 0.0
        out.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="12">{escape(name[:34])}</text>'
        )
        out.append(f'<rect x="{label_w}" y="{y}" width="{bar_w}" height="{row_h - 6}" fill="#eceff1"/>')
        out.append(
            f'<rect x="{label_w}" y="{y}" width="{share * bar_w:.1f}" height="{row_h - 6}" fill="{COLOURS["usually-appropriate"]}">'
            f"<title>{escape(name)}: {part} of {whole}</title></rect>"
        )
        out.append(f'<text x="{label_w + bar_w + 4}" y="{y + 15}" font-size="11">{share:.0%}</text>')
    out.append("</svg>")
    return "".join(out)


def month_columns(
    rows: list[tuple[str, int, int]], *, title: str, width: int = 640, height: int = 180
) -> str:
    """One column per month: the share ``part / whole`` (adherence), with the month below."""
    if not rows:
        return '<p class="empty">no orders</p>'
    plot_h = height - 40
    step = min((width - 70) / len(rows), 48.0)
    out = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{width}" height="{height}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="40" y1="{plot_h + 5}" x2="{44 + step * len(rows):.0f}" y2="{plot_h + 5}" stroke="#90a4ae"/>',
        '<text x="39" y="14" text-anchor="end" font-size="9">100%</text>',
        f'<text x="39" y="{plot_h + 5}" text-anchor="end" font-size="9">0%</text>',
    ]
    for i, (name, part, whole) in enumerate(rows):
        share = part / whole if whole else 0.0
        h = share * (plot_h - 5)
        x = 44 + i * step
        out.append(
            f'<rect x="{x:.1f}" y="{plot_h + 5 - h:.1f}" width="{max(step - 4, 2):.1f}" height="{h:.1f}" '
            f'fill="{COLOURS["usually-appropriate"]}"><title>{escape(name)}: {part} of {whole} ({share:.0%})</title></rect>'
        )
        if step >= 40 or i % 2 == 0:
            out.append(
                f'<text x="{x + step / 2:.1f}" y="{plot_h + 20}" text-anchor="middle" font-size="9">{escape(name or "no date")}</text>'
            )
    out.append("</svg>")
    return "".join(out)
