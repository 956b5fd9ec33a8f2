"""A small inline-SVG chart for the cost drill-down: the daily cost series against the band the
anomaly model expected it in.

Presentation attributes and classes only (no ``style``), so it renders under the console's
strict Content-Security-Policy and takes its colours from the stylesheet (light and dark).
The band is a filled area, the expected value a dashed line, the actual cost a line with a
dot per day and a diamond on each day the model flagged (shape, not only colour). It has a
``<title>`` and a ``<desc>``; the page puts the same numbers in a table beside it. Labels pass
through :func:`html.escape`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

__all__ = ["CostPoint", "band_chart"]

WIDTH, HEIGHT, PAD_L, PAD_R, PAD_B, PAD_T = 720, 260, 60, 10, 40, 12


@dataclass(frozen=True, slots=True)
class CostPoint:
    label: str  # the day
    actual: float | None  # None: no data for the day
    expected: float | None  # None: the model did not judge the day
    low: float | None = None  # the expected band
    high: float | None = None
    anomaly: bool = False


def _runs(points: Sequence[CostPoint], value: Callable[[CostPoint], float | None]) -> list[list[int]]:
    """Index runs where ``value`` is known (a gap breaks a line)."""
    runs: list[list[int]] = []
    for i, p in enumerate(points):
        if value(p) is None:
            if runs and runs[-1]:
                runs.append([])
            continue
        if not runs:
            runs.append([])
        runs[-1].append(i)
    return [r for r in runs if r]


def _short(label: str) -> str:
    """``2026-11-24`` -> ``11-24`` (axis labels); other labels as they are."""
    return label[5:] if len(label) == 10 and label[4] == "-" and label[7] == "-" else label


def band_chart(points: Sequence[CostPoint], *, title: str, currency: str = "") -> str:
    if not points:
        return ""
    values = [v for p in points for v in (p.actual, p.high, p.expected) if v is not None]
    top = (max(values) if values else 0.0) * 1.1 or 1.0
    plot_w, plot_h = WIDTH - PAD_L - PAD_R, HEIGHT - PAD_B - PAD_T
    step = plot_w / max(len(points) - 1, 1)

    def x(i: int) -> float:
        return PAD_L + (i * step if len(points) > 1 else plot_w / 2)

    def y(v: float) -> float:
        return PAD_T + plot_h - max(v, 0.0) / top * plot_h

    flagged = [p for p in points if p.anomaly]
    cur = escape(currency)
    desc = (
        f"{len(points)} days from {escape(points[0].label)} to {escape(points[-1].label)}; "
        f"{len(flagged)} flagged as anomalous"
        + (
            f" ({', '.join(escape(p.label) for p in flagged[:5])}{', …' if len(flagged) > 5 else ''})"
            if flagged
            else ""
        )
        + f". Highest actual cost {max((p.actual for p in points if p.actual is not None), default=0.0):,.2f} {cur}."
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        'aria-labelledby="chart-title chart-desc" class="chart" data-testid="cost-chart">'
        f'<title id="chart-title">{escape(title)}</title><desc id="chart-desc">{desc}</desc>',
        f'<line x1="{PAD_L}" y1="{PAD_T + plot_h}" x2="{WIDTH - PAD_R}" y2="{PAD_T + plot_h}" class="axis"/>',
    ]
    for frac in (0.0, 0.5, 1.0):
        v = top * frac
        parts.append(
            f'<text x="{PAD_L - 6}" y="{y(v) + 4:.1f}" text-anchor="end" class="tick">{v:,.0f}</text>'
            f'<line x1="{PAD_L}" y1="{y(v):.1f}" x2="{WIDTH - PAD_R}" y2="{y(v):.1f}" class="grid"/>'
        )
    for run in _runs(points, lambda p: p.high if p.low is not None else None):
        upper = " ".join(f"{x(i):.1f},{y(points[i].high or 0.0):.1f}" for i in run)
        lower = " ".join(f"{x(i):.1f},{y(points[i].low or 0.0):.1f}" for i in reversed(run))
        parts.append(f'<polygon points="{upper} {lower}" class="band"/>')
    for run in _runs(points, lambda p: p.expected):
        line = " ".join(f"{x(i):.1f},{y(points[i].expected or 0.0):.1f}" for i in run)
        parts.append(f'<polyline points="{line}" class="expected"/>')
    for run in _runs(points, lambda p: p.actual):
        line = " ".join(f"{x(i):.1f},{y(points[i].actual or 0.0):.1f}" for i in run)
        parts.append(f'<polyline points="{line}" class="actual-line"/>')
    label_every = max(1, round(len(points) / 8))
    for i, p in enumerate(points):
        if p.actual is not None:
            cx, cy = x(i), y(p.actual)
            tip = f"{escape(p.label)}: {p.actual:,.2f} {cur}"
            if p.expected is not None:
                tip += f", expected {p.expected:,.2f}"
            if p.anomaly:
                tip += " (anomaly)"
                diamond = f"M {cx:.1f} {cy - 6:.1f} l 6 6 l -6 6 l -6 -6 z"
                parts.append(f'<path d="{diamond}" class="actual"><title>{tip}</title></path>')
            else:
                parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="2" class="dot"><title>{tip}</title></circle>')
        if i % label_every == 0 or i == len(points) - 1:
            text = escape(_short(p.label))
            parts.append(f'<text x="{x(i):.1f}" y="{HEIGHT - 14}" text-anchor="middle" class="tick">{text}</text>')
    parts.append("</svg>")
    return "".join(parts)
