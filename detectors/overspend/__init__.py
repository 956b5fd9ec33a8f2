"""Overspend: budgets with forecast, and cost anomalies with their root cause.

``detect(costs, config=..., budgets=..., now=..., days=...)`` is pure: it reads a
cost frame with the core/costframe.py columns, the config and ``now``, and
returns findings (FIRING and RESOLVED). This package imports pandas; keep it off
the drift cold path (``detectors/__init__.py`` does not import it).
"""

from __future__ import annotations

from detectors.overspend.detect import PARTITIONED_SCOPES, detect, merge_parts

__all__ = ["PARTITIONED_SCOPES", "detect", "merge_parts"]
