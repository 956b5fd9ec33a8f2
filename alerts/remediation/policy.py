"""Who may ask for a remediation, and how a request proves where it came from.

``approval_refusal`` is the one answer to "may this alert be approved now?", asked when
the card is built (no Approve button otherwise), when the approval is clicked and when
the worker picks the request up: the rule must have a remediation action, the alert must
name an in-scope resource, and the mode the routing gives it (the receiver's
``remediation_configs``, else the ``remediation`` section) must not be dry-run.

``sign_request`` / ``verify_request`` authenticate remediation queue messages: an
HMAC-SHA256 over the canonical JSON of every field but the signature, keyed with a key
derived from the signing secret (``VIGIL_SIGNING_KEY``, a Key Vault reference in Azure).
A message without a valid signature never reaches ARM.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from alerts.remediation.guards import check_scope, normalise_resource_id
from alerts.remediation.routing import mode_for_labels
from core.model import ResourceRef

if TYPE_CHECKING:
    from alerts.config import AlertingConfig

__all__ = ["QueueAuthError", "approval_refusal", "registry_rule_actions", "sign_request", "verify_request"]

SIG_FIELD = "sig"
# Fields the platform or the deferral loop may change on redelivery: not signed.
_UNSIGNED = frozenset({SIG_FIELD, "deferrals"})


class QueueAuthError(ValueError):
    """A remediation queue message is unsigned or its signature does not match."""


@lru_cache(maxsize=1)
def registry_rule_actions() -> dict[str, str]:
    """Rule id -> action id from the rule registry (imported once per process)."""
    from alerts.remediation.findings import rule_actions_from_registry

    return rule_actions_from_registry()


def approval_refusal(
    labels: Mapping[str, str], config: AlertingConfig, *, rule_actions: Mapping[str, str] | None = None
) -> str | None:
    """Why an alert with these labels may not be approved for remediation now, or None."""
    actions = {**(registry_rule_actions() if rule_actions is None else rule_actions), **config.remediation.actions}
    rule = str(labels.get("alertname", ""))
    if not actions.get(rule):
        return f"rule {rule or '?'} has no remediation action"
    rid = str(labels.get("resource_id", ""))
    if not rid:
        return "the alert names no resource"
    try:
        resource = ResourceRef.from_id(normalise_resource_id(rid))
    except ValueError as exc:
        return str(exc)
    scope = check_scope(resource, config.remediation)
    if not scope.allowed:
        return scope.reason
    if mode_for_labels(config, labels) == "dry-run":
        return "remediation is in dry-run mode for this alert: nothing is approved or executed"
    return None


def _canonical(message: Mapping[str, Any]) -> bytes:
    body = {str(k): str(v) for k, v in message.items() if k not in _UNSIGNED}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _queue_key(key: bytes) -> bytes:
    # A key of its own (derived), so a queue signature can never pass as a link signature.
    return hmac.new(key, b"vigil remediation queue v1", hashlib.sha256).digest()


def sign_request(message: Mapping[str, Any], *, key: bytes) -> dict[str, str]:
    """The message with ``sig``: HMAC-SHA256 over the canonical JSON of its other fields."""
    out = {str(k): str(v) for k, v in message.items() if k != SIG_FIELD}
    out[SIG_FIELD] = hmac.new(_queue_key(key), _canonical(out), hashlib.sha256).hexdigest()
    return out


def verify_request(message: Mapping[str, Any], *, key: bytes | None) -> None:
    """Raise :class:`QueueAuthError` unless ``message`` carries a valid signature (constant-time)."""
    if not key:
        raise QueueAuthError("no signing key is configured (VIGIL_SIGNING_KEY): remediation requests cannot be trusted")
    sig = message.get(SIG_FIELD)
    if not isinstance(sig, str) or not sig:
        raise QueueAuthError("the remediation request is not signed")
    want = hmac.new(_queue_key(key), _canonical(message), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(sig, want):
        raise QueueAuthError("the remediation request's signature does not match")
