"""Delivery: one alerts-queue message -> the receiver's channels (or the CLI's outbox folder)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from vigil.handlers._common import RetryableError

if TYPE_CHECKING:
    from vigil.runtime import Runtime

__all__ = ["dispatch_alert", "link_signing"]

log = logging.getLogger(__name__)


def dispatch_alert(message: dict[str, Any], rt: Runtime) -> dict[str, Any]:
    """Deliver one outbox message. Retryable channel failures raise (the queue redelivers).

    A runtime with a channel sink (``vigil.runtime.HasChannelSink``: the CLI's outbox folder)
    gets the exact payloads written there instead of sent.
    """
    from alerts.dispatch import deliver
    from alerts.outbox import QueueOutbox
    from vigil.runtime import HasChannelSink, HasReceipts

    body = QueueOutbox.resolve(rt.store, message)
    now = rt.now()
    signing_key, action_base_url = link_signing(rt)
    res = deliver(
        body,
        config=rt.config,
        store=rt.store,
        now=now,
        sink=rt.channel_sink() if isinstance(rt, HasChannelSink) else None,
        signing_key=signing_key,
        action_base_url=action_base_url,
        receipts=rt.receipts() if isinstance(rt, HasReceipts) else None,
    )
    key = str(body.get("key"))
    gave_up = QueueOutbox.record(rt.store, key, ok=res.ok, retryable=res.retryable, detail=res.to_dict(), now=now)
    if res.retryable:  # raised even when given up on: the host's last attempt moves it to the poison queue
        raise RetryableError(f"notification {key}: {res.reason}" + (" (given up)" if gave_up else ""))
    if not res.ok:
        log.error("notification %s failed permanently: %s", key, res.reason, extra={"key": key})
    return res.to_dict()


def _secret(rt: Runtime, name: str) -> str | None:
    """A secret setting; an unresolved Key Vault reference counts as unset."""
    value = rt.setting(name)
    if not value or value.startswith("@Microsoft.KeyVault("):
        return None
    return value


def link_signing(rt: Runtime) -> tuple[bytes | None, str | None]:
    """The key for signed card links, and the base URL they point at (with the
    card_action function key as ``?code=``). Cards carry no buttons without both."""
    key = _secret(rt, "VIGIL_SIGNING_KEY")
    base = rt.setting("VIGIL_PUBLIC_BASE_URL")
    if not key or not base:
        return (key.encode() if key else None), None
    code = _secret(rt, "VIGIL_ACTION_KEY")
    if code:
        from urllib.parse import urlencode

        base = f"{base.rstrip('/')}?{urlencode({'code': code})}"
    return key.encode(), base
