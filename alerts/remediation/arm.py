"""ARM reads and writes for remediation, through the Azure SDK's own pipeline.

``ArmClient`` wraps ``azure-mgmt-resource``'s client: bearer-token auth, the
ARM retry policy (which honours Retry-After on 429), TLS, and the SDK's
long-running-operation poller (``ARMPolling``: Azure-AsyncOperation and
Location headers). This is the "generic ARM PATCH/POST" path; it works for
every action's resource type with one client.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["ArmClient", "ArmError"]


class ArmError(Exception):
    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class ArmClient:
    def __init__(
        self,
        credential: Any,
        *,
        base_url: str = "https://management.azure.com",
        polling_interval: float = 5.0,
        **client_kwargs: Any,
    ) -> None:
        from azure.mgmt.resource.resources import ResourceManagementClient

        self._sdk = ResourceManagementClient(
            credential, "00000000-0000-0000-0000-000000000000", base_url=base_url, **client_kwargs
        )
        self._base = base_url.rstrip("/")
        self._interval = polling_interval

    def close(self) -> None:
        self._sdk.close()

    def _run(self, method: str, path: str, api_version: str, body: Mapping[str, Any] | None = None) -> Any:
        from azure.core.exceptions import AzureError
        from azure.core.rest import HttpRequest

        request = HttpRequest(
            method,
            f"{self._base}{path}",
            params={"api-version": api_version},
            json=dict(body) if body is not None else None,
        )
        try:
            # Generated SDK operations call the pipeline exactly like this.
            return self._sdk._client._pipeline.run(request, stream=False)
        except AzureError as exc:
            raise ArmError(f"{method} {path}: {exc}", retryable=True) from exc

    def get(self, path: str, api_version: str) -> dict[str, Any] | None:
        """GET a resource (or sub-resource); None on 404."""
        response = self._run("GET", path, api_version).http_response
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ArmError(
                f"GET {path}: HTTP {response.status_code}: {response.text()[:300]}",
                status=response.status_code,
                retryable=response.status_code >= 500 or response.status_code == 429,
            )
        data = json.loads(response.text() or "{}")
        return data if isinstance(data, dict) else {}

    def call(self, method: str, path: str, api_version: str, body: Mapping[str, Any] | None = None) -> None:
        """POST/PATCH/PUT and wait for the long-running operation to finish.

        Raises :class:`ArmError` when the request or the operation fails.
        """
        from azure.core.exceptions import AzureError
        from azure.core.polling import LROPoller
        from azure.mgmt.core.polling.arm_polling import ARMPolling

        pipeline_response = self._run(method, path, api_version, body)
        response = pipeline_response.http_response
        if response.status_code not in (200, 201, 202, 204):
            raise ArmError(
                f"{method} {path}: HTTP {response.status_code}: {response.text()[:300]}",
                status=response.status_code,
                retryable=response.status_code >= 500 or response.status_code == 429,
            )
        if response.status_code in (201, 202) or "azure-asyncoperation" in {k.lower() for k in response.headers}:
            poller: LROPoller[None] = LROPoller(
                self._sdk._client, pipeline_response, lambda _r: None, ARMPolling(self._interval)
            )
            try:
                poller.result()
            except AzureError as exc:
                raise ArmError(f"{method} {path}: long-running operation failed: {exc}") from exc
