"""Plain functions behind the HTTP endpoints: signed card actions and the silences API.

The Function App wires these to HTTP triggers (function-key auth for the
silences API; the signed link is its own auth for card actions). They take
parsed input and a state store and return JSON-serialisable dicts; errors are
:class:`~alerts.signing.LinkError` (HTTP 403/410) or
:class:`~alerts.silences.SilenceError` (HTTP 400/404).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from alerts.acks import acknowledge
from alerts.alertstate import read_alert
from alerts.durations import parse_duration
from alerts.signing import LinkError, verify_link
from alerts.silences import SilenceError, create_silence, expire_silence, list_silences
from core.state.base import Namespace, StateStore

__all__ = [
    "action_response",
    "api_create_silence",
    "api_expire_silence",
    "api_list_silences",
    "apply_action",
    "silences_response",
]

SILENCE_FROM_LINK = timedelta(hours=24)


def apply_action(
    query: Mapping[str, str], *, key: bytes, store: StateStore, now: datetime, by: str = "signed link"
) -> dict[str, Any]:
    """Check a signed card link and carry out its action once.

    The action is applied idempotently (a silence's id derives from the link's
    nonce) before the nonce is consumed, so a crash in between never loses the
    click and a second click is refused.
    """
    act = verify_link(query, key=key, now=now, store=store, consume=False)
    if store.get(Namespace.NONCES, act.nonce) is not None:
        raise LinkError("link already used")
    fp = act.params.get("fp", "")
    alert = read_alert(store, fp)
    if alert is None:
        raise LinkError(f"alert {fp!r} is no longer known")
    result: dict[str, Any] = {"action": act.action, "fingerprint": fp}
    if act.action == "ack":
        result["ack"] = acknowledge(store, fp, by=by, comment="acknowledged from a Teams card", now=now)
    elif act.action == "silence":
        names: list[str] = [n for n in ("alertname", "resource_id") if n in alert.labels] or sorted(alert.labels)
        matchers = [f'{n}="{_escape(alert.labels[n])}"' for n in names]
        s = create_silence(
            store,
            matchers=matchers,
            duration=SILENCE_FROM_LINK,
            created_by=by,
            comment=f"silenced 24h from a Teams card (alert {fp})",
            now=now,
            silence_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"vigil-silence:{act.nonce}")),
        )
        result["silence"] = s.to_dict()
    elif act.action == "approve":
        entry = {
            "event": "remediation_approved",
            "fingerprint": fp,
            "by": by,
            "at": now.isoformat(),
            "labels": alert.labels,
            "nonce": act.nonce,
        }
        # The approval itself is an audit event; executing it (alerts.remediation) is another.
        store.append(Namespace.AUDIT, entry, key=f"approval:{act.nonce}")
        result["approval"] = entry
    if not store.add(Namespace.NONCES, act.nonce, {"action": act.action, "used_at": now.isoformat(), "fp": fp}):
        raise LinkError("link already used")
    return result


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"')


def api_create_silence(body: Mapping[str, Any], *, store: StateStore, now: datetime) -> dict[str, Any]:
    """POST body: {"matchers": [...], "duration": "24h" | "endsAt": iso, "comment", "createdBy", "startsAt"?}."""
    if not isinstance(body, Mapping):
        raise SilenceError(f"the request body must be a JSON object, got {type(body).__name__}")
    matchers = body.get("matchers")
    if not isinstance(matchers, list) or not all(isinstance(m, str) for m in matchers):
        raise SilenceError("matchers must be a list of strings")
    try:
        duration = parse_duration(str(body["duration"])) if body.get("duration") else None
        ends = _aware(body, "endsAt")
        starts = _aware(body, "startsAt")
    except ValueError as exc:
        raise SilenceError(str(exc)) from None
    try:
        s = create_silence(
            store,
            matchers=matchers,
            duration=duration,
            ends_at=ends,
            starts_at=starts,
            created_by=str(body.get("createdBy", "")),
            comment=str(body.get("comment", "")),
            now=now,
        )
    except OverflowError:
        raise SilenceError("the silence would end after the year 9999: use a shorter duration or endsAt") from None
    return {**s.to_dict(), "state": s.state(now)}


def _aware(body: Mapping[str, Any], name: str) -> datetime | None:
    """An ISO 8601 time with a timezone (a naive time cannot be compared with ``now``)."""
    if not body.get(name):
        return None
    value = datetime.fromisoformat(str(body[name]))
    if value.tzinfo is None:
        raise ValueError(f"{name} must include a timezone, e.g. 2026-11-27T12:00:00Z; got {body[name]!r}")
    return value


def api_list_silences(*, store: StateStore, now: datetime, state: str | None = None) -> list[dict[str, Any]]:
    return [{**s.to_dict(), "state": s.state(now)} for s in list_silences(store, now=now, state=state)]


def api_expire_silence(silence_id: str, *, store: StateStore, now: datetime) -> dict[str, Any]:
    s = expire_silence(store, silence_id, now=now)
    return {**s.to_dict(), "state": s.state(now)}


# -- HTTP adapters: (status, JSON body) for the Function App's HTTP triggers ------------------------


def action_response(
    query: Mapping[str, str], *, key: bytes | None, store: StateStore, now: datetime
) -> tuple[int, dict[str, Any]]:
    """GET /api/alerts/action?…: 200 done, 403 bad signature, 410 expired or used, 503 no key configured."""
    if not key:
        return 503, {"error": "signed links are not configured (VIGIL_SIGNING_KEY)"}
    try:
        return 200, apply_action(query, key=key, store=store, now=now)
    except LinkError as exc:
        msg = str(exc)
        status = 410 if ("expired" in msg or "already used" in msg or "no longer" in msg) else 403
        return status, {"error": msg}


def silences_response(
    method: str,
    *,
    store: StateStore,
    now: datetime,
    silence_id: str | None = None,
    body: Mapping[str, Any] | None = None,
    state: str | None = None,
) -> tuple[int, Any]:
    """The silences API (function-key auth): GET list, POST create, DELETE {id} expire."""
    try:
        m = method.upper()
        if m == "GET":
            return 200, api_list_silences(store=store, now=now, state=state)
        if m == "POST":
            return 201, api_create_silence(body or {}, store=store, now=now)
        if m == "DELETE" and silence_id:
            return 200, api_expire_silence(silence_id, store=store, now=now)
        return 405, {"error": f"{method} not allowed"}
    except SilenceError as exc:
        return (404 if str(exc).startswith("no silence") else 400), {"error": str(exc)}
