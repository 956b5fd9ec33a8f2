"""Prometheus-style durations: ``30s``, ``5m``, ``4h``, ``1d``, ``1w``, ``1h30m``, ``250ms``."""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["format_duration", "parse_duration"]

_UNITS = (("y", 365 * 86400.0), ("w", 7 * 86400.0), ("d", 86400.0), ("h", 3600.0), ("m", 60.0), ("s", 1.0))
_RE = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")


def parse_duration(text: str) -> timedelta:
    """Parse a Prometheus duration; raises ValueError naming the bad text."""
    s = str(text).strip()
    m = _RE.match(s)
    if not s or not m or not any(m.groups()):
        raise ValueError(f"not a valid duration: {text!r} (expected e.g. 30s, 5m, 4h, 1d)")
    seconds = sum(int(g) * mult for g, (_, mult) in zip(m.groups()[:6], _UNITS, strict=True) if g)
    ms = int(m.group(7)) if m.group(7) else 0
    try:
        return timedelta(seconds=seconds, milliseconds=ms)
    except OverflowError:
        raise ValueError(f"duration too long: {text!r}") from None


def format_duration(td: timedelta) -> str:
    total_ms = round(td.total_seconds() * 1000)
    if total_ms == 0:
        return "0s"
    out = []
    secs, ms = divmod(total_ms, 1000)
    for unit, mult in _UNITS:
        n, secs = divmod(secs, int(mult))
        if n:
            out.append(f"{n}{unit}")
    if ms:
        out.append(f"{ms}ms")
    return "".join(out)
