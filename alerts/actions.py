"""Plain functions behind the HTTP endpoints: signed card actions and the silences API.

The Function App wires these to HTTP triggers (function-key auth for the
silences API; the signed link is its own auth for card actions). They take
parsed input and a state store and return JSON-serialisable dicts; errors are
:class:`~alerts.signing.LinkError` (HTTP 403/410) or
:class:`~alerts.silences.SilenceError` (HTTP 400/404).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from alerts.acks import acknowledge
from alerts.alertstate import read_alert
from alerts.durations import parse_duration
from alerts.signing import LinkError, verify_link
from alerts.silences import SilenceError, create_silence, expire_silence, list_silences
from core.state.base import Namespace, StateStore

__all__ = [
    "ActionRefusedError",
    "action_response",
    "api_create_silence",
    "api_expire_silence",
    "api_list_silences",
    "apply_action",
    "confirmation_page",
    "csrf_token",
    "silences_response",
]

SILENCE_FROM_LINK = timedelta(hours=24)
ANONYMOUS = "signed link"

Approvable = Callable[[Mapping[str, str]], "str | None"]
"""Given an alert's labels, why it may not be approved now (or None): alerts.remediation.policy."""


class ActionRefusedError(LinkError):
    """The link is genuine, but its action is not allowed now (dry-run, resolved, no identity)."""


def apply_action(
    query: Mapping[str, str],
    *,
    key: bytes,
    store: StateStore,
    now: datetime,
    by: str = "",
    approvable: Approvable | None = None,
) -> dict[str, Any]:
    """Check a signed card link and carry out its action once.

    The action is applied idempotently (a silence's id derives from the link's
    nonce) before the nonce is consumed, so a crash in between never loses the
    click and a second click is refused.

    ``by`` is the signed-in user (App Service Authentication's principal name); an
    approval needs one, and ``approvable`` (the remediation policy) must allow the
    alert as it is now: still firing, a remediation for its rule, not in dry-run.
    """
    act = verify_link(query, key=key, now=now, store=store, consume=False)
    if store.get(Namespace.NONCES, act.nonce) is not None:
        raise LinkError("link already used")
    fp = act.params.get("fp", "")
    alert = read_alert(store, fp)
    if alert is None:
        raise LinkError(f"alert {fp!r} is no longer known")
    result: dict[str, Any] = {"action": act.action, "fingerprint": fp}
    used: dict[str, Any] = {"action": act.action, "used_at": now.isoformat(), "fp": fp}
    if act.action == "approve":
        if not alert.firing:
            raise ActionRefusedError(f"alert {fp} is resolved: its approval link no longer acts")
        if not by:
            raise ActionRefusedError("approving needs a signed-in user (App Service Authentication)")
        why = approvable(alert.labels) if approvable is not None else "remediation approvals are not configured"
        if why:
            raise ActionRefusedError(f"approval refused: {why}")
        used.update({"resource_id": alert.labels.get("resource_id", ""), "by": by})
    by = by or ANONYMOUS
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
    if not store.add(Namespace.NONCES, act.nonce, used):
        raise LinkError("link already used")
    return result


def csrf_token(query: Mapping[str, str], *, key: bytes, principal: str) -> str:
    """The confirmation form's anti-forgery token: an HMAC bound to the link's signature
    and to the signed-in user, so another site can neither read nor make one."""
    msg = f"vigil csrf v1\n{query.get('sig', '')}\n{principal}".encode()
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


_TITLES = {"ack": "Acknowledge", "silence": "Silence for 24 hours", "approve": "Approve remediation"}


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta name='robots' content='noindex'><meta name='referrer' content='no-referrer'>"
        f"<title>{html.escape(title)}</title></head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


def confirmation_page(
    query: Mapping[str, str], *, key: bytes | None, store: StateStore, now: datetime, principal: str
) -> tuple[int, str]:
    """GET on a card link: check it and show what it would do, with a POST form; nothing acts.

    Link scanners and preview fetchers follow GETs: only the form's POST, carrying the
    token from :func:`csrf_token`, carries the action out."""
    if not key:
        return 503, _page("Not configured", "<p>Signed links are not configured (VIGIL_SIGNING_KEY).</p>")
    try:
        act = verify_link(query, key=key, now=now, store=store, consume=False)
        if store.get(Namespace.NONCES, act.nonce) is not None:
            raise LinkError("link already used")
    except LinkError as exc:
        status = _status(str(exc))
        return status, _page("Link not valid", f"<p>{html.escape(str(exc))}</p>")
    fp = act.params.get("fp", "")
    alert = read_alert(store, fp)
    labels = alert.labels if alert is not None else {}
    facts = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(labels.get(k, '')))}</td></tr>"
        for k in ("alertname", "resource_id", "severity")
        if labels.get(k)
    )
    state = "unknown" if alert is None else ("firing" if alert.firing else "resolved")
    who = f"<p>Signed in as {html.escape(principal)}.</p>" if principal else "<p>Not signed in.</p>"
    title = _TITLES.get(act.action, act.action)
    form = (
        "<form method='post' action=''>"
        f"<input type='hidden' name='csrf' value='{csrf_token(query, key=key, principal=principal)}'>"
        f"<button type='submit'>{html.escape(title)}</button></form>"
    )
    body = f"<p>Alert {html.escape(fp)} ({state}).</p><table>{facts}</table>{who}{form}"
    return 200, _page(f"Confirm: {title}", body)


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"')


API_AUTHOR = "function key"  # the author of a silence created with the function key alone (no signed-in user)


def api_create_silence(
    body: Mapping[str, Any],
    *,
    store: StateStore,
    now: datetime,
    principal: str = "",
    max_duration: timedelta | None = None,
) -> dict[str, Any]:
    """POST body: {"matchers": [...], "duration": "24h" | "endsAt": iso, "comment", "createdBy"?, "startsAt"?}.

    The author is the authenticated identity (``principal``, from App Service Authentication),
    never the body's ``createdBy``, which is kept in the comment as an unverified claim; the
    silence may end at most ``max_duration`` from now."""
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
            created_by=principal or API_AUTHOR,
            comment=_with_claim(str(body.get("comment", "")), str(body.get("createdBy", "")), principal),
            now=now,
            max_duration=max_duration,
        )
    except OverflowError:
        raise SilenceError("the silence would end after the year 9999: use a shorter duration or endsAt") from None
    return {**s.to_dict(), "state": s.state(now)}


def _with_claim(comment: str, claimed: str, principal: str) -> str:
    claimed = claimed.strip()[:100]
    if not comment.strip() or not claimed or claimed == principal:
        return comment
    return f"{comment} (createdBy claimed, unverified: {claimed})"


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


def _status(msg: str) -> int:
    return 410 if ("expired" in msg or "already used" in msg or "no longer" in msg) else 403


def action_response(
    query: Mapping[str, str],
    *,
    key: bytes | None,
    store: StateStore,
    now: datetime,
    csrf: str | None,
    principal: str = "",
    approvable: Approvable | None = None,
) -> tuple[int, dict[str, Any]]:
    """POST /api/alerts/action?…: 200 done, 403 bad signature or anti-forgery token,
    409 refused now (dry-run, resolved, not signed in), 410 expired or used, 503 no key configured."""
    if not key:
        return 503, {"error": "signed links are not configured (VIGIL_SIGNING_KEY)"}
    expected = csrf_token(query, key=key, principal=principal).encode()
    if not csrf or not hmac.compare_digest(str(csrf).encode("utf-8", "replace"), expected):
        return 403, {"error": "the confirmation form's anti-forgery token is missing or does not match"}
    try:
        return 200, apply_action(query, key=key, store=store, now=now, by=principal, approvable=approvable)
    except ActionRefusedError as exc:
        return 409, {"error": str(exc)}
    except LinkError as exc:
        msg = str(exc)
        return _status(msg), {"error": msg}


def silences_response(
    method: str,
    *,
    store: StateStore,
    now: datetime,
    silence_id: str | None = None,
    body: Mapping[str, Any] | None = None,
    state: str | None = None,
    principal: str = "",
    max_duration: timedelta | None = None,
) -> tuple[int, Any]:
    """The silences API (function-key auth): GET list, POST create, DELETE {id} expire."""
    try:
        m = method.upper()
        if m == "GET":
            return 200, api_list_silences(store=store, now=now, state=state)
        if m == "POST":
            return 201, api_create_silence(
                body or {}, store=store, now=now, principal=principal, max_duration=max_duration
            )
        if m == "DELETE" and silence_id:
            return 200, api_expire_silence(silence_id, store=store, now=now)
        return 405, {"error": f"{method} not allowed"}
    except SilenceError as exc:
        return (404 if str(exc).startswith("no silence") else 400), {"error": str(exc)}
