"""Function trigger of the triage console: one anonymous HTTP route, ``/api/console/…``,
handed to the console's ASGI app through ``azure.functions.AsgiMiddleware``.

Anonymous at the Functions level because App Service Authentication (Entra ID) sits in
front: the console itself refuses every request unless the platform reports that
authentication is enabled, and checks the caller's app roles (``vigil.console.auth``).
Starlette, Jinja and the console are imported on the first console request only.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import azure.functions as func

from vigil.functions import MAX_BODY_BYTES, get_runtime

__all__ = ["bp"]

bp = func.Blueprint()  # type: ignore[no-untyped-call]
_MIDDLEWARE: Any = None
_LOCK = threading.Lock()


def _middleware() -> Any:
    global _MIDDLEWARE  # noqa: PLW0603 - one app per worker process, built on first use
    if _MIDDLEWARE is None:
        with _LOCK:
            if _MIDDLEWARE is None:
                from vigil.console.hosts import azure_app

                _MIDDLEWARE = func.AsgiMiddleware(azure_app(get_runtime(), os.environ))  # type: ignore[no-untyped-call]
    return _MIDDLEWARE


def reset_console() -> None:
    """Forget the built app (tests; settings changes)."""
    global _MIDDLEWARE  # noqa: PLW0603
    with _LOCK:
        _MIDDLEWARE = None


@bp.function_name("console")
@bp.route(
    route="console/{*path}",
    methods=[func.HttpMethod.GET, func.HttpMethod.POST],
    auth_level=func.AuthLevel.ANONYMOUS,
)
async def console(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    """The triage console (alerts, silences, drift, cost, remediation ledger)."""
    if len(req.get_body() or b"") > MAX_BODY_BYTES:  # the console's forms are small: refuse before any work
        return func.HttpResponse("request body too large", status_code=413, mimetype="text/plain")
    response: func.HttpResponse = await _middleware().handle_async(req, context)
    return response
