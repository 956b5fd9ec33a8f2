"""A small inline-SVG chart for the cost drill-down: actual spend against the expected band.

Presentation attributes only (no ``style``), so it renders under the console's strict
Content-Security-Policy. Points are plain numbers the caller read from alert evidence;
labels pass through :func:`html.escape`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["CostPoint", "band_chart"]

WIDTH, HEIGHT, PAD_L, PAD_B, PAD_T = 640, 240, 56, 36, 12


@dataclass(frozen=True, slots=True)
class CostPoint:
    label: str  # e.g. the day
    actual: float
    expected: float
    spread: float  # half-width of the expected band (the model's error scale)


def band_chart(points: Sequence[CostPoint], *, title: str, currency: str = "") -> str:
    if not points:
        return ""
    top = max(max(p.actual, p.expected + p.spread) for p in points) * 1.1 or 1.0
    plot_w, plot_h = WIDTH - PAD_L - 8, HEIGHT - PAD_B - PAD_T
    slot = plot_w / len(points)

    def y(v: float) -> float:
        return PAD_T + plot_h - max(v, 0.0) / top * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-title" class="chart"><title id="chart-title">{escape(title)}</title>',
        f'<line x1="{PAD_L}" y1="{PAD_T + plot_h}" x2="{WIDTH - 8}" y2="{PAD_T + plot_h}" class="axis"/>',
    ]
    for frac in (0.0, 0.5, 1.0):
        v = top * frac
        parts.append(
            f'<text x="{PAD_L - 6}" y="{y(v) + 4:.1f}" text-anchor="end" class="tick">{v:,.0f}</text>'
            f'<line x1="{PAD_L}" y1="{y(v):.1f}" x2="{WIDTH - 8}" y2="{y(v):.1f}" class="grid"/>'
        )
    for i, p in enumerate(points):
        x0 = PAD_L + i * slot
        cx = x0 + slot / 2
        lo, hi = max(p.expected - p.spread, 0.0), p.expected + p.spread
        bw = min(slot * 0.5, 40)
        parts.append(
            f'<rect x="{cx - bw / 2:.1f}" y="{y(hi):.1f}" width="{bw:.1f}" height="{max(y(lo) - y(hi), 1):.1f}" '
            f'class="band"><title>expected {p.expected:,.2f} ± {p.spread:,.2f} {escape(currency)}</title></rect>'
            f'<line x1="{cx - bw / 2:.1f}" x2="{cx + bw / 2:.1f}" y1="{y(p.expected):.1f}" y2="{y(p.expected):.1f}" '
            f'class="expected"/>'
            # The actual value is a diamond (shape, not only colour, marks it).
            f'<path d="M {cx:.1f} {y(p.actual) - 6:.1f} l 6 6 l -6 6 l -6 -6 z" class="actual">'
            f"<title>actual {p.actual:,.2f} {escape(currency)}</title></path>"
            f'<text x="{cx:.1f}" y="{HEIGHT - 14}" text-anchor="middle" class="tick">{escape(p.label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
