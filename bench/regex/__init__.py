"""bench/regex: the catastrophic matcher of issue 17 through the route tree, RE2 against backtracking.

``value``: milliseconds to route one alert whose 26-character ``resource_id`` meets
``resource_id=~"(/?[a-z0-9/.-]*)*X"`` (no match, the worst case for a backtracking engine), through
:func:`alerts.routing.compile_routes` with the route-decision cache off, best of 5. Goal: under 5 ms.

``baseline``: Python's ``re`` (what Vigil used before) on the same anchored pattern with a shorter,
16-character label (26 characters take about 19 s), same run; ``measurements`` give ``re`` at 12, 14 and
16 characters, which roughly quadruple per two characters, and RE2 on a 10,000-character label.
"""

from __future__ import annotations

import re
import time
from typing import Any

from alerts.config import AlertingConfig
from alerts.routing import compile_routes

__all__ = ["main"]

PATTERN = "(/?[a-z0-9/.-]*)*X"
LABEL = "/subscriptions/abc/def/ghi"  # 26 characters
GOAL_MS = 5.0


def _best(fn: Any, repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> dict[str, Any]:
    cfg = AlertingConfig.model_validate(
        {
            "route": {
                "receiver": "default",
                "routes": [{"receiver": "hot", "matchers": [f'resource_id=~"{PATTERN}"']}],
            },
            "receivers": [{"name": "default"}, {"name": "hot"}],
        }
    )
    root = compile_routes(cfg.route, list(cfg.receivers))
    for r in root.walk():
        r.use_cache = False
    assert len(LABEL) == 26
    assert [r.opts.receiver for r in root.match({"resource_id": LABEL})] == ["default"]
    value_ms = _best(lambda: root.match({"resource_id": LABEL})) * 1000
    long_label = "/a" * 5000
    long_ms = _best(lambda: root.match({"resource_id": long_label})) * 1000
    py = re.compile(f"^(?:{PATTERN})$")
    py_ms = {n: _best(lambda n=n: py.match(LABEL[:n]), repeats=1) * 1000 for n in (12, 14, 16)}
    baseline_ms = py_ms[16]
    return {
        "name": "regex",
        "unit": "ms",
        "value": round(value_ms, 4),
        "baseline": round(baseline_ms, 3),
        "ratio": round(value_ms / baseline_ms, 6),
        "goal": GOAL_MS,
        "pass": value_ms < GOAL_MS,
        "measurements": {
            "re2_26_chars_ms": round(value_ms, 4),
            "re2_10000_chars_ms": round(long_ms, 4),
            "python_re_ms_by_label_length": {str(k): round(v, 3) for k, v in py_ms.items()},
        },
    }
