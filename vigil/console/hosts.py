"""Building the console for its two hosts from a :class:`~vigil.runtime.Runtime`.

Both hosts read the same state store and the same remediation config, and queue an
approval on the same remediation queue the card buttons use (``REMEDIATION_QUEUE``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from vigil.console.app import ConsoleConfig, create_app
from vigil.console.auth import AppServiceAuth, Authenticator
from vigil.runtime import Runtime

__all__ = [
    "ACTIVITY_LOOKBACK",
    "AZURE_BASE",
    "azure_app",
    "console_config",
    "console_secret",
    "live_sources",
    "tenant_sources",
]

log = logging.getLogger(__name__)
AZURE_BASE = "/api/console"  # host.json keeps the default "api" route prefix
ACTIVITY_LOOKBACK = timedelta(days=90)  # how long the Activity Log keeps records


def console_secret(settings: Mapping[str, str]) -> bytes:
    """The CSRF secret: ``VIGIL_CONSOLE_SECRET``, else derived from ``VIGIL_SIGNING_KEY`` (so every
    instance of the Function App agrees), else random for this process (a warning: tokens then
    fail across instances and restarts)."""
    own = settings.get("VIGIL_CONSOLE_SECRET", "")
    if own and not own.startswith("@Microsoft.KeyVault("):
        return own.encode()
    signing = settings.get("VIGIL_SIGNING_KEY", "")
    if signing and not signing.startswith("@Microsoft.KeyVault("):
        return hmac.new(signing.encode(), b"vigil-console-csrf", hashlib.sha256).digest()
    log.warning("console: neither VIGIL_CONSOLE_SECRET nor VIGIL_SIGNING_KEY is set; CSRF secret is per process")
    return secrets.token_bytes(32)


def console_config(rt: Runtime, *, auth: Authenticator, secret: bytes, base: str = "") -> ConsoleConfig:
    from alerts.remediation.findings import rule_actions_from_registry

    queue = rt.setting("REMEDIATION_QUEUE") or "vigil-remediation"

    def enqueue(message: dict[str, str]) -> None:
        rt.enqueue(queue, message)

    from alerts.compiled import compiled
    from vigil.console.costs import store_series_reader
    from vigil.handlers._common import COSTS_CONTAINER, setting

    def costs() -> Any:
        return rt.blobs(setting(rt, COSTS_CONTAINER))

    return ConsoleConfig(
        route=compiled(rt.config).root,
        store=rt.store,
        auth=auth,
        secret=secret,
        clock=lambda: datetime.now(UTC),
        remediation=rt.config.remediation,
        rule_actions=rule_actions_from_registry(),
        enqueue_remediation=enqueue,
        base=base,
        cost_series=store_series_reader(costs, rt.config.detectors.overspend),
    )


def azure_app(rt: Runtime, settings: Mapping[str, str]) -> Starlette:
    """The console behind App Service Authentication, under ``/api/console``, with the drift
    timeline's ARM JSON and Activity Log read from where the handlers read them (:func:`live_sources`)."""
    cfg = console_config(rt, auth=AppServiceAuth(settings), secret=console_secret(settings), base=AZURE_BASE)
    cfg.resource_reader, cfg.activity = live_sources(rt, cfg.clock)
    return create_app(cfg)


Reader = Callable[[str], Mapping[str, Any] | None]
Activity = Callable[[str], list[Mapping[str, Any]]]


def live_sources(rt: Runtime, clock: Callable[[], datetime]) -> tuple[Reader | None, Activity | None]:
    """The drift timeline's resource reader and Activity Log for a runtime, from the handlers' own
    :class:`~vigil.handlers.sources.LiveSources`: a tenant folder (``VIGIL_TENANT_DIR``), else, with
    an Azure credential, ARM GET (the drift path's ``ingest.arm.ArmReader``, one client reused) and
    the Activity Log REST API filtered on the resource (``resourceUri``) over the last
    :data:`ACTIVITY_LOOKBACK`; (None, None) without either."""
    from vigil.handlers.sources import live_sources as handler_sources

    sources = handler_sources(rt)
    if sources.tenant is not None:
        return tenant_sources(sources.tenant.root)
    reader = sources.resource_reader()
    azure = sources.azure
    if reader is None or azure is None:
        return None, None
    clients: dict[str, Any] = {}
    lock = threading.Lock()

    def activity(resource_id: str) -> list[Mapping[str, Any]]:
        from core.model import ResourceRef
        from ingest.activity.rest import RestActivitySource

        sub = ResourceRef.from_id(resource_id).subscription_id
        if not sub:
            return []
        with lock:
            source = clients.get(sub)
            if source is None:
                source = clients[sub] = RestActivitySource.connect(azure.credential, sub, **azure.azure_client_kwargs)
        now = clock()
        records: list[Mapping[str, Any]] = source.for_resource(resource_id, now - ACTIVITY_LOOKBACK, now)
        return records

    def read(resource_id: str) -> Mapping[str, Any] | None:
        resource: Mapping[str, Any] | None = reader.get(resource_id)
        return resource

    return read, activity


def tenant_sources(
    folder: Path,
) -> tuple[Callable[[str], Mapping[str, Any] | None], Callable[[str], list[Mapping[str, Any]]]]:
    """The drift timeline's resource reader and Activity Log from a tenant folder (the demo's
    ``out/tenant``): ARM JSON by id, and the log entries per resource (read once, on first use)."""
    from vigil.tenant import TenantFolder, canonical_id

    tenant = TenantFolder(folder)
    by_id: dict[str, list[Mapping[str, Any]]] = {}
    loaded = threading.Event()
    lock = threading.Lock()

    def activity(resource_id: str) -> list[Mapping[str, Any]]:
        if not loaded.is_set():
            with lock:
                if not loaded.is_set():
                    for entry in tenant.entries():
                        by_id.setdefault(canonical_id(str(entry.get("resourceId", ""))), []).append(entry)
                    loaded.set()
        return by_id.get(canonical_id(resource_id), [])

    return tenant.get, activity
