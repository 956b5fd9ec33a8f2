"""The configured activity-log sources (``sources.activity`` in vigil.yaml) as real SDK-backed readers.

``build_sources`` makes one :class:`~ingest.activity.rest.RestActivitySource` per ``rest`` entry and one
:class:`~ingest.activity.loganalytics.LogAnalyticsActivitySource` per ``log_analytics`` entry, on one
credential (``DefaultAzureCredential`` in a live run). ``arm_kwargs``/``logs_kwargs`` reach the clients
(endpoint, CA bundle, retry settings: how tests point them at the local HTTPS server).
``build_reader`` wraps them in an :class:`~ingest.activity.reader.ActivityReader` with the configured
overlap, first look-back and window.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from core.state import StateStore
from ingest.activity.loganalytics import LogAnalyticsActivitySource
from ingest.activity.reader import ActivityReader, SourceProgress, WindowSource
from ingest.activity.rest import RestActivitySource
from ingest.config import ActivitySourcesConfig

__all__ = ["build_reader", "build_sources"]


def build_sources(
    cfg: ActivitySourcesConfig,
    credential: Any,
    *,
    arm_kwargs: Mapping[str, Any] | None = None,
    logs_kwargs: Mapping[str, Any] | None = None,
) -> list[WindowSource]:
    out: list[WindowSource] = []
    for rest in cfg.rest:
        out.append(
            RestActivitySource.connect(
                credential, rest.subscription_id, rest.resource_providers, **dict(arm_kwargs or {})
            )
        )
    for la in cfg.log_analytics:
        out.append(
            LogAnalyticsActivitySource.connect(
                credential, la.workspace_id, la.subscription_ids, **dict(logs_kwargs or {})
            )
        )
    return out


def build_reader(
    cfg: ActivitySourcesConfig,
    store: StateStore,
    sources: list[WindowSource],
    *,
    progress: Callable[[SourceProgress], None] | None = None,
) -> ActivityReader:
    return ActivityReader(
        store,
        sources,
        overlap=timedelta(minutes=cfg.overlap_minutes),
        initial_lookback=timedelta(hours=cfg.initial_lookback_hours),
        max_window=timedelta(hours=cfg.max_window_hours),
        progress=progress,
    )
