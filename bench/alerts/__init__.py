"""bench/alerts: 100,000 findings through alert state, inhibit, silence, route, group and dedup.

``value``: alerts per second (best of three runs) through :func:`alerts.pipeline.process` on a fresh
in-memory store (first run: every alert new, every due group enqueued on the alerts queue through
:class:`alerts.outbox.QueueOutbox` over a :class:`vigil.runtime_local.LocalRuntime`: the production
path, as ``vigil.handlers.raise_alerts`` writes it), the
goal being 20,000 alerts/s (issue 5). Measured in the same run:

* ``baseline``: the same pipeline with the route-decision cache disabled, so each
  alert walks the route tree and evaluates every matcher (what a direct port of
  Alertmanager's per-alert ``Route.Match`` does);
* ``rerun_alerts_per_s``: after delivering everything (the alerts queue drained through
  ``vigil.handlers.dispatch_alert``, the queue trigger, with the CLI's outbox folder as the
  channel sink), the same findings again:
  every group goes through the notification log and ``needs_update`` and nothing
  is enqueued (dedup; part of ``pass``);
* ``floor_alerts_per_s``: only building each alert's label set and fingerprint.

The store is :class:`alerts.testing.MemoryStore` so the figure measures the
alerting code, not SQLite or Azure Tables.
"""

from __future__ import annotations

import gc
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alerts.outbox import QueueOutbox
from alerts.pipeline import process
from alerts.testing import MemoryStore
from core.model import Finding, ResourceRef, Severity, Status, fingerprint
from vigil.config import VigilConfig, parse_config
from vigil.runtime_local import LocalRuntime

__all__ = ["main"]

GOAL = 20_000.0
REPEATS = 3
N = 100_000
ALERTS = "vigil-alerts"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

RULES = [
    ("idle", "vm-idle", Severity.LOW),
    ("idle", "disk-unattached", Severity.LOW),
    ("idle", "pip-unassociated", Severity.INFO),
    ("overspend", "budget-forecast", Severity.HIGH),
    ("overspend", "anomaly-spike", Severity.MEDIUM),
    ("drift", "storage-public-access", Severity.CRITICAL),
    ("drift", "nsg-open-ssh", Severity.CRITICAL),
    ("drift", "keyvault_purge_protection", Severity.HIGH),
    ("drift", "sql-tls-min", Severity.MEDIUM),
    ("drift", "tags-required", Severity.LOW),
]
TYPES = [
    "Microsoft.Compute/virtualMachines",
    "Microsoft.Compute/disks",
    "Microsoft.Storage/storageAccounts",
    "Microsoft.Network/networkSecurityGroups",
    "Microsoft.KeyVault/vaults",
    "Microsoft.Sql/servers",
]

CONFIG: dict[str, Any] = {
    "route": {
        "receiver": "finops",
        "group_by": ["alertname", "subscription_id"],
        "group_wait": "30s",
        "routes": [
            {
                "matchers": ['severity="critical"'],
                "receiver": "oncall",
                "group_by": ["alertname", "resource_group"],
                "continue": True,
            },
            {
                "matchers": ['detector="drift"', 'resource_type=~"microsoft\\\\.(storage|keyvault)/.*"'],
                "receiver": "security",
            },
            {
                "matchers": ['detector="drift"'],
                "receiver": "security",
                "routes": [{"matchers": ['team=~"data|ml"'], "receiver": "data"}],
            },
            {
                "matchers": ['detector=~"idle|overspend"', 'team!="sandbox"'],
                "receiver": "finops",
                "group_by": ["alertname", "team"],
            },
            {"matchers": ['team="sandbox"'], "receiver": "blackhole"},
        ],
    },
    "receivers": [
        {"name": "finops", "email_configs": [{"to": "finops@example.com", "smarthost": "smtp:25"}]},
        {
            "name": "oncall",
            "msteamsv2_configs": [{"webhook_url": "https://example.invalid/a"}],
            "webhook_configs": [{"url": "https://example.invalid/hook"}],
        },
        {"name": "security", "msteamsv2_configs": [{"webhook_url": "https://example.invalid/b"}]},
        {"name": "data", "msteamsv2_configs": [{"webhook_url": "https://example.invalid/c"}]},
        {"name": "blackhole"},
    ],
    "inhibit_rules": [
        {
            "source_matchers": ['alertname="storage-public-access"'],
            "target_matchers": ['alertname="tags-required"'],
            "equal": ["resource_id"],
        },
    ],
}


def make_findings(n: int, seed: int = 7) -> list[Finding]:
    rnd = random.Random(seed)
    teams = ["web", "data", "ml", "platform", "sandbox", "payments"]
    out = []
    for i in range(n):
        sub = f"{rnd.randrange(20):08d}-0000-0000-0000-000000000000"
        rg = f"rg-{rnd.randrange(200):03d}"
        rtype = TYPES[i % len(TYPES)]
        rid = f"/subscriptions/{sub}/resourceGroups/{rg}/providers/{rtype}/res{i:06d}"
        det, rule, sev = RULES[rnd.randrange(len(RULES))]
        out.append(
            Finding(
                detector=det,
                rule=rule,
                status=Status.FIRING,
                severity=sev,
                resource=ResourceRef.from_id(rid),
                observed_at=NOW - timedelta(minutes=rnd.randrange(1, 600)),
                labels={"team": teams[rnd.randrange(len(teams))]},
                annotations={"summary": f"{rule} on res{i:06d}", "expected": "compliant", "actual": "drifted"},
                evidence={"caller": "someone@example.com"},
            )
        )
    return out


def _runtime(config: VigilConfig, store: MemoryStore, sink: Path | None = None) -> LocalRuntime:
    """The CLI's runtime over ``store``: its alerts queue is kept in the store and drained in process."""
    return LocalRuntime(config, store, Path(tempfile.gettempdir()) / "vigil-bench-alerts", clock=lambda: NOW, sink=sink)


def _run(config: VigilConfig, findings: list[Finding], *, cache: bool) -> tuple[float, Any, MemoryStore]:
    from alerts.compiled import compiled

    root = compiled(config).root
    for r in root.walk():
        r._cache.clear()
    root.use_cache = cache  # off: every alert walks the tree and evaluates every matcher
    store = MemoryStore()
    outbox = QueueOutbox(_runtime(config, store), store, ALERTS)
    gc.collect()
    t0 = time.perf_counter()
    res = process(findings, config=config, store=store, outbox=outbox, now=NOW)
    dt = time.perf_counter() - t0
    return dt, res, store


def main() -> dict[str, Any]:
    scale = float(os.environ.get("VIGIL_BENCH_SCALE", "1") or 1)
    n = max(1000, int(N * scale))
    config = parse_config(CONFIG)
    print(f"bench/alerts: generating {n} findings", file=sys.stderr)
    findings = make_findings(n)

    floor = float("inf")
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        for f in findings:
            fingerprint(f.identity)
        floor = min(floor, time.perf_counter() - t0)

    # best of REPEATS (fresh store each time): the host is shared, so take the least-disturbed run
    dt_base, res_base, _ = min((_run(config, findings, cache=False) for _ in range(REPEATS)), key=lambda r: r[0])
    dt, res, store = min((_run(config, findings, cache=True) for _ in range(REPEATS)), key=lambda r: r[0])
    if not res.enqueued or len(res.enqueued) != len(res_base.enqueued):
        raise RuntimeError("baseline and measured runs disagree")

    # deliver everything (the alerts queue's trigger, into an outbox folder) so the re-run meets a full
    # notification log
    from vigil.handlers import dispatch_alert

    with tempfile.TemporaryDirectory(prefix="vigil-bench-alerts-") as folder:
        rt = _runtime(config, store, Path(folder))
        delivered = rt.drain(ALERTS, lambda message: dispatch_alert(message, rt))
    if delivered.failed or delivered.processed != len(res.enqueued):
        raise RuntimeError(f"delivery failed: {delivered.failed} failed, {delivered.processed} delivered")
    outbox = QueueOutbox(_runtime(config, store), store, ALERTS)
    dt_rerun = float("inf")
    for k in range(REPEATS):  # idempotent: each re-run finds everything already notified
        t0 = time.perf_counter()
        rerun = process(findings, config=config, store=store, outbox=outbox, now=NOW + timedelta(minutes=1 + k))
        dt_rerun = min(dt_rerun, time.perf_counter() - t0)
        if rerun.enqueued:
            break

    value = n / dt
    baseline = n / dt_base
    rerun_rate = n / dt_rerun
    return {
        "name": "alerts",
        "unit": "alerts/s",
        "value": round(value, 1),
        "baseline": round(baseline, 1),
        "ratio": round(value / baseline, 3),
        "goal": GOAL,
        "pass": bool(value >= GOAL and rerun_rate >= GOAL and rerun.enqueued == [] and rerun.already_queued == 0),
        "description": "findings -> alerts -> inhibit -> silence -> route -> group -> dedup -> alerts queue, "
        "first run; "
        "baseline: same pipeline without the route-decision cache",
        "measurements": {
            "findings": n,
            "repeats": REPEATS,
            "seconds": round(dt, 3),
            "baseline_seconds": round(dt_base, 3),
            "rerun_alerts_per_s": round(rerun_rate, 1),
            "rerun_seconds": round(dt_rerun, 3),
            "rerun_enqueued": len(rerun.enqueued),
            "floor_alerts_per_s": round(n / floor, 1),
            "groups": res.groups,
            "enqueued": len(res.enqueued),
            "inhibited": res.inhibited,
            "delivered": delivered.processed,
            "rerun_up_to_date": rerun.up_to_date,
        },
    }
