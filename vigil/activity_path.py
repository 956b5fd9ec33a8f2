"""The activity log in a run: the activity detector and attribution of drift and idle findings.

Kept apart from ``vigil.pipeline`` so its call sites there stay two lines: ``detect_activity`` after the
drift step and ``attribute`` before the alerts step. Records are Activity Log ``EventData`` objects,
from a tenant folder's ``activity/`` or from ``ingest.activity`` (REST or Log Analytics).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from core.model import Finding
from vigil.config import VigilConfig

__all__ = ["attribute", "detect_activity"]


def detect_activity(records: Sequence[Mapping[str, Any]], config: VigilConfig, now: datetime) -> list[Finding]:
    from detectors.activity.detect import detect

    return detect(
        records=records,
        config=config.detectors.activity,
        now=now,
        drift_parameters=config.detectors.drift.parameters,
    )


def attribute(findings: Sequence[Finding], records: Sequence[Mapping[str, Any]]) -> list[Finding]:
    """Drift and idle findings whose event named no caller get "changed by/when" from the activity log."""
    if not records:
        return list(findings)
    from detectors.activity.attribution import with_attribution

    return with_attribution(findings, records)
