"""core.arm.ArmSession: the one ARM client, with the real azure-mgmt SDK against the local HTTPS test server."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from core.arm import ArmOperationError, ArmSession, raise_for_status
from tests.support.azure_server import AzureTestServer, Response

SUB = "00000000-0000-0000-0000-000000000001"
SITE = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Web/sites/app1"


@pytest.fixture
def server() -> Iterator[AzureTestServer]:
    with AzureTestServer() as s:
        yield s


def _session(server: AzureTestServer) -> ArmSession:
    return ArmSession(server.credential(), polling_interval=0, sleep=lambda _s: None, **server.client_kwargs())


@pytest.mark.parametrize("header", ["Azure-AsyncOperation", "Location"])
def test_wait_follows_a_long_running_operation_to_its_end(server: AzureTestServer, header: str) -> None:
    ops = server.add_lro("DELETE", re.escape(SITE), polls=2, header=header, api_versions={"2023-12-01"})
    session = _session(server)
    started = session.send("DELETE", SITE, params={"api-version": "2023-12-01"})
    assert started.status_code == 202
    final = session.wait(started, what="DELETE app1")
    assert final.status_code == 200
    assert len(ops) == 1
    assert len(server.requests_to("/vigil-test/operations/")) == 3  # two in progress, then done
    assert all(r.headers["Authorization"].startswith("Bearer ") for r in server.requests)


def test_a_failed_operation_raises_naming_it(server: AzureTestServer) -> None:
    server.add_lro("DELETE", re.escape(SITE), polls=0, final_status="Failed", api_versions={"2023-12-01"})
    session = _session(server)
    started = session.send("DELETE", SITE, params={"api-version": "2023-12-01"})
    with pytest.raises(ArmOperationError, match="DELETE app1: long-running operation failed"):
        session.wait(started, what="DELETE app1")


def test_a_response_that_starts_no_operation_is_returned_as_it_is(server: AzureTestServer) -> None:
    server.route("PATCH", re.escape(SITE), lambda _r, _m: Response(200, {"id": SITE}), api_versions={"2023-12-01"})
    session = _session(server)
    done = session.send("PATCH", SITE, params={"api-version": "2023-12-01"}, body={"tags": {}})
    assert session.wait(done, what="PATCH app1") is done


def test_http_errors_map_to_the_sdks_typed_errors(server: AzureTestServer) -> None:
    from azure.core.exceptions import ResourceNotFoundError

    session = _session(server)
    missing = session.send("GET", SITE, params={"api-version": "2023-12-01"})
    assert missing.status_code == 404
    with pytest.raises(ResourceNotFoundError):
        raise_for_status(missing)
