"""Generates infra/app-settings.json from the settings model (vigil.settings.describe_settings).

The Bicep Function App module loads that file with loadJsonContent and turns every entry into an
app setting:

* ``infra: true``  -> the value is computed by Bicep (endpoints, client ids, connection strings);
* ``secret: true`` -> a Key Vault reference ``@Microsoft.KeyVault(SecretUri=.../secrets/<secretName>/)``;
* otherwise        -> the model's default.

The file also lists the queues, blob containers and tables the storage module creates, derived from
the setting names (``*_QUEUE``, ``*_CONTAINER``, ``*_TABLE``), so infra cannot drift from the code.

Usage::

    .venv/bin/python scripts/gen_app_settings.py          # rewrite infra/app-settings.json
    .venv/bin/python scripts/gen_app_settings.py --check  # exit 1 when the committed file is stale
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "infra" / "app-settings.json"

# Flex Consumption rejects these as app settings: the runtime comes from functionAppConfig.runtime.
FLEX_FORBIDDEN = frozenset({"FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION"})

# Settings whose value only the deployment knows; infra/modules/functionapp.bicep computes each of
# them in its `infraValues` object (tests/infra/test_infra_parity.py checks both directions).
INFRA_VALUED = (
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    "AzureWebJobsStorage__blobServiceUri",
    "AzureWebJobsStorage__queueServiceUri",
    "AzureWebJobsStorage__tableServiceUri",
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "AZURE_CLIENT_ID",
    "VIGIL_PUBLIC_BASE_URL",
)

# Needed in Azure but not (yet) declared in vigil.settings. They are added only while the model lacks
# them, so declaring them in the model later needs no change here.
#  - APPLICATIONINSIGHTS_AUTHENTICATION_STRING: Application Insights has local auth disabled, so the
#    host must send telemetry with Entra auth ("ClientId=<uami client id>;Authorization=AAD").
#  - AZURE_CLIENT_ID: the app has only a user-assigned identity; DefaultAzureCredential needs its
#    client id to get tokens for ARM, Cost Management, Monitor and Resource Graph.
INFRA_ONLY = {
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Entra authentication for Application Insights "
    "(local auth is disabled): ClientId=<managed identity client id>;Authorization=AAD.",
    "AZURE_CLIENT_ID": "Client id of the user-assigned managed identity, for DefaultAzureCredential.",
}

_SUFFIX_KIND = (("_QUEUE", "queues"), ("_CONTAINER", "containers"), ("_TABLE", "tables"))


def secret_name(setting: str) -> str:
    """Key Vault secret name for a setting: Key Vault allows only letters, digits and dashes."""
    return setting.lower().replace("_", "-")


def render() -> dict[str, Any]:
    """The document infra/app-settings.json must contain, from the current settings model."""
    from vigil.settings import describe_settings

    entries: list[dict[str, Any]] = []
    storage: dict[str, list[str]] = {"queues": [], "containers": [], "tables": []}
    names: set[str] = set()
    for spec in describe_settings():
        if spec.where == "local" or spec.name in FLEX_FORBIDDEN:
            continue
        names.add(spec.name)
        entries.append(
            {
                "name": spec.name,
                "value": "" if spec.is_secret or spec.default is None else spec.default,
                "secret": spec.is_secret,
                "secretName": secret_name(spec.name) if spec.is_secret else "",
                "infra": spec.name in INFRA_VALUED,
                "description": spec.description,
            }
        )
        for suffix, kind in _SUFFIX_KIND:
            if spec.name.endswith(suffix) and spec.default:
                storage[kind].append(spec.default)
    for name, description in INFRA_ONLY.items():
        if name not in names:
            entries.append(
                {
                    "name": name,
                    "value": "",
                    "secret": False,
                    "secretName": "",
                    "infra": True,
                    "description": description,
                }
            )
    return {
        "_generated": "by scripts/gen_app_settings.py from vigil/settings.py; do not edit by hand",
        "settings": entries,
        "defaults": {e["name"]: e["value"] for e in entries if not e["secret"] and not e["infra"]},
        "storage": {kind: sorted(set(values)) for kind, values in storage.items()},
    }


def dumps(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    from scripts.generated import write_or_check

    return write_or_check(
        OUTPUT, dumps(render()), description=__doc__.splitlines()[0], script="scripts/gen_app_settings.py", argv=argv
    )


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
