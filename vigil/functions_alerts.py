"""Function triggers of the ``alerts`` package: notification delivery and the weekly digest.

``dispatch`` delivers one outbox message from ``%ALERTS_QUEUE%`` (a retryable channel
failure raises, so the host redelivers the message with backoff); ``digest`` builds the
weekly finance digest on ``%DIGEST_SCHEDULE%``; ``forward`` re-posts the alerts of
``alertmanager_configs`` receivers to their Alertmanagers on ``%FORWARD_SCHEDULE%``; ``remediate``
executes approved actions from ``%REMEDIATION_QUEUE%``; ``card_action`` and ``silences`` are the HTTP endpoints
(function-key auth; card links also carry their own HMAC signature).
"""

from __future__ import annotations

from typing import Any

import azure.functions as func

from vigil.functions import (
    MAX_BODY_BYTES,
    RequestBodyError,
    get_runtime,
    json_response,
    read_json_body,
    run_queue_handler,
    run_timer_handler,
)

__all__ = ["bp"]

bp = func.Blueprint()  # type: ignore[no-untyped-call]


@bp.function_name("dispatch")
@bp.queue_trigger(arg_name="msg", queue_name="%ALERTS_QUEUE%", connection="AzureWebJobsStorage")
def dispatch(msg: func.QueueMessage) -> None:
    """Delivers one notification."""
    from vigil import handlers

    run_queue_handler(msg, "ALERTS_QUEUE", handlers.dispatch_alert)


@bp.function_name("digest")
@bp.retry(strategy="exponential_backoff", max_retry_count="3", minimum_interval="00:00:30", maximum_interval="00:10:00")
@bp.timer_trigger(arg_name="timer", schedule="%DIGEST_SCHEDULE%", run_on_startup=False, use_monitor=True)
def digest(timer: func.TimerRequest) -> None:
    """The weekly digest of spend, anomalies, idle savings and drift."""
    from vigil import handlers

    run_timer_handler(timer, handlers.run_digest)


@bp.function_name("forward")
@bp.retry(strategy="exponential_backoff", max_retry_count="2", minimum_interval="00:00:05", maximum_interval="00:00:30")
@bp.timer_trigger(arg_name="timer", schedule="%FORWARD_SCHEDULE%", run_on_startup=False, use_monitor=True)
def forward(timer: func.TimerRequest) -> None:
    """Keeps forwarded alerts active in the downstream Alertmanagers (the next run retries a failure)."""
    from vigil import handlers

    run_timer_handler(timer, handlers.run_forward)


@bp.function_name("remediate")
@bp.queue_trigger(arg_name="msg", queue_name="%REMEDIATION_QUEUE%", connection="AzureWebJobsStorage")
def remediate(msg: func.QueueMessage) -> None:
    """Executes one approved remediation action (guards re-checked against fresh state)."""
    from vigil import handlers

    run_queue_handler(msg, "REMEDIATION_QUEUE", handlers.handle_remediation)


PRINCIPAL_HEADER = "x-ms-client-principal-name"  # set by App Service Authentication (stripped from clients)


@bp.function_name("card_action")
@bp.route(
    route="alerts/action", methods=[func.HttpMethod.GET, func.HttpMethod.POST], auth_level=func.AuthLevel.FUNCTION
)
def card_action(req: func.HttpRequest) -> func.HttpResponse:
    """A card button: Acknowledge, Silence 24h or Approve remediation (signed, expiring, single-use).

    GET never acts (link scanners and previews follow links): it shows a confirmation page whose
    form POSTs back with an anti-forgery token; the POST acts as the signed-in user."""
    from datetime import UTC, datetime
    from urllib.parse import parse_qs

    from vigil import handlers

    query = {k: str(v) for k, v in req.params.items()}
    principal = (req.headers.get(PRINCIPAL_HEADER) or "").strip()
    rt = get_runtime()
    if req.method.upper() != "POST":
        from alerts.actions import confirmation_page

        key, _ = handlers.link_signing(rt)
        status, page = confirmation_page(query, key=key, store=rt.store, now=datetime.now(UTC), principal=principal)
        headers = {
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": "default-src 'none'; form-action 'self'",
        }
        return func.HttpResponse(page, status_code=status, mimetype="text/html", headers=headers)
    body_bytes = req.get_body() or b""
    if len(body_bytes) > MAX_BODY_BYTES:
        return json_response(413, {"error": f"request body is {len(body_bytes)} bytes; the limit is {MAX_BODY_BYTES}"})
    raw = body_bytes.decode("utf-8", "replace")
    csrf = next(iter(parse_qs(raw).get("csrf") or []), None)
    status, body = handlers.card_action(query, rt, csrf=csrf, principal=principal)
    return json_response(status, body)


@bp.function_name("silences")
@bp.route(
    route="alerts/silences/{silence_id?}",
    methods=[func.HttpMethod.GET, func.HttpMethod.POST, func.HttpMethod.DELETE],
    auth_level=func.AuthLevel.FUNCTION,
)
def silences(req: func.HttpRequest) -> func.HttpResponse:
    """The silences API: GET lists, POST creates, DELETE /{id} expires."""
    from vigil import handlers

    body: Any = None
    if req.method.upper() == "POST":
        try:
            body = read_json_body(req)
        except RequestBodyError as exc:
            return json_response(exc.status, {"error": str(exc)})
    status, out = handlers.silences_api(
        req.method,
        get_runtime(),
        silence_id=req.route_params.get("silence_id") or None,
        body=body,
        state=req.params.get("state"),
        principal=(req.headers.get(PRINCIPAL_HEADER) or "").strip(),
    )
    return json_response(status, out)
