"""The remediation queue's handler: an approval clicked on a card arrives here
(through ``%REMEDIATION_QUEUE%``) and is executed once, with the guards
re-checked against fresh state.

A rejected or malformed request is final (recorded, not retried); an ARM error
that may pass (throttling, 5xx, network) raises so the platform redelivers the
message, and the ledger key keeps the redelivery from acting twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from alerts.remediation.approve import ApprovalRejectedError, check_request, execute_approved
from alerts.remediation.arm import ArmClient
from alerts.signing import LinkError
from vigil.runtime import AzureAccess, Runtime

__all__ = ["handle_remediation"]

log = logging.getLogger(__name__)


def handle_remediation(
    message: Mapping[str, Any], rt: Runtime, *, now: datetime, arm: ArmClient | None = None
) -> dict[str, Any]:
    if message.get("kind") not in ("remediation-approved", "remediation-auto"):
        return {"ok": False, "rejected": f"unknown remediation message kind {message.get('kind')!r}"}
    from vigil.handlers import link_signing

    try:  # signed by this deployment, matches its recorded approval, the alert still fires, policy allows
        check_request(message, key=link_signing(rt)[0], store=rt.store, config=rt.config)
    except ApprovalRejectedError as exc:
        log.warning("remediation request rejected: %s", exc, extra={"fingerprint": message.get("fingerprint")})
        return {"ok": False, "rejected": str(exc)}
    client = arm
    if client is None:
        if not isinstance(rt, AzureAccess):
            raise RuntimeError("the runtime has no Azure credential for ARM")
        client = ArmClient(rt.credential, **rt.azure_client_kwargs)
    try:
        entry = execute_approved(
            {str(k): str(v) for k, v in message.items() if k != "sig"},
            store=rt.store,
            arm=client,
            config=rt.config.remediation,
            now=now,
            approved_by=str(message.get("approved_by", "unknown")),
            correlation_id=str(message.get("correlation_id", message.get("nonce", ""))),
        )
    except (ApprovalRejectedError, LinkError) as exc:
        log.warning("remediation request rejected: %s", exc, extra={"fingerprint": message.get("fingerprint")})
        return {"ok": False, "rejected": str(exc)}
    finally:
        if arm is None:
            client.close()
    return {"ok": entry.result in ("succeeded", "noop"), "result": entry.result, "detail": entry.detail}
