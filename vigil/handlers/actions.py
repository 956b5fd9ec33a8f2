"""HTTP actions and the remediation worker: card buttons, the silences API, approved fixes."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from vigil.handlers._common import REMEDIATION_QUEUE, setting
from vigil.handlers.delivery import link_signing

if TYPE_CHECKING:
    from vigil.runtime import Runtime

__all__ = ["REMEDIATION_DEFER_S", "REMEDIATION_MAX_DEFERRALS", "card_action", "handle_remediation", "silences_api"]

log = logging.getLogger(__name__)

REMEDIATION_DEFER_S = 60
REMEDIATION_MAX_DEFERRALS = 60  # an hour: past CLAIM_TTL, when a dead holder's claim is taken over


def card_action(
    query: Mapping[str, str], rt: Runtime, *, csrf: str | None = None, principal: str = ""
) -> tuple[int, dict[str, Any]]:
    """A card button's confirmation POST (Acknowledge, Silence 24h, Approve remediation): check the
    signed link and the form's token, and act once. An approval is queued for the remediation worker."""
    from alerts.actions import action_response
    from alerts.remediation.policy import approval_refusal, sign_request

    key, _ = link_signing(rt)
    status, body = action_response(
        query,
        key=key,
        store=rt.store,
        now=rt.now(),
        csrf=csrf,
        principal=principal,
        approvable=lambda labels: approval_refusal(labels, rt.config),
    )
    approval = body.get("approval") if status == 200 else None
    if approval:
        from alerts.remediation.approve import request_from_approval
        from alerts.remediation.findings import rule_actions_from_registry

        request, why = request_from_approval(
            approval, rule_actions=rule_actions_from_registry(), config=rt.config.remediation
        )
        if request is not None and key:
            rt.enqueue(setting(rt, REMEDIATION_QUEUE), sign_request(request, key=key))
        body["remediation"] = why
    return status, body


def silences_api(
    method: str,
    rt: Runtime,
    *,
    silence_id: str | None = None,
    body: Mapping[str, Any] | None = None,
    state: str | None = None,
    principal: str = "",
) -> tuple[int, Any]:
    """The silences API: GET list, POST create (authored by ``principal``), DELETE {id} expire."""
    from alerts.actions import silences_response

    return silences_response(
        method,
        store=rt.store,
        now=rt.now(),
        silence_id=silence_id,
        body=body,
        state=state,
        principal=principal,
        max_duration=rt.config.silences.max_delta,
    )


def handle_remediation(message: dict[str, Any], rt: Runtime) -> dict[str, Any]:
    """Execute one approved remediation (guards re-checked). Passing ARM errors raise (redelivery).

    While another worker acts on the same resource the request is queued again a minute later
    (the queue's own quick redeliveries would poison it during a long LRO)."""
    from alerts.remediation.execute import RemediationBusyError
    from vigil import remediation_worker

    try:
        return remediation_worker.handle_remediation(message, rt, now=rt.now())
    except RemediationBusyError as exc:
        deferrals = int(message.get("deferrals", 0)) + 1
        if deferrals > REMEDIATION_MAX_DEFERRALS:
            raise
        rt.enqueue(
            setting(rt, REMEDIATION_QUEUE), {**message, "deferrals": deferrals}, visibility_timeout=REMEDIATION_DEFER_S
        )
        extra = {"deferrals": deferrals, "fingerprint": message.get("fingerprint")}
        log.info("remediation deferred: %s", exc, extra=extra)
        return {"ok": False, "deferred": str(exc), "deferrals": deferrals}
