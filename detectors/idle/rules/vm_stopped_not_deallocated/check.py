"""vm_stopped_not_deallocated: powerState/stopped keeps the compute allocated, and billed.

Azure bills compute for a VM stopped from inside the OS (``PowerState/stopped``) and
stops billing only once it is deallocated (``PowerState/deallocated``), see
https://learn.microsoft.com/azure/virtual-machines/states-billing . FIRING on
``stopped``; RESOLVED on any other known power state; no verdict without an instance view.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from detectors.idle import prices
from detectors.idle.common import QUIET_VERDICT, Context, Verdict
from detectors.idle.rules.vm_shutdown_candidate.check import vm_size

__all__ = ["evaluate"]


def evaluate(vm: Mapping[str, Any], ctx: Context) -> Verdict | None:
    state = ctx.power_state(vm)
    if state is None:
        return None
    if state != "stopped" and ctx.quiet("vm_stopped_not_deallocated", str(vm["id"])):
        return QUIET_VERDICT
    size = vm_size(vm)
    evidence: dict[str, Any] = {"power_state": state, "vm_size": size}
    if state != "stopped":
        return Verdict(False, f"VM is {state}", evidence)
    hourly = prices.vm_hourly(size)
    hpm = ctx.config.hours_per_month
    return Verdict(
        True,
        "VM is stopped but not deallocated: its compute is still billed",
        evidence,
        estimate_monthly=hourly * hpm if hourly is not None else None,
        estimate_source=f"list price of {size} ({hourly} USD/h x {hpm:g} h)" if hourly is not None else "",
    )
