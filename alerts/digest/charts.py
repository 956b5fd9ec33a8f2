"""Charts for the digest, as PNG bytes (matplotlib, Agg backend, no display)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date

__all__ = ["daily_spend_png"]

# Mid-tone colours that read on both light and dark backgrounds.
_BAR = "#3b82f6"
_WEEK = "#f59e0b"
_BUDGET = "#ef4444"
_TEXT = "#6b7280"


def daily_spend_png(
    daily: Sequence[tuple[date, float]],
    *,
    week_start: date,
    currency: str,
    budget_daily: float | None = None,
) -> bytes:
    """Bar chart of daily spend (8 weeks), the digest's week highlighted, with
    the budget expressed as a daily line when a monthly budget is known."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    days = [d for d, _ in daily]
    xs = mdates.date2num(days)  # type: ignore[no-untyped-call]
    values = [v for _, v in daily]
    colours = [_WEEK if d >= week_start else _BAR for d in days]
    fig, ax = plt.subplots(figsize=(6.4, 2.6), dpi=100)
    fig.patch.set_alpha(0.0)
    ax.set_facecolor("none")
    ax.bar(xs, values, color=colours, width=0.8)
    if budget_daily is not None:
        ax.axhline(budget_daily, color=_BUDGET, linewidth=1.5, linestyle="--", label="budget per day")
        ax.legend(loc="upper left", fontsize=8, frameon=False, labelcolor=_TEXT)
    ax.set_ylabel(currency, color=_TEXT, fontsize=8)
    ax.tick_params(colors=_TEXT, labelsize=7)
    for spine in ax.spines.values():
        spine.set_color(_TEXT)
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    fig.autofmt_xdate(rotation=0, ha="center")
    ax.xaxis.set_major_locator(mdates.WeekdayLocator(byweekday=mdates.MO))  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))  # type: ignore[no-untyped-call]
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", transparent=True)
    plt.close(fig)
    return buf.getvalue()
