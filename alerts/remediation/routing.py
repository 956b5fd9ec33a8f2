"""Which remediation mode the routing tree gives a finding.

A receiver with ``remediation_configs`` makes the alerts routed to it eligible
for remediation, in that mode. When several matching receivers give modes, the
safest wins (dry-run < approve < auto); with none, the ``remediation`` section's
``mode`` applies (dry-run by default). ``auto`` still needs an ``auto_allow``
grant (``alerts.remediation.guards.effective_mode``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from alerts.compiled import compiled
from alerts.remediation.config import Mode
from core.model import Finding

if TYPE_CHECKING:
    from alerts.config import AlertingConfig

__all__ = ["mode_for_labels", "mode_resolver"]

_ORDER: dict[Mode, int] = {"dry-run": 0, "approve": 1, "auto": 2}


def mode_for_labels(config: AlertingConfig, labels: Mapping[str, str]) -> Mode:
    """The mode the routing tree gives an alert with these labels (the safest of its receivers')."""
    c = compiled(config)
    modes: list[Mode] = []
    for route in c.root.match(labels):
        receiver = c.receivers.get(route.opts.receiver)
        if receiver is not None:
            modes.extend(r.mode for r in receiver.remediation_configs)
    if not modes:
        return config.remediation.mode
    return min(modes, key=lambda m: _ORDER[m])


def mode_resolver(config: AlertingConfig) -> Callable[[Finding], Mode]:
    def mode_for(finding: Finding) -> Mode:
        return mode_for_labels(config, finding.identity)

    return mode_for
