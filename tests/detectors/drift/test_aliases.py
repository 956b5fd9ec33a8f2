"""The shipped alias map, checked against real ARM GET payloads (../shared/samples/arm)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from detectors.drift.aliases import ALIASES, STAR, alias_path, parse_path
from detectors.drift.engine import _walk
from detectors.drift.expr import MISSING

SAMPLES = Path(__file__).resolve().parents[3].parent / "shared" / "samples" / "arm"
ML = "microsoft.machinelearningservices/workspaces"


def _body(name: str) -> dict[str, Any]:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    body: dict[str, Any] = json.loads(path.read_text())["responses"]["200"]["body"]
    return body


def test_parse_path() -> None:
    assert parse_path("properties.a[*].b['x y'][0]") == ("properties", "a", STAR, "b", "x y", 0)
    with pytest.raises(ValueError):
        parse_path("properties..[")


def test_every_alias_path_parses_and_is_lower_case_keyed() -> None:
    for alias, path in ALIASES.items():
        assert alias == alias.lower()
        assert parse_path(path)


@pytest.mark.parametrize(
    ("alias", "expected"),
    [
        (f"{ML}/publicnetworkaccess", "Disabled"),
        (f"{ML}/allowpublicaccesswhenbehindvnet", False),
        (f"{ML}/encryption.status", "Enabled"),
        (f"{ML}/privateendpointconnections[*].privatelinkserviceconnectionstate.status", ["Approved"]),
        (f"{ML}/privateendpointconnections[*].provisioningstate", ["Succeeded"]),
        (f"{ML}/hbiworkspace", False),
    ],
)
def test_workspace_aliases_against_the_real_payload(alias: str, expected: Any) -> None:
    ws = _body("spec_ml_2025-09-01_Workspace_get.json")
    got = _walk(ws, alias_path(alias, ws["type"].lower()) or ())
    assert (list(got) if isinstance(got, list) else got) == expected


def test_private_endpoint_state_is_one_properties_level_deeper() -> None:
    ws = _body("spec_ml_2025-09-01_Workspace_get.json")
    naive = parse_path("properties.privateEndpointConnections[*].privateLinkServiceConnectionState.status")
    assert list(_walk(ws, naive)) == [MISSING]  # the naive path finds nothing in the member


@pytest.mark.parametrize(
    ("alias", "expected"),
    [
        (f"{ML}/computes/computetype", "ComputeInstance"),
        (f"{ML}/computes/subnet.id", "test-subnet-resource-id"),
        (f"{ML}/computes/sshsettings.sshpublicaccess", "Enabled"),
        (f"{ML}/computes/osimagemetadata.islatestosimageversion", False),
    ],
)
def test_compute_aliases_against_the_real_payload(alias: str, expected: Any) -> None:
    ci = _body("spec_ml_2025-09-01_Compute_get_ComputeInstance.json")
    assert _walk(ci, alias_path(alias, ci["type"].lower()) or ()) == expected


def test_compute_settings_are_one_properties_level_deeper() -> None:
    ci = _body("spec_ml_2025-09-01_Compute_get_ComputeInstance.json")
    # the documented fallback (properties.<path>) would miss them
    assert _walk(ci, parse_path("properties.subnet.id")) is MISSING
    assert _walk(ci, parse_path("properties.properties.subnet.id")) == "test-subnet-resource-id"


def test_fallback_maps_to_properties_and_envelope() -> None:
    assert alias_path("microsoft.web/sites/httpsonly", "microsoft.web/sites") == ("properties", "httpsonly")
    assert alias_path("microsoft.web/sites/sku.name", "microsoft.web/sites") == ("sku", "name")
    assert alias_path("microsoft.web/sites/httpsonly", "microsoft.web/sites/slots") is None
    # a mapped alias only applies to its own type
    assert alias_path(f"{ML}/publicnetworkaccess", "microsoft.storage/storageaccounts") is None
