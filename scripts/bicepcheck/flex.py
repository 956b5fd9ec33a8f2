"""Site properties a Flex Consumption app must not set.

Source: "Flex Consumption plan deprecations" in the Azure Functions app settings reference,
https://learn.microsoft.com/azure/azure-functions/functions-app-settings#flex-consumption-plan-deprecations
(read from MicrosoftDocs/azure-docs, articles/azure-functions/functions-app-settings.md). That table names
the properties loosely (``properties.ftpsState``, ``properties.isReserved``); the paths below are where each
one lives in the Microsoft.Web/sites body, and tests/infra/test_infra_typecheck.py checks that every path
exists in the published type. ARM refuses a Flex site that sets some of them (``siteConfig.ftpsState``
among them); the others are ignored or replaced by ``functionAppConfig``. None belongs in the template.

The app settings the same table deprecates are kept out by scripts/gen_app_settings.py (FLEX_FORBIDDEN).
"""

from __future__ import annotations

from typing import Any

from scripts.bicepcheck.model import Finding, Template, key_name, unwrap

# ARM path in the Microsoft.Web/sites body -> the documented reason.
FLEX_DENIED_SITE_PROPERTIES: dict[str, str] = {
    "properties.siteConfig.alwaysOn": "Not valid",
    "properties.containerSize": "Renamed as instanceMemoryMB",
    "properties.dnsConfiguration": "Custom DNS servers configured in the Azure Virtual Network are automatically used",
    "properties.siteConfig.ftpsState": "FTPS not supported",
    "properties.reserved": "Not valid (listed as properties.isReserved)",
    "properties.isXenon": "Not valid",
    "properties.siteConfig.javaVersion": "Replaced by version in properties.functionAppConfig.runtime",
    "properties.siteConfig.linuxFxVersion": "Replaced by properties.functionAppConfig.runtime",
    "properties.siteConfig.netFrameworkVersion": "Replaced by version in properties.functionAppConfig.runtime",
    "properties.siteConfig.powerShellVersion": "Replaced by version in properties.functionAppConfig.runtime",
    "properties.siteConfig.functionAppScaleLimit": "Renamed as maximumInstanceCount",
    "properties.siteConfig.preWarmedInstanceCount": "Renamed as alwaysReadyInstances",
    "properties.siteConfig.use32BitWorkerProcess": "32-bit not supported",
    "properties.vnetBackupRestoreEnabled": "Not used for networking in Flex Consumption",
    "properties.vnetContentShareEnabled": "Not used for networking in Flex Consumption",
    "properties.vnetImagePullEnabled": "Not used for networking in Flex Consumption",
    "properties.vnetRouteAllEnabled": "Not used for networking in Flex Consumption",
    "properties.siteConfig.windowsFxVersion": "Not valid",
}
SOURCE = "https://learn.microsoft.com/azure/azure-functions/functions-app-settings#flex-consumption-plan-deprecations"


def _paths(value: Any, prefix: str = "") -> set[str]:
    if not isinstance(value, dict):
        return set()
    found: set[str] = set()
    for key, item in value.items():
        path = f"{prefix}.{key_name(key)}" if prefix else key_name(key)
        found |= {path} | _paths(item, path)
    return found


def check(template: Template) -> list[Finding]:
    findings: list[Finding] = []
    for symbol, resource in template.section("resources").items():
        if str(resource["type"]).lower() != "microsoft.web/sites" or resource.get("existing"):
            continue
        _, _, body = unwrap(resource["config"])
        paths = _paths(body)
        if "properties.functionAppConfig" not in paths:
            continue  # functionAppConfig is what makes a site a Flex Consumption app
        for path in sorted(paths & set(FLEX_DENIED_SITE_PROPERTIES)):
            reason = FLEX_DENIED_SITE_PROPERTIES[path]
            message = f"{path}: not allowed on a Flex Consumption site ({reason}; {SOURCE})"
            findings.append(Finding(template.name, f"resource {symbol}", "FLEX001", message))
    return findings
