"""Function triggers of the ``alerts`` package: notification delivery and the weekly digest.

``dispatch`` delivers one outbox message from ``%ALERTS_QUEUE%`` (a retryable channel
failure raises, so the host redelivers the message with backoff); ``digest`` builds the
weekly finance digest on ``%DIGEST_SCHEDULE%``.
"""

from __future__ import annotations

import azure.functions as func

from vigil.functions import run_queue_handler, run_timer_handler

__all__ = ["bp"]

bp = func.Blueprint()  # type: ignore[no-untyped-call]


@bp.function_name("dispatch")
@bp.queue_trigger(arg_name="msg", queue_name="%ALERTS_QUEUE%", connection="AzureWebJobsStorage")
def dispatch(msg: func.QueueMessage) -> None:
    """Delivers one notification."""
    run_queue_handler(msg, "ALERTS_QUEUE", "dispatch_alert")


@bp.function_name("digest")
@bp.retry(strategy="exponential_backoff", max_retry_count="3", minimum_interval="00:00:30", maximum_interval="00:10:00")
@bp.timer_trigger(arg_name="timer", schedule="%DIGEST_SCHEDULE%", run_on_startup=False, use_monitor=True)
def digest(timer: func.TimerRequest) -> None:
    """The weekly digest of spend, anomalies, idle savings and drift."""
    run_timer_handler(timer, "run_digest")
