"""Aliases resolve through Azure's catalogue (the shipped snapshot), checked against real ARM GET payloads."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from detectors.drift.aliases import SNAPSHOT, STAR, AliasCatalogue, alias_path, catalogue, parse_path
from detectors.drift.engine import PolicyLoadError, _walk, compile_policy
from detectors.drift.expr import MISSING

REPO = Path(__file__).resolve().parents[3]
SHARED = REPO / ".." / "shared"
SAMPLES = SHARED / "samples" / "arm"
CATALOGUE = SHARED / "azure-policy" / "aliases.json.gz"
ML = "microsoft.machinelearningservices/workspaces"


def _body(name: str) -> dict[str, Any]:
    path = SAMPLES / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    body: dict[str, Any] = json.loads(path.read_text())["responses"]["200"]["body"]
    return body


def test_committed_snapshot_equals_what_the_generator_builds(tmp_path: Path) -> None:
    if not CATALOGUE.exists():
        pytest.skip(f"{CATALOGUE} not present (the shared Azure Policy corpus)")
    out = tmp_path / "snapshot.json.gz"
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_alias_snapshot.py"), str(CATALOGUE), "--out", str(out)],
        check=True,
        capture_output=True,
    )
    built = json.loads(gzip.decompress(out.read_bytes()))
    committed = json.loads(gzip.decompress(SNAPSHOT.read_bytes()))
    assert built == committed


def test_snapshot_round_trips_every_alias_of_the_catalogue() -> None:
    if not CATALOGUE.exists():
        pytest.skip(f"{CATALOGUE} not present (the shared Azure Policy corpus)")
    with gzip.open(CATALOGUE, "rt", encoding="utf-8") as fh:
        types = json.load(fh)["types"]
    cat = catalogue()
    checked = 0
    for rtype, aliases in types.items():
        for alias, path in aliases.items():
            got = cat.default_path(alias.lower(), rtype.lower())
            # ARM lists a few types twice with different casing; the first path is kept
            assert got is not None, (rtype, alias)
            if got != path:
                assert any(t.lower() == rtype.lower() and t != rtype and types[t].get(alias) == got for t in types), (
                    rtype,
                    alias,
                    path,
                    got,
                )
            checked += 1
    assert checked == 79_549
    assert len(cat) == 79_082  # after merging the types listed twice


def test_shipped_catalogue_size_and_source() -> None:
    cat = catalogue()
    assert len(cat) > 79_000
    assert cat.type_count > 1_500
    assert "aliases.json.gz" in cat.source


def test_alias_of_another_type_is_missing_and_unknown_alias_is_a_load_error() -> None:
    assert alias_path("microsoft.web/sites/httpsonly", "microsoft.web/sites") == ("properties", "httpsOnly")
    assert alias_path("microsoft.web/sites/httpsonly", "microsoft.web/sites/slots") is None
    assert alias_path(f"{ML}/publicnetworkaccess", "microsoft.storage/storageaccounts") is None
    definition = {
        "properties": {
            "mode": "All",
            "policyRule": {
                "if": {"field": "Microsoft.Storage/storageAccounts/allowBlobPublicAccesss", "equals": True},
                "then": {"effect": "audit"},
            },
        }
    }
    with pytest.raises(PolicyLoadError) as exc:
        compile_policy(definition, source="typo.json")
    assert "typo.json: $.properties.policyRule.if.field" in str(exc.value)
    assert "unknown alias 'Microsoft.Storage/storageAccounts/allowBlobPublicAccesss'" in str(exc.value)


def test_snapshot_that_is_not_one_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(gzip.compress(b'{"types": {}}'))
    with pytest.raises(ValueError, match="not an alias snapshot"):
        AliasCatalogue.load(bad)


def test_parse_path() -> None:
    assert parse_path("properties.a[*].b['x y'][0]") == ("properties", "a", STAR, "b", "x y", 0)
    with pytest.raises(ValueError):
        parse_path("properties..[")


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
