"""unassociated_public_ip: a public IP with no ipConfiguration and no NAT gateway.

Static (and every Standard SKU) public IPs are billed whether or not they are
associated (https://azure.microsoft.com/pricing/details/ip-addresses/); a Basic
*dynamic* IP without an address is not billed, so it does not fire. RESOLVED when it
is associated again or deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from detectors.idle import prices
from detectors.idle.common import Context, Verdict, arm_props

__all__ = ["evaluate"]


def evaluate(pip: Mapping[str, Any], ctx: Context) -> Verdict | None:
    props = arm_props(pip)
    sku = str((pip.get("sku") or {}).get("name") or "Basic")
    method = str(props.get("publicIPAllocationMethod") or "")
    evidence: dict[str, Any] = {
        "sku": sku,
        "allocation": method,
        "ip_address": props.get("ipAddress"),
        "ip_configuration": (props.get("ipConfiguration") or {}).get("id"),
        "nat_gateway": (props.get("natGateway") or {}).get("id"),
    }
    if evidence["ip_configuration"] or evidence["nat_gateway"]:
        return Verdict(False, "public IP is associated", evidence)
    if sku.lower() == "basic" and method.lower() == "dynamic" and not props.get("ipAddress"):
        return Verdict(False, "unassociated Basic dynamic IP holds no address and is not billed", evidence)
    hourly = prices.public_ip_hourly(sku)
    hpm = ctx.config.hours_per_month
    return Verdict(
        True,
        f"{sku} {method or 'static'} public IP is associated with nothing",
        evidence,
        estimate_monthly=hourly * hpm,
        estimate_source=f"list price of a {sku} public IPv4 ({hourly} USD/h x {hpm:g} h)",
    )
