"""`vigil drift aliases refresh`: the live catalogue through the real Resource Management SDK.

The local HTTPS ARM test server (tests/support) answers
``GET /subscriptions/{id}/providers?$expand=resourceTypes/aliases`` in ARM's shape, in two
pages; the CLI reads it with ``ResourceManagementClient.providers.list`` and caches it in the
snapshot format, which the drift engine then resolves aliases through.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from detectors.drift.aliases import AliasCatalogue, catalogue, use_catalogue
from detectors.drift.engine import compile_policy
from tests.support.azure_server import AzureTestServer, Request, Response
from vigil.cli import drift_cmds
from vigil.cli.main import app

SUB = "00000000-0000-0000-0000-0000000a11a5"
SHARED = Path(__file__).resolve().parents[3] / ".." / "shared" / "azure-policy" / "aliases.json.gz"
TYPES = (
    "Microsoft.Compute/virtualMachines",
    "Microsoft.Sql/servers/auditingSettings",
    "Microsoft.Storage/storageAccounts",
)


def _catalogue_part() -> dict[str, dict[str, str]]:
    """Real aliases of three types: from the shared catalogue, or a few of them when it is absent."""
    if SHARED.exists():
        with gzip.open(SHARED, "rt", encoding="utf-8") as fh:
            types = json.load(fh)["types"]
        return {t: dict(types[t]) for t in TYPES}
    return {
        TYPES[0]: {
            "Microsoft.Compute/virtualMachines/sku.name": "properties.hardwareProfile.vmSize",
            "Microsoft.Compute/imagePublisher": "properties.storageProfile.imageReference.publisher",
        },
        TYPES[1]: {"Microsoft.Sql/auditingSettings.state": "properties.state"},
        TYPES[2]: {"Microsoft.Storage/storageAccounts/supportsHttpsTrafficOnly": "properties.supportsHttpsTrafficOnly"},
    }


def _provider(namespace: str, types: dict[str, dict[str, str]]) -> dict[str, Any]:
    resource_types = []
    for rtype, aliases in types.items():
        if not rtype.startswith(namespace + "/"):
            continue
        entries = []
        for i, (name, path) in enumerate(sorted(aliases.items())):
            entry: dict[str, Any] = {
                "name": name,
                "paths": [{"path": path, "apiVersions": ["2024-03-01", "2023-09-01"]}],
                "type": "NotSpecified",
                "defaultMetadata": {"type": "String", "attributes": "None"},
            }
            if i % 7:  # ARM sets defaultPath on most aliases; the others take their newest path
                entry["defaultPath"] = path
            else:
                entry["paths"].insert(0, {"path": "properties.olderShape", "apiVersions": ["2015-06-15"]})
            entries.append(entry)
        resource_types.append(
            {
                "resourceType": rtype[len(namespace) + 1 :],
                "locations": ["West Europe"],
                "apiVersions": ["2024-03-01"],
                "aliases": entries,
            }
        )
    return {
        "id": f"/subscriptions/{SUB}/providers/{namespace}",
        "namespace": namespace,
        "registrationState": "Registered",
        "resourceTypes": resource_types,
    }


def _serve(server: AzureTestServer, types: dict[str, dict[str, str]]) -> None:
    pages = [
        [_provider("Microsoft.Compute", types), _provider("Microsoft.Sql", types)],
        [_provider("Microsoft.Storage", types)],
    ]

    def list_providers(req: Request, _m: Any) -> Response:
        if req.param("$expand") != "resourceTypes/aliases":
            return Response(200, {"value": []})  # without the expansion ARM lists no aliases
        page = int(req.param("page") or 0)
        body: dict[str, Any] = {"value": pages[page]}
        if page + 1 < len(pages):
            body["nextLink"] = (
                f"{server.url}/subscriptions/{SUB}/providers?$expand=resourceTypes/aliases"
                f"&api-version={req.api_version}&page={page + 1}"
            )
        return Response(200, body)

    server.route("GET", rf"/subscriptions/{SUB}/providers", list_providers)


@pytest.fixture
def restore_catalogue() -> Any:
    shipped = catalogue()
    yield
    use_catalogue(shipped)


def test_refresh_reads_the_catalogue_through_the_sdk_and_caches_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_catalogue: None
) -> None:
    types = _catalogue_part()
    out = tmp_path / "cache" / "aliases.snapshot.json.gz"
    with AzureTestServer() as server:
        _serve(server, types)
        for k, v in server.ca_env().items():
            monkeypatch.setenv(k, v)
        monkeypatch.setattr(drift_cmds, "_credential", server.credential)
        result = CliRunner().invoke(
            app,
            ["drift", "aliases", "refresh", "--subscription", SUB, "--out", str(out), "--arm-url", server.url],
        )
        calls = server.requests_to(rf"/subscriptions/{SUB}/providers")
    assert result.exit_code == 0, result.output
    n_aliases = sum(len(v) for v in types.values())
    assert f"{n_aliases} aliases of 3 resource types" in result.output
    assert len(calls) == 2  # two pages, following nextLink
    assert calls[0].param("$expand") == "resourceTypes/aliases"
    assert calls[0].headers.get("Authorization", "").startswith("Bearer ")

    cached = AliasCatalogue.load(out)
    assert len(cached) == n_aliases
    for rtype, aliases in types.items():
        for name, path in aliases.items():
            assert cached.default_path(name.lower(), rtype.lower()) == path, name

    # the engine resolves aliases through the refreshed catalogue
    use_catalogue(cached)
    rule = {
        "if": {"field": "Microsoft.Compute/virtualMachines/sku.name", "equals": "Standard_DS3_v2"},
        "then": {"effect": "audit"},
    }
    policy = compile_policy({"properties": {"mode": "All", "policyRule": rule}})
    vm = {"id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/virtualMachines/v", "type": TYPES[0]}
    assert policy.evaluate({**vm, "properties": {"hardwareProfile": {"vmSize": "Standard_DS3_v2"}}}).compliant is False


def test_refresh_failure_keeps_the_cache_and_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "aliases.snapshot.json.gz"
    out.write_bytes(b"previous")
    with AzureTestServer() as server:
        server.route(
            "GET",
            rf"/subscriptions/{SUB}/providers",
            lambda _r, _m: Response(403, {"error": {"code": "AuthorizationFailed", "message": "no read"}}),
        )
        for k, v in server.ca_env().items():
            monkeypatch.setenv(k, v)
        monkeypatch.setattr(drift_cmds, "_credential", server.credential)
        result = CliRunner().invoke(
            app,
            ["drift", "aliases", "refresh", "--subscription", SUB, "--out", str(out), "--arm-url", server.url],
        )
    assert result.exit_code == 1
    assert "cannot read the alias catalogue from ARM" in result.output
    assert "AuthorizationFailed" in result.output
    assert out.read_bytes() == b"previous"
