"""Azure Policy aliases: from an alias name to a path in the ARM resource JSON.

The shipped map covers the resource types of the built-in rule pack. Each entry
was checked against the provider's published alias list and against real ARM
GET payloads (``../shared/samples/arm``). Some paths are not the obvious
``properties.<x>``:

* Azure ML workspace private endpoint connections keep their state one
  ``properties`` level deeper:
  ``properties.privateEndpointConnections[*].properties.privateLinkServiceConnectionState.status``.
* Azure ML compute settings specific to the compute kind (subnet, idle
  shutdown, SSH, node public IP) sit under ``properties.properties.*``, while
  ``computeType`` and ``disableLocalAuth`` sit under ``properties.*``.
* NSG security rules keep their fields under ``securityRules[*].properties.*``.

**Fallback** (documented behaviour for any alias not in the map): an alias
``<resource type>/<path>`` evaluated against a resource of that type maps to
``properties.<path>``; when ``<path>`` starts with an ARM envelope property
(``sku``, ``identity``, ``kind``, ``plan``, ``zones``, ``extendedLocation``)
it maps to that top-level property instead. An alias whose type is not the
resource's type resolves to "missing".
"""

from __future__ import annotations

import re

__all__ = ["ALIASES", "STAR", "PathToken", "alias_path", "parse_path"]


class _Star:
    __slots__ = ()

    def __repr__(self) -> str:
        return "[*]"


STAR = _Star()
PathToken = str | int | _Star

_ML = "microsoft.machinelearningservices/workspaces"
_ST = "microsoft.storage/storageaccounts"
_KV = "microsoft.keyvault/vaults"
_ACR = "microsoft.containerregistry/registries"
_NSG = "microsoft.network/networksecuritygroups"
_RA = "microsoft.authorization/roleassignments"
_DS = "microsoft.insights/diagnosticsettings"

_PEC = "properties.privateEndpointConnections[*]"

#: alias (lower case) -> ARM JSON path.
ALIASES: dict[str, str] = {
    # Azure ML workspaces
    f"{_ML}/publicnetworkaccess": "properties.publicNetworkAccess",
    f"{_ML}/allowpublicaccesswhenbehindvnet": "properties.allowPublicAccessWhenBehindVnet",
    f"{_ML}/privateendpointconnections[*]": _PEC,
    f"{_ML}/privateendpointconnections[*].privatelinkserviceconnectionstate.status": (
        f"{_PEC}.properties.privateLinkServiceConnectionState.status"
    ),
    f"{_ML}/privateendpointconnections[*].privateendpoint.id": f"{_PEC}.properties.privateEndpoint.id",
    f"{_ML}/privateendpointconnections[*].provisioningstate": f"{_PEC}.properties.provisioningState",
    f"{_ML}/encryption.status": "properties.encryption.status",
    f"{_ML}/encryption.keyvaultproperties.keyidentifier": "properties.encryption.keyVaultProperties.keyIdentifier",
    f"{_ML}/primaryuserassignedidentity": "properties.primaryUserAssignedIdentity",
    f"{_ML}/managednetwork.isolationmode": "properties.managedNetwork.isolationMode",
    f"{_ML}/hbiworkspace": "properties.hbiWorkspace",
    f"{_ML}/v1legacymode": "properties.v1LegacyMode",
    # Azure ML computes: kind-specific settings are one level deeper.
    f"{_ML}/computes/computetype": "properties.computeType",
    f"{_ML}/computes/disablelocalauth": "properties.disableLocalAuth",
    f"{_ML}/computes/subnet.id": "properties.properties.subnet.id",
    f"{_ML}/computes/idletimebeforeshutdown": "properties.properties.idleTimeBeforeShutdown",
    f"{_ML}/computes/enablenodepublicip": "properties.properties.enableNodePublicIp",
    f"{_ML}/computes/remoteloginportpublicaccess": "properties.properties.remoteLoginPortPublicAccess",
    f"{_ML}/computes/sshsettings.sshpublicaccess": "properties.properties.sshSettings.sshPublicAccess",
    f"{_ML}/computes/osimagemetadata.islatestosimageversion": (
        "properties.properties.osImageMetadata.isLatestOsImageVersion"
    ),
    # Storage accounts
    f"{_ST}/allowblobpublicaccess": "properties.allowBlobPublicAccess",
    f"{_ST}/allowsharedkeyaccess": "properties.allowSharedKeyAccess",
    f"{_ST}/minimumtlsversion": "properties.minimumTlsVersion",
    f"{_ST}/supportshttpstrafficonly": "properties.supportsHttpsTrafficOnly",
    f"{_ST}/publicnetworkaccess": "properties.publicNetworkAccess",
    f"{_ST}/networkacls.defaultaction": "properties.networkAcls.defaultAction",
    # Key Vault
    f"{_KV}/enablepurgeprotection": "properties.enablePurgeProtection",
    f"{_KV}/enablesoftdelete": "properties.enableSoftDelete",
    f"{_KV}/publicnetworkaccess": "properties.publicNetworkAccess",
    f"{_KV}/networkacls.defaultaction": "properties.networkAcls.defaultAction",
    f"{_KV}/createmode": "properties.createMode",
    # Container registries
    f"{_ACR}/adminuserenabled": "properties.adminUserEnabled",
    f"{_ACR}/publicnetworkaccess": "properties.publicNetworkAccess",
    # Network security groups: rule fields sit under each rule's own `properties`.
    f"{_NSG}/securityrules[*]": "properties.securityRules[*]",
    f"{_NSG}/securityrules[*].direction": "properties.securityRules[*].properties.direction",
    f"{_NSG}/securityrules[*].access": "properties.securityRules[*].properties.access",
    f"{_NSG}/securityrules[*].protocol": "properties.securityRules[*].properties.protocol",
    f"{_NSG}/securityrules[*].sourceaddressprefix": "properties.securityRules[*].properties.sourceAddressPrefix",
    f"{_NSG}/securityrules[*].sourceaddressprefixes[*]": (
        "properties.securityRules[*].properties.sourceAddressPrefixes[*]"
    ),
    f"{_NSG}/securityrules[*].destinationportrange": "properties.securityRules[*].properties.destinationPortRange",
    f"{_NSG}/securityrules[*].destinationportranges[*]": (
        "properties.securityRules[*].properties.destinationPortRanges[*]"
    ),
    # Role assignments
    f"{_RA}/roledefinitionid": "properties.roleDefinitionId",
    f"{_RA}/principalid": "properties.principalId",
    f"{_RA}/principaltype": "properties.principalType",
    f"{_RA}/scope": "properties.scope",
    # Diagnostic settings (related resources for auditIfNotExists)
    f"{_DS}/logs[*]": "properties.logs[*]",
    f"{_DS}/logs[*].enabled": "properties.logs[*].enabled",
    f"{_DS}/logs.enabled": "properties.logs[*].enabled",
    f"{_DS}/logs[*].category": "properties.logs[*].category",
    f"{_DS}/logs[*].categorygroup": "properties.logs[*].categoryGroup",
    f"{_DS}/logs[*].retentionpolicy.enabled": "properties.logs[*].retentionPolicy.enabled",
    f"{_DS}/logs[*].retentionpolicy.days": "properties.logs[*].retentionPolicy.days",
    f"{_DS}/metrics[*].enabled": "properties.metrics[*].enabled",
    f"{_DS}/metrics.enabled": "properties.metrics[*].enabled",
    f"{_DS}/storageaccountid": "properties.storageAccountId",
    f"{_DS}/workspaceid": "properties.workspaceId",
    f"{_DS}/eventhubauthorizationruleid": "properties.eventHubAuthorizationRuleId",
}

_ENVELOPE = ("sku", "identity", "kind", "plan", "zones", "extendedlocation", "managedby")

_TOKEN = re.compile(r"\[\*\]|\[(\d+)\]|\['([^']*)'\]|\[([^\]'*]+)\]|([^.\[\]]+)")


def parse_path(path: str) -> tuple[PathToken, ...]:
    """``a.b[*].c['x y'][0]`` -> ``('a', 'b', STAR, 'c', 'x y', 0)``."""
    out: list[PathToken] = []
    pos = 0
    for m in _TOKEN.finditer(path):
        if path[pos : m.start()].strip(".") != "":
            raise ValueError(f"cannot parse path {path!r}")
        pos = m.end()
        if m.group(0) == "[*]":
            out.append(STAR)
        elif m.group(1) is not None:
            out.append(int(m.group(1)))
        else:
            out.append(m.group(2) if m.group(2) is not None else (m.group(3) or m.group(4)))
    if path[pos:].strip(".") != "":
        raise ValueError(f"cannot parse path {path!r}")
    return tuple(out)


def alias_path(alias_lower: str, resource_type_lower: str) -> tuple[PathToken, ...] | None:
    """The JSON path of an alias for a resource of the given type, or None.

    None means the alias does not apply to that type (the field is missing).
    """
    mapped = ALIASES.get(alias_lower)
    if mapped is not None:
        # A mapped alias still only applies to its own type.
        owner = _owner_type(alias_lower)
        if owner is not None and owner != resource_type_lower:
            return None
        return parse_path(mapped)
    prefix = resource_type_lower + "/"
    if not alias_lower.startswith(prefix):
        return None
    rest = alias_lower[len(prefix) :]
    if not rest or "/" in rest:
        return None
    head = re.split(r"[.\[]", rest, maxsplit=1)[0]
    if head in _ENVELOPE:
        return parse_path(rest)
    return parse_path("properties." + rest)


def _owner_type(alias_lower: str) -> str | None:
    for t in (_ML + "/computes", _ML, _ST, _KV, _ACR, _NSG, _RA, _DS):
        if alias_lower.startswith(t + "/") and "/" not in alias_lower[len(t) + 1 :]:
            return t
    return None
