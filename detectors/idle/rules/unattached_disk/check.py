"""unattached_disk: a managed disk left ``Unattached`` for ``disk_unattached_days`` or more.

The time it became unattached is ``properties.LastOwnershipUpdateTime`` (ARM: "the time
the disk was last attached or detached from a VM"), else ``properties.timeCreated``.
FIRING when ``diskState`` is ``Unattached`` for at least the threshold; RESOLVED when
the disk is attached (or reserved by a deallocated VM) or deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from detectors.idle import prices
from detectors.idle.common import Context, Verdict, arm_props, parse_time

__all__ = ["evaluate"]


def evaluate(disk: Mapping[str, Any], ctx: Context) -> Verdict | None:
    props = arm_props(disk)
    state = str(props.get("diskState") or "")
    if not state:
        return None
    sku = str((disk.get("sku") or {}).get("name") or "")
    size_gb = props.get("diskSizeGB")
    evidence: dict[str, Any] = {"disk_state": state, "sku": sku, "size_gb": size_gb}
    if state.lower() != "unattached":
        return Verdict(False, f"disk is {state}", evidence)
    since = parse_time(props.get("LastOwnershipUpdateTime") or props.get("lastOwnershipUpdateTime"))
    basis = "LastOwnershipUpdateTime"
    if since is None:
        since, basis = parse_time(props.get("timeCreated")), "timeCreated"
    threshold = timedelta(days=ctx.config.disk_unattached_days)
    if since is None:
        if threshold > timedelta(0):
            return None
        age = None
    else:
        age = ctx.now - since
    evidence.update(
        unattached_since=since.isoformat() if since else None,
        since_basis=basis if since else None,
        unattached_days=round(age / timedelta(days=1), 3) if age is not None else None,
        threshold_days=ctx.config.disk_unattached_days,
    )
    if age is not None and age < threshold:
        return Verdict(False, f"unattached for {age / timedelta(days=1):.1f} d only", evidence)
    monthly = prices.disk_monthly(sku, float(size_gb)) if isinstance(size_gb, int | float) else None
    return Verdict(
        True,
        f"managed disk unattached for {evidence['unattached_days']} d"
        if age is not None
        else "managed disk unattached",
        evidence,
        estimate_monthly=monthly,
        estimate_source=f"list price of a {sku} disk of {size_gb} GiB" if monthly is not None else "",
    )
