"""The health check: config loaded and state store reachable."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vigil.handlers._common import ALERTS_QUEUE, DETECT_QUEUE, DETECT_SCOPE_QUEUE, INGEST_QUEUE, setting

if TYPE_CHECKING:
    from vigil.runtime import Runtime

__all__ = ["health"]


def health(rt: Runtime) -> dict[str, Any]:
    """``{"ok": bool, "status": "ok"|"unhealthy", "checks": {...}}``; never raises."""
    from core.state.base import Namespace, StateUnavailableError

    checks: dict[str, str] = {}
    ok = True
    try:
        cfg = rt.config
        checks["config"] = f"ok ({len(cfg.receivers)} receivers)"
    except Exception as exc:  # any config error makes the app unhealthy; report it (no config text), do not crash
        from core.strict import config_error_summary

        checks["config"] = f"error: {config_error_summary(exc)}"
        ok = False
    try:
        rt.store.get(Namespace.CHECKPOINTS, "health-probe")
        checks["state"] = "ok"
    except Exception as exc:  # StateUnavailableError, or any backend failure: report, do not raise
        kind = "unavailable" if isinstance(exc, StateUnavailableError) else f"unavailable ({type(exc).__name__})"
        checks["state"] = f"{kind}: {exc}"
        ok = False
    checks["queues"] = ", ".join(setting(rt, q) for q in (INGEST_QUEUE, DETECT_QUEUE, DETECT_SCOPE_QUEUE, ALERTS_QUEUE))
    return {"ok": ok, "status": "ok" if ok else "unhealthy", "checks": checks}
