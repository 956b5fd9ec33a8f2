"""ARM reads and writes for remediation, over the one ARM client (:class:`core.arm.ArmSession`).

The session sends through ``azure-mgmt-resource``'s public ``send_request``: bearer-token
auth, the ARM retry policy (which honours Retry-After on 429), TLS; :meth:`ArmSession.wait`
follows long-running operations (``Azure-AsyncOperation`` and ``Location``). This is the
"generic ARM PATCH/POST" path; it works for every action's resource type with one client.
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


def _retryable(status: int) -> bool:
    return status >= 500 or status == 429


class ArmClient:
    def __init__(self, credential: Any, *, polling_interval: float = 5.0, **client_kwargs: Any) -> None:
        from core.arm import ArmSession

        self.session = ArmSession(credential, polling_interval=polling_interval, **client_kwargs)

    def close(self) -> None:
        self.session.close()

    def _send(self, method: str, path: str, api_version: str, body: Mapping[str, Any] | None = None) -> Any:
        from azure.core.exceptions import AzureError

        try:
            return self.session.send(
                method, path, params={"api-version": api_version}, body=dict(body) if body is not None else None
            )
        except AzureError as exc:
            raise ArmError(f"{method} {path}: {exc}", retryable=True) from exc

    def get(self, path: str, api_version: str) -> dict[str, Any] | None:
        """GET a resource (or sub-resource); None on 404."""
        response = self._send("GET", path, api_version)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ArmError(
                f"GET {path}: HTTP {response.status_code}: {response.text()[:300]}",
                status=response.status_code,
                retryable=_retryable(response.status_code),
            )
        data = json.loads(response.text() or "{}")
        return data if isinstance(data, dict) else {}

    def call(self, method: str, path: str, api_version: str, body: Mapping[str, Any] | None = None) -> None:
        """POST/PATCH/PUT and wait for the long-running operation to finish.

        Raises :class:`ArmError` when the request or the operation fails.
        """
        from azure.core.exceptions import AzureError

        from core.arm import ArmOperationError

        response = self._send(method, path, api_version, body)
        if response.status_code not in (200, 201, 202, 204):
            raise ArmError(
                f"{method} {path}: HTTP {response.status_code}: {response.text()[:300]}",
                status=response.status_code,
                retryable=_retryable(response.status_code),
            )
        try:
            self.session.wait(response, what=f"{method} {path}")
        except ArmOperationError as exc:
            raise ArmError(f"{method} {path}: long-running operation failed: {exc}", status=exc.status) from exc
        except AzureError as exc:
            raise ArmError(f"{method} {path}: long-running operation failed: {exc}") from exc
