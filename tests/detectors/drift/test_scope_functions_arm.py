"""resourceGroup()/subscription() properties read through ARM (ArmReader.scope_object, real SDK,
local HTTPS ARM server), on the built-in "Azure SQL Database should have Microsoft Entra-only
authentication enabled", which skips servers in a resource group managed by Synapse."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from detectors.drift.corpus import iter_definitions
from detectors.drift.engine import EvalEnv, compile_policy
from ingest.arm import ArmReader
from tests.support.azure_server import AzureTestServer

REPO = Path(__file__).resolve().parents[3]
TARBALL = REPO / ".." / "shared" / "azure-policy" / "builtin-policy-definitions.tar.gz"
SUB_ID = "6a1d2c3b-0000-4000-8000-0000000000c3"
RG = f"/subscriptions/{SUB_ID}/resourceGroups/synapse-managed"


def _definition() -> dict[str, Any]:
    if not TARBALL.exists():
        pytest.skip(f"{TARBALL} not present (the shared Azure Policy corpus)")
    return next(
        d for name, d in iter_definitions(TARBALL) if name.endswith("/SqlServer_ADOnlyEnabled_DisableADAuth_Deny.json")
    )


def test_resource_group_managed_by_comes_from_arm() -> None:
    policy = compile_policy(_definition(), source="SqlServer_ADOnlyEnabled_DisableADAuth_Deny.json")
    assert policy.mode == "all"
    setting = {
        "id": f"{RG}/providers/Microsoft.Sql/servers/sql1/azureADOnlyAuthentications/Default",
        "name": "Default",
        "type": "Microsoft.Sql/servers/azureADOnlyAuthentications",
        "properties": {"azureADOnlyAuthentication": False},
    }
    group = {
        "id": RG,
        "name": "synapse-managed",
        "type": "Microsoft.Resources/resourceGroups",
        "location": "westeurope",
        "managedBy": f"/subscriptions/{SUB_ID}/resourceGroups/rg/providers/Microsoft.Synapse/workspaces/ws1",
        "properties": {"provisioningState": "Succeeded"},
    }
    with AzureTestServer() as server:
        server.add_resource(group, api_versions={"2021-04-01"})
        reader = ArmReader(server.credential(), SUB_ID, **server.client_kwargs())
        with_arm = EvalEnv(scope_reader=reader.scope_object)
        managed = policy.evaluate(setting, env=with_arm)
        again = policy.evaluate(setting, env=with_arm)
        gets = server.requests_to(r"/resourceGroups/synapse-managed(\?|$)")
        server.remove_resource(RG)
        server.add_resource({**group, "managedBy": None}, api_versions={"2021-04-01"})
        fresh = ArmReader(server.credential(), SUB_ID, **server.client_kwargs())
        own = policy.evaluate(setting, env=EvalEnv(scope_reader=fresh.scope_object))
        reader.close()
        fresh.close()
    assert "not evaluated" not in managed.reason
    assert managed.compliant is True  # a Synapse-managed group is out of the rule
    assert again.compliant is True
    assert len(gets) == 1  # read once, then cached by the reader
    assert own.compliant is False  # Entra-only authentication is off
    # without a reader, managedBy is unknown (missing): the server is judged on its own
    assert policy.evaluate(setting).compliant is False
