"""One operation id from the event (or timer tick) to the notification.

host.json leaves ``telemetryMode`` at its default, so the Functions host's Application Insights SDK
records every invocation of every trigger (Event Grid, queue, timer) as a ``requests`` row, and the log
records the worker forwards during an invocation as ``traces`` rows with that invocation's
``operation_Id``. Each queue hop starts a new Application Insights operation, though: the host does not
carry trace context through a Storage queue message. So Vigil carries its own:

- an Event Grid invocation's operation id is the event's: its W3C ``traceparent`` trace id when the event
  has one (CloudEvents distributed tracing), else its id; a timer tick's is a new random one;
- every queue message Vigil sends while an operation is current carries it (``_vigil_operation``,
  stamped by :meth:`vigil.runtime_azure.AzureRuntime.enqueue`), and the invocation that receives the
  message takes it over (:func:`take_from_message` removes the key, so handlers never see it);
- each invocation logs one ``invocation`` line naming the function, its trigger and the operation id, in
  the message text (what the host stores in ``traces.message`` whatever the mode); find a whole chain with
  ``traces | where message has "operation=<id>"``.

No dependency: a context variable and ``logging``.
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

__all__ = [
    "OPERATION_KEY",
    "current_operation",
    "for_event",
    "log_invocation",
    "new_operation_id",
    "operation",
    "stamp",
    "take_from_message",
]

OPERATION_KEY = "_vigil_operation"
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")
_current: ContextVar[str | None] = ContextVar("vigil_operation", default=None)
logger = logging.getLogger("vigil.invocation")


def new_operation_id() -> str:
    return uuid.uuid4().hex


def for_event(event: Mapping[str, Any]) -> str:
    """The operation id of an Event Grid or CloudEvents event dict."""
    match = _TRACEPARENT.match(str(event.get("traceparent") or ""))
    if match:
        return match.group(1)
    return str(event.get("id") or new_operation_id())


def current_operation() -> str | None:
    return _current.get()


@contextlib.contextmanager
def operation(operation_id: str) -> Iterator[str]:
    """Makes ``operation_id`` current for the block (the invocation)."""
    token = _current.set(operation_id)
    try:
        yield operation_id
    finally:
        _current.reset(token)


def stamp(message: Mapping[str, Any]) -> dict[str, Any]:
    """``message`` carrying the current operation id (unchanged if none is current or it has one)."""
    out = dict(message)
    operation_id = _current.get()
    if operation_id is not None:
        out.setdefault(OPERATION_KEY, operation_id)
    return out


def take_from_message(message: dict[str, Any]) -> str:
    """Removes the carried operation id from ``message``; a new one when it carries none."""
    carried = message.pop(OPERATION_KEY, None)
    return carried if isinstance(carried, str) and carried else new_operation_id()


def log_invocation(function: str, trigger: str, operation_id: str, **fields: Any) -> None:
    logger.info(
        "invocation %s (%s) operation=%s",
        function,
        trigger,
        operation_id,
        extra={"vigil_operation_id": operation_id, "function": function, "trigger": trigger, **fields},
    )
