"""One ARM client for every layer, on the Azure SDK's public pipeline.

:class:`ArmSession` sends every request through ``azure-mgmt-resource``'s
``ResourceManagementClient.send_request``: the SDK's bearer-token auth, its ARM retry
policy (which honours ``Retry-After`` on 429 and 5xx), TLS and logging, with no private
attribute of the SDK. :meth:`ArmSession.wait` follows a long-running operation the way
ARM documents it (``Azure-AsyncOperation`` status, else ``Location``, waiting
``Retry-After`` between polls). ``ingest.arm.ArmReader`` (reads) and
``alerts.remediation.arm.ArmClient`` (writes) are both built on it.

The SDK is imported when a session is made, never at import time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["NO_SUBSCRIPTION", "ArmOperationError", "ArmSession", "raise_for_status", "retry_after_s"]

NO_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"  # for requests that name no subscription
_TERMINAL = {"succeeded", "failed", "canceled", "cancelled"}


class ArmOperationError(RuntimeError):
    """A long-running operation ended Failed or Canceled, or its status could not be read."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def retry_after_s(headers: Mapping[str, str], default: float) -> float:
    """The ``Retry-After`` header in seconds (an integer), else ``default``."""
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except ValueError:
                return default
    return default


def raise_for_status(response: Any) -> None:
    """Raise the SDK's typed error for an HTTP error response, as its generated operations do:
    ``ClientAuthenticationError`` (401), ``ResourceNotFoundError`` (404), ``ResourceExistsError``
    (409), else ``HttpResponseError``."""
    if response.status_code < 400:
        return
    from azure.core.exceptions import (
        ClientAuthenticationError,
        ResourceExistsError,
        ResourceNotFoundError,
        map_error,
    )

    error_map = {401: ClientAuthenticationError, 404: ResourceNotFoundError, 409: ResourceExistsError}
    map_error(status_code=response.status_code, response=response, error_map=error_map)
    response.raise_for_status()


class ArmSession:
    """ARM requests with one SDK client (see the module docstring).

    ``subscription_id`` only matters to SDK operations that need one; requests name full
    resource ids. ``client_kwargs`` go to the SDK client (``base_url``, ``connection_verify``,
    a transport, retry options).
    """

    def __init__(
        self,
        credential: Any = None,
        subscription_id: str = "",
        *,
        client: Any = None,
        polling_interval: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
        **client_kwargs: Any,
    ) -> None:
        if client is None:
            from azure.mgmt.resource.resources import ResourceManagementClient

            client = ResourceManagementClient(credential, subscription_id or NO_SUBSCRIPTION, **client_kwargs)
        self.client = client
        self.subscription_id = subscription_id
        self.polling_interval = polling_interval
        self._sleep = sleep

    def send(self, method: str, url: str, *, params: Mapping[str, str] | None = None, body: Any = None) -> Any:
        """One request (a path below the ARM endpoint, or a full URL); the SDK's ``HttpResponse``.

        Transport errors raise ``azure.core.exceptions.AzureError``; HTTP errors are the caller's
        to read from the response.
        """
        from azure.core.rest import HttpRequest

        request = HttpRequest(method, url, params=dict(params) if params else None, json=body)
        return self.client.send_request(request, stream=False)

    def wait(self, response: Any, *, what: str, timeout: float = 3600.0) -> Any:
        """Follow the long-running operation ``response`` started; the final response.

        A response that starts none (not 201/202 and no ``Azure-AsyncOperation``) is returned
        as it is. :class:`ArmOperationError` when the operation fails, is canceled, its status
        cannot be read, or ``timeout`` seconds pass.
        """
        headers = {k.lower(): v for k, v in response.headers.items()}
        async_url = headers.get("azure-asyncoperation")
        location = headers.get("location")
        if response.status_code not in (201, 202) and not async_url:
            return response
        if not async_url and not location:
            return response  # accepted with nothing to poll: ARM's "fire and forget"
        deadline = time.monotonic() + timeout
        delay = retry_after_s(headers, self.polling_interval)
        while True:
            if time.monotonic() + delay > deadline:
                raise ArmOperationError(f"{what}: long-running operation still running after {timeout:.0f} s")
            self._sleep(delay)
            if async_url:
                poll = self.send("GET", async_url)
                delay = retry_after_s(poll.headers, self.polling_interval)
                if poll.status_code >= 400:
                    raise ArmOperationError(
                        f"{what}: operation status: HTTP {poll.status_code}: {poll.text()[:300]}",
                        status=poll.status_code,
                    )
                doc = poll.json() if poll.text() else {}
                state = str(doc.get("status", "")).lower() if isinstance(doc, dict) else ""
                if state not in _TERMINAL:
                    continue
                if state != "succeeded":
                    error = doc.get("error") if isinstance(doc, dict) else None
                    raise ArmOperationError(f"{what}: long-running operation {state}: {error or doc}")
                if location:
                    return self.send("GET", location)
                return poll
            poll = self.send("GET", str(location))
            delay = retry_after_s(poll.headers, self.polling_interval)
            if poll.status_code == 202:
                location = {k.lower(): v for k, v in poll.headers.items()}.get("location", location)
                continue
            if poll.status_code >= 400:
                raise ArmOperationError(
                    f"{what}: long-running operation failed: HTTP {poll.status_code}: {poll.text()[:300]}",
                    status=poll.status_code,
                )
            return poll

    def close(self) -> None:
        self.client.close()
