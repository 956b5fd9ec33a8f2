"""HMAC-SHA256 signed, expiring, single-use links for card buttons.

A link is ``{base}/api/alerts/action?a=<action>&fp=<fingerprint>&exp=<unix>&n=<nonce>&sig=<hex>``.
The signature covers a versioned canonical string of every parameter. The base URL
may carry its own query (``https://app.example?code=<function key>``): those
parameters ride along unsigned, because the host checks the function key before
Vigil sees the request, and :data:`UNSIGNED` names the ones ``verify_link`` skips. Checking
uses :func:`hmac.compare_digest` (constant time); the nonce is consumed with an
add-if-absent in ``Namespace.NONCES``, so a link works once.

Nonces are derived (HMAC of notification key, action and fingerprint), so
rendering a card twice gives identical bytes: a retried delivery can recognise
parts it already sent. A derived nonce is still unguessable without the key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode

from core.state.base import Namespace, StateStore

__all__ = ["ACTIONS", "UNSIGNED", "LinkError", "SignedAction", "derive_nonce", "sign_link", "verify_link"]

ACTIONS = ("ack", "silence", "approve")
ACTION_PATH = "/api/alerts/action"
UNSIGNED = frozenset({"code"})  # the Functions host's function-key parameter


class LinkError(ValueError):
    """A signed link is invalid, expired or already used."""


@dataclass(frozen=True, slots=True)
class SignedAction:
    action: str
    params: Mapping[str, str]
    nonce: str
    expires: datetime


def _canonical(action: str, params: Mapping[str, str], exp: int, nonce: str) -> bytes:
    body = "&".join(f"{k}={params[k]}" for k in sorted(params))
    return f"v1\n{action}\n{body}\n{exp}\n{nonce}".encode()


def _sig(key: bytes, action: str, params: Mapping[str, str], exp: int, nonce: str) -> str:
    return hmac.new(key, _canonical(action, params, exp, nonce), hashlib.sha256).hexdigest()


def derive_nonce(key: bytes, *parts: str) -> str:
    return hmac.new(key, "|".join(("nonce", *parts)).encode(), hashlib.sha256).hexdigest()[:32]


def sign_link(
    base_url: str,
    action: str,
    params: Mapping[str, str],
    *,
    key: bytes,
    issued_at: datetime,
    ttl: timedelta,
    nonce: str,
) -> str:
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if not key:
        raise ValueError("empty signing key")
    reserved = {"a", "exp", "n", "sig"} & set(params)
    if reserved:
        raise ValueError(f"reserved parameter names: {sorted(reserved)}")
    if UNSIGNED & set(params):
        raise ValueError(f"reserved parameter names: {sorted(UNSIGNED & set(params))}")
    exp = int((issued_at + ttl).timestamp())
    q = {"a": action, **params, "exp": str(exp), "n": nonce, "sig": _sig(key, action, params, exp, nonce)}
    base, _, base_query = base_url.partition("?")
    extra = dict(parse_qsl(base_query))
    unknown = set(extra) - UNSIGNED
    if unknown:
        raise ValueError(f"the action base URL may only carry {sorted(UNSIGNED)}, not {sorted(unknown)}")
    return f"{base.rstrip('/')}{ACTION_PATH}?{urlencode({**q, **extra})}"


def verify_link(
    query: Mapping[str, str],
    *,
    key: bytes,
    now: datetime,
    store: StateStore | None,
    consume: bool = True,
) -> SignedAction:
    """Check a link's query parameters; consume its nonce. Raises :class:`LinkError`."""
    try:
        action, exp_s, nonce, sig = query["a"], query["exp"], query["n"], query["sig"]
        exp = int(exp_s)
    except (KeyError, ValueError):
        raise LinkError("malformed link") from None
    params = {k: v for k, v in query.items() if k not in ("a", "exp", "n", "sig") and k not in UNSIGNED}
    expected = _sig(key, action, params, exp, nonce)
    if not hmac.compare_digest(expected.encode(), str(sig).encode()):
        raise LinkError("bad signature")
    if action not in ACTIONS:
        raise LinkError(f"unknown action {action!r}")
    expires = datetime.fromtimestamp(exp, tz=now.tzinfo)
    if now >= expires:
        raise LinkError("link expired")
    if consume:
        if store is None:
            raise LinkError("no store to record the nonce")
        if not store.add(Namespace.NONCES, nonce, {"action": action, "used_at": now.isoformat(), **params}):
            raise LinkError("link already used")
    return SignedAction(action, params, nonce, expires)
