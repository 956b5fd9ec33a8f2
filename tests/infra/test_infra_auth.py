"""App Service Authentication (authsettingsV2) on the Function App: Entra ID sign-in in front of the console and
the card action page, while the machine callers (Event Grid, the function-key APIs) keep working.

The excluded paths are derived from the indexed functions, so a new function-key HTTP route that machines call
fails here until it is excluded (or listed as a sign-in route)."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.infra.conftest import INFRA

# Function-key HTTP routes a person opens in a browser: they stay behind sign-in, because the app needs the
# signed-in user there (card_action: an approval records X-MS-CLIENT-PRINCIPAL-NAME and refuses without it).
SIGN_IN_ROUTES = {"alerts/action"}
EVENT_GRID_WEBHOOK = "/runtime/webhooks/eventgrid"  # where Event Grid delivers to event_grid_trigger functions


def _module(bicep: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return bicep["modules/functionapp.bicep"]


def _auth(bicep: dict[str, dict[str, Any]]) -> dict[str, Any]:
    resource = _module(bicep)["resources"]["auth"]
    assert resource["type"] == "Microsoft.Web/sites/config"
    assert resource.get("condition") is None, "the settings are always written (switched off without a client id)"
    return dict(resource["config"])


def _excluded(bicep: dict[str, dict[str, Any]]) -> list[str]:
    ref = _auth(bicep)["properties"]["globalValidation"]["excludedPaths"]
    return list(_module(bicep)["variables"][ref]["value"])


def _http_routes(function_index: list[dict[str, Any]]) -> dict[str, str]:
    """route -> authLevel of every HTTP trigger."""
    routes = {}
    for fn in function_index:
        for binding in fn["bindings"]:
            if binding["type"] == "httpTrigger":
                routes[str(binding["route"])] = str(binding["authLevel"]).upper()
    return routes


def test_entra_id_sign_in_redirects_unauthenticated_browsers(bicep: dict[str, dict[str, Any]]) -> None:
    config = _auth(bicep)
    assert config["parent"] == "site"
    assert config["name"] == "authsettingsV2"
    props = config["properties"]
    variables = _module(bicep)["variables"]
    assert props["platform"]["enabled"] == "authEnabled"
    # on exactly when a client id is given: not(empty(authClientId))
    enabled = variables["authEnabled"]["value"]["operator"]
    assert enabled["type"] == "not"
    assert enabled["operands"]["bool_value"]["function"] == {
        "type": "empty",
        "parameters": {"item_to_test": "authClientId"},
    }
    glob = props["globalValidation"]
    assert glob["requireAuthentication"] is True
    assert glob["unauthenticatedClientAction"] == "RedirectToLoginPage"
    assert glob["redirectToProvider"] == "azureactivedirectory"
    aad = props["identityProviders"]["azureActiveDirectory"]
    assert aad["enabled"] == "authEnabled"
    assert aad["registration"]["clientId"] == "authClientId"
    assert aad["registration"]["openIdIssuer"].endswith("${authTenantId}/v2.0")
    assert "authClientId" in aad["validation"]["allowedAudiences"]
    assert props["httpSettings"]["requireHttps"] is True
    # no other identity provider: Entra ID is the only way in
    assert set(props["identityProviders"]) == {"azureActiveDirectory"}


def test_the_client_id_is_a_parameter_azd_fills(bicep: dict[str, dict[str, Any]]) -> None:
    assert _module(bicep)["parameters"]["authClientId"]["default"] == ""
    main = bicep["main.bicep"]
    assert main["parameters"]["authClientId"]["default"] == ""
    assert main["modules"]["functionApp"]["config"]["params"]["authClientId"] == "authClientId"
    params = json.loads((INFRA / "main.parameters.json").read_text(encoding="utf-8"))["parameters"]
    assert params["authClientId"]["value"] == "${VIGIL_AUTH_CLIENT_ID=}"


def test_machine_callers_are_excluded_and_browser_pages_are_not(
    bicep: dict[str, dict[str, Any]], function_index: list[dict[str, Any]]
) -> None:
    excluded = _excluded(bicep)
    routes = _http_routes(function_index)
    assert routes, "no HTTP triggers indexed"
    has_event_grid = any(b["type"] == "eventGridTrigger" for fn in function_index for b in fn["bindings"])
    assert has_event_grid
    assert EVENT_GRID_WEBHOOK in excluded

    def covered(path: str) -> bool:
        return any(path == e or (e.endswith("/*") and path.startswith(e[:-1])) for e in excluded)

    for route, level in routes.items():
        # the route as a request path: optional and catch-all parameters dropped, others given a value
        base = "/api/" + re.sub(r"/\{[^}]*\?\}$|/\{\*[^}]*\}$", "", route)
        concrete = "/api/" + re.sub(r"\{\*?([^}?]*)\??\}", r"x", route)
        if level == "FUNCTION" and route not in SIGN_IN_ROUTES:
            for path in (base, concrete):
                assert covered(path), f"function-key route {route} ({path}) needs sign-in: exclude it"
        else:
            # anonymous routes (the console) and the sign-in routes stay behind App Service Authentication
            for path in (base, concrete):
                assert not covered(path), f"{route} ({path}, {level}) must stay behind sign-in"
    # nothing excluded that is neither the webhook nor a function-key route
    bases = {"/api/" + re.sub(r"/\{[^}]*\}$", "", r) for r, lv in routes.items() if lv == "FUNCTION"}
    for path in excluded:
        assert path == EVENT_GRID_WEBHOOK or path.removesuffix("/*") in bases, f"unexpected excluded path {path}"


def test_the_console_and_card_action_routes_exist(function_index: list[dict[str, Any]]) -> None:
    routes = _http_routes(function_index)
    assert routes.get("alerts/action") == "FUNCTION"
    assert routes.get("console/{*path}") == "ANONYMOUS"


def test_the_app_roles_file_declares_the_roles_the_console_checks() -> None:
    from vigil.console.auth import ALL_ROLES

    roles = json.loads((INFRA / "app-roles.json").read_text(encoding="utf-8"))
    assert sorted(r["value"] for r in roles) == sorted(ALL_ROLES)
    ids = [r["id"] for r in roles]
    assert len(set(ids)) == len(ids)
    for role in roles:
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", role["id"])
        assert role["allowedMemberTypes"] == ["User"]
        assert role["isEnabled"] is True
        assert role["displayName"]
        assert role["description"]


def test_the_deploy_checklist_names_the_one_time_registration_step() -> None:
    from scripts.deploy_checklist import ROWS

    (row,) = [r for r in ROWS if "`Microsoft.Web/sites/config`" in r.resource]
    assert "VIGIL_AUTH_CLIENT_ID" in row.manual
    assert "@infra/app-roles.json" in row.manual
