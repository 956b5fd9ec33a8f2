"""Handlers: what every Function trigger runs, and what the CLI runs over a LocalRuntime.

Each takes plain data and a :class:`vigil.runtime.Runtime`, delegates to the package that
owns the work (``vigil.drift_path``, ``ingest.cost``, ``detectors.*``,
``alerts.pipeline``/``alerts.dispatch``) and returns a small JSON-able dict. Handlers are
idempotent (delivery is at-least-once) and raise to make the platform retry. Heavy imports
(pandas, scikit-learn, pyarrow) stay inside the handlers that need them: importing this
package and handling a resource event never loads them.

Modules: :mod:`~vigil.handlers.events` (resource events -> drift),
:mod:`~vigil.handlers.cost` (exports -> costs -> overspend), :mod:`~vigil.handlers.timers`
(idle, sweep, activity, digest, forwarding), :mod:`~vigil.handlers.delivery` (alerts queue -> channels),
:mod:`~vigil.handlers.actions` (card buttons, silences API, remediation) and
:mod:`~vigil.handlers.health`. Resources and metrics come from
:class:`~vigil.handlers.sources.LiveSources` (a tenant folder, or Azure).

Callers (Function front doors, the CLI, ``LocalRuntime.run_pending``) call the handlers
through this package's attributes, so there is one name for each.
"""

from __future__ import annotations

from vigil.handlers._common import TENANT_DIR, RetryableError, raise_alerts
from vigil.handlers.actions import (
    REMEDIATION_DEFER_S,
    REMEDIATION_MAX_DEFERRALS,
    card_action,
    handle_remediation,
    silences_api,
)
from vigil.handlers.cost import blob_created_event, handle_blob_created, handle_detect, handle_ingest_part
from vigil.handlers.delivery import dispatch_alert, link_signing
from vigil.handlers.events import drift_rules, handle_activity, handle_resource_events
from vigil.handlers.health import health
from vigil.handlers.sources import LiveSources, live_sources
from vigil.handlers.timers import (
    previous_findings,
    run_activity,
    run_digest,
    run_forward,
    run_metrics,
    run_sweep,
)

__all__ = [
    "REMEDIATION_DEFER_S",
    "REMEDIATION_MAX_DEFERRALS",
    "TENANT_DIR",
    "LiveSources",
    "RetryableError",
    "blob_created_event",
    "card_action",
    "dispatch_alert",
    "drift_rules",
    "handle_activity",
    "handle_blob_created",
    "handle_detect",
    "handle_ingest_part",
    "handle_remediation",
    "handle_resource_events",
    "health",
    "link_signing",
    "live_sources",
    "previous_findings",
    "raise_alerts",
    "run_activity",
    "run_digest",
    "run_forward",
    "run_metrics",
    "run_sweep",
    "silences_api",
]
