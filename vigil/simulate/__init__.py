"""A seeded simulator that writes a whole tenant folder in Azure's own formats.

``simulate(out_dir)`` writes ``resources/``, ``metrics/``, ``exports/``, ``events/``,
``activity/`` and ``tenant.json`` (see docs/tenant-layout.md): 3 subscriptions,
about 50 resources, 90 days of daily costs ending at ``now`` and 30 days of hourly
VM metrics. Costs are written twice over, per subscription scope: the two
production/data-science subscriptions as an EA actual-cost export (the 55 legacy
EA columns, UTF-8 with BOM, ``MM/dd/yyyy``, gzip-compressed parts) and the dev/test
subscription as a FOCUS 1.0 export; every run has a manifest.json
(manifestVersion 2024-04-01) with partitioned parts. Scoping by subscription
means no cost is exported twice. Beside Azure, a small AWS payer account writes
an AWS Data Exports "FOCUS 1.2 with AWS columns" export under ``focus/aws/``
(:mod:`vigil.simulate.aws_focus`), so the digest shows a second cloud.

Costs carry the phenomena of real billing (issue 16; their code is shared with
bench/cost_scenarios in :mod:`vigil.simulate.billing`): weekly seasonality (dev and batch
VMs run on weekdays), US holidays and a quiet week when the dev VMs are off (their cost
drops to zero), autocorrelated day-to-day noise on storage, a reservation billed monthly
on its anniversary day (EA ``ChargeType`` Purchase, ``Frequency`` Recurring), a Marketplace
plan billed on the 1st (FOCUS ``ChargeFrequency`` Recurring), a one-off purchase, and the
newest 3 days of late meters (storage) still incomplete in the month-to-date export, as
Cost Management restates them later. None of them is an alert: the demo's one cost alert
stays the planted spike.

Eight planted problems (their ids are listed in ``tenant.json`` under ``planted``):

* ``cost_spike``: a GPU VM that ran ~5 h/day runs 24 h/day on the last two days
  (its daily cost jumps ~5x; it is the top contributor of the spike);
* ``idle_vm``: a running VM whose CPU has stayed below 1 % for the last 14 days
  with almost no outbound network;
* ``idle_ml_instance``: an Azure ML GPU compute instance (``ci-gpu-carol``, Standard_NC6s_v3)
  in the production workspace, Running around the clock at 0.2-1.5 % CPU (max < 3 %) and
  0-1 % GPU (workspace ``CpuUtilizationPercentage``/``GpuUtilizationPercentage`` split by
  ``ComputeName``), billed 24 h/day in the EA export; idle shutdown is configured but
  never triggers (an open notebook session counts as activity);
* ``drift``: an Azure ML workspace written with ``publicNetworkAccess: Enabled``,
  delivered as a ``Microsoft.Resources.ResourceWriteSuccess`` Event Grid event
  (with claims name/upn and correlationId), its ARM GET in ``resources/`` showing
  the public access and the matching Activity Log entry in ``activity/``;
* ``guest_owner_grant``, ``diagnostic_setting_deleted``, ``storage_keys_listed``: control-plane
  operations in ``activity/`` only (``vigil.simulate.activity``): Owner on the production subscription
  granted to a guest, a storage account's SIEM diagnostic setting deleted, a user listing a storage
  account's keys; as Activity Log REST pages and a Log Analytics ``AzureActivity`` query answer;
* ``org_policy_storage``: the organisation's own Azure Policy assignment in ``policy/``
  (:mod:`vigil.simulate.policy`: the built-in "Storage accounts should restrict network access"
  on the production subscription, with a ``notScopes`` resource group and a ``Waiver``
  exemption) finds a production storage account open to all networks; its write is an event.

The same seed and ``now`` give byte-identical output.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from vigil.simulate.activity import write_security_activity
from vigil.simulate.aws_focus import write_aws_focus
from vigil.simulate.costs import EA_COLUMNS, FOCUS_COLUMNS, apply_billing, cost_rows, purchase_rows, write_exports
from vigil.simulate.events import write_events
from vigil.simulate.metrics import write_metrics, write_ml_metrics
from vigil.simulate.model import COST_DAYS, DEFAULT_NOW, DEFAULT_SEED, METRIC_DAYS, SimResult, dump, iso
from vigil.simulate.policy import write_policy
from vigil.simulate.resources import build_resources, write_resources

__all__ = ["DEFAULT_NOW", "DEFAULT_SEED", "EA_COLUMNS", "FOCUS_COLUMNS", "SimResult", "simulate"]

# ----------------------------------------------------------------------------- entry point


def simulate(
    out_dir: str | Path,
    *,
    seed: int = DEFAULT_SEED,
    now: datetime = DEFAULT_NOW,
    progress: bool = False,
) -> SimResult:
    """Write a simulated tenant folder into ``out_dir`` (created; must be empty or absent)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    root = Path(out_dir)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root}: not empty; refusing to overwrite a tenant folder")
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    subs, res, planted, extensions = build_resources(rng, now)
    planted.update(write_policy(root, subs[0], res, now))  # before the resources and events are written
    vms = sum(1 for r in res if r.type == "Microsoft.Compute/virtualMachines")

    with _progress(progress) as step:
        advance = step("metrics (hourly CPU and network)", vms)
        metric_files = write_metrics(root, res, now, random.Random(seed * 7919 + 1), advance)
        metric_files += write_ml_metrics(root, res, now, random.Random(seed * 7919 + 5))
        step("cost exports (EA actual + FOCUS 1.0)", 1)
        billing = random.Random(seed * 7919 + 8)  # holidays, noise, late meters, purchases (issue 16)
        usage = apply_billing(cost_rows(res, now, random.Random(seed * 7919 + 2)), now, billing)
        purchases = purchase_rows(subs, now, billing)
        runs, n_cost_rows = write_exports(root, subs, usage, now, random.Random(seed * 7919 + 3), purchases=purchases)
        aws_files, aws_rows = write_aws_focus(root, now, random.Random(seed * 7919 + 6))
        step("events and activity log", 1)
        events = write_events(root, subs, res, now, random.Random(seed * 7919 + 4), planted)
        events += write_security_activity(root, subs, res, now, random.Random(seed * 7919 + 6), planted)
        step("resources (ARM JSON)", 1)
        write_resources(root, res, extensions)
        dump(
            root / "tenant.json",
            {
                "generator": "vigil.simulate",
                "seed": seed,
                "now": iso(now),
                "cost_days": COST_DAYS,
                "metric_days": METRIC_DAYS,
                "subscriptions": [
                    {"subscriptionId": s.id, "displayName": s.name, "costExport": s.export} for s in subs
                ],
                "planted": planted,
                "otherClouds": [
                    {"provider": "AWS", "export": "FOCUS 1.2 with AWS columns", "files": aws_files, "rows": aws_rows}
                ],
            },
        )
    return SimResult(
        root=root,
        now=now,
        seed=seed,
        subscriptions=[s.id for s in subs],
        resources=len(res),
        cost_rows=n_cost_rows,
        export_runs=runs,
        metric_files=metric_files,
        events=events,
        planted=planted,
    )


class _progress:
    """A rich progress display on stderr (or nothing). ``step(label, total)`` starts a task
    and returns a callable that advances it; the previous task is completed."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> Callable[[str, int], Callable[[], None]]:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("simulate: {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._progress.start()
        return self._step

    def _finish(self) -> None:
        if self._progress is not None and self._task is not None:
            task = self._progress.tasks[-1]
            self._progress.update(self._task, completed=task.total)

    def _step(self, label: str, total: int) -> Callable[[], None]:
        if self._progress is None:
            return lambda: None
        self._finish()
        self._task = self._progress.add_task(label, total=max(total, 1))
        task_id = self._task
        prog = self._progress
        return lambda: prog.advance(task_id)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._finish()
            self._progress.stop()
