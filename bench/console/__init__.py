"""bench/console: server time of the triage console's pages over a large state store.

A SQLite store holds 50,000 alerts (drift, overspend and idle; 20 % resolved), 10,000
resources with 3 drift verdicts each and a verdict history of ``HISTORY_PER_RULE`` changes per
resource and rule (``vigil.drift_history``), one processed event per resource, 1,000
acknowledgements, 5,000 notification-log groups and 5 active silences. Each page is
requested through the console's ASGI app in-process (httpx ``ASGITransport``: no network,
so the time is the server's), ``REPEATS`` times; ``value`` is the slowest page's p95 with the
alert index warm (the console keeps one, refreshed every ``index_ttl`` seconds and after its
own writes). ``measurements`` also give each page's p50/p95 and the cold figure (index
rebuilt for the request, ``index_ttl=0``).

Baseline, same run: one full scan of the alerts namespace (``store.query``), the cost every
request would pay without the index. Goal: value <= 0.2 s.
``VIGIL_BENCH_SCALE`` shrinks the store and the repeats.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

GOAL_S = 0.2
SCALE = float(os.environ.get("VIGIL_BENCH_SCALE", "1") or 1)
N_ALERTS = max(100, int(50_000 * SCALE))
N_RESOURCES = max(50, int(10_000 * SCALE))
REPEATS = max(5, int(30 * SCALE))
NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
RULES = ("storage_https_only", "storage_min_tls", "ml_workspace_public_network_access")
SEVERITIES = ("critical", "high", "medium", "low")
HISTORY_PER_RULE = 6  # verdict changes per resource and rule: 180,000 history records at full scale


def _rid(i: int) -> str:
    rg = f"/subscriptions/sub-{i % 20:02d}/resourcegroups/rg-{i % 300:03d}"
    return f"{rg}/providers/microsoft.storage/storageaccounts/st{i:06d}"


def populate(path: Path) -> dict[str, Any]:
    from core.state import open_store
    from core.state.base import Namespace
    from vigil.drift_history import entry_key

    store = open_store("sqlite", path=path)
    conn = store._conn()  # type: ignore[attr-defined]  # one transaction for the bulk load
    conn.execute("BEGIN")
    for i in range(N_RESOURCES):
        rid = _rid(i)
        for j, rule in enumerate(RULES):
            store.put(
                Namespace.VERDICTS,
                f"{rid}|{rule}",
                {
                    "resource_id": rid,
                    "rule": rule,
                    "resource_type": "microsoft.storage/storageaccounts",
                    "compliant": (i + j) % 7 != 0,
                    "deleted": False,
                    "event_time": (NOW - timedelta(minutes=i)).isoformat(),
                },
            )
            key = f"{rid}|{rule}"
            for h in range(HISTORY_PER_RULE):
                when = NOW - timedelta(days=HISTORY_PER_RULE - h, minutes=i)
                store.put(
                    Namespace.HISTORY,
                    entry_key(key, when, f"evt-{i:08d}-{j}-{h}"),
                    {
                        "resource_id": rid,
                        "rule": rule,
                        "compliant": (i + j + h) % 2 == 0,
                        "deleted": False,
                        "event_time": when.isoformat(),
                        "source": "event",
                        "event_id": f"evt-{i:08d}-{j}-{h}",
                        "who": f"user{h}@contoso.com",
                    },
                )
        store.put(
            Namespace.EVENTS,
            f"evt-{i:08d}",
            {
                "type": "Microsoft.Resources.ResourceWriteSuccess",
                "resource_id": rid,
                "event_time": (NOW - timedelta(minutes=i)).isoformat(),
                "done": True,
            },
        )
    fps = []
    for i in range(N_ALERTS):
        detector = ("drift", "overspend", "idle")[i % 3]
        labels = {
            "alertname": f"{detector}-rule-{i % 40:02d}",
            "detector": detector,
            "severity": SEVERITIES[i % 4],
            "resource_id": _rid(i % N_RESOURCES),
            "subscription_id": f"sub-{i % 20:02d}",
            "scope": f"sub-{i % 20:02d}",
        }
        fp = f"{i:016x}"
        fps.append(fp)
        starts = NOW - timedelta(minutes=i)
        store.put(
            Namespace.ALERTS,
            fp,
            {
                "labels": labels,
                "annotations": {"summary": f"{labels['alertname']} on st{i:06d}", "description": "x" * 200},
                "evidence": {"actual": i, "expected": i / 2},
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(minutes=5)).isoformat() if i % 5 == 0 else None,
                "updated_at": starts.isoformat(),
            },
        )
    for i in range(0, N_ALERTS, max(1, N_ALERTS // 1000)):
        store.put(Namespace.ACKS, fps[i], {"fingerprint": fps[i], "by": "ops", "comment": "", "at": NOW.isoformat()})
    for g in range(5000 if SCALE >= 1 else max(10, int(5000 * SCALE))):
        members = fps[g * 10 % N_ALERTS : g * 10 % N_ALERTS + 10]
        store.put(
            Namespace.NFLOG,
            f"{('secops', 'finops')[g % 2]}|msteams[0]|{g:024x}",
            {"firing": members, "resolved": [], "sent_at": NOW.isoformat(), "keys": [], "group_key": f"g{g}"},
        )
    conn.execute("COMMIT")
    from alerts.silences import create_silence

    for k in range(5):
        create_silence(
            store,
            matchers=[f'alertname="drift-rule-{k:02d}"'],
            duration=timedelta(days=1),
            created_by="bench",
            comment="bench",
            now=NOW - timedelta(hours=1),
        )
    store.close()
    return {
        "alerts": N_ALERTS,
        "resources": N_RESOURCES,
        "verdicts": N_RESOURCES * len(RULES),
        "history": N_RESOURCES * len(RULES) * HISTORY_PER_RULE,
    }


async def _time(client: Any, url: str, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        resp = await client.get(url)
        out.append(time.perf_counter() - t0)
        if resp.status_code != 200:
            raise RuntimeError(f"{url}: HTTP {resp.status_code}: {resp.text[:300]}")
    return out


def _p95(xs: list[float]) -> float:
    return sorted(xs)[max(0, round(0.95 * len(xs)) - 1)]


def measure(path: Path) -> dict[str, Any]:
    import httpx

    from alerts.compiled import compiled
    from core.state import open_store
    from core.state.base import Namespace
    from vigil.cli.run_cmds import DEMO_CONFIG
    from vigil.config import load_config
    from vigil.console.app import ConsoleConfig, create_app
    from vigil.console.auth import SESSION_COOKIE, LocalTokenAuth

    route = compiled(load_config(DEMO_CONFIG)).root  # the demo routing: group by alertname and resource
    store = open_store("sqlite", path=path)
    token = "bench-token-0123456789abcdef"
    rid = _rid(7)
    pages = {
        "alerts": "/alerts",
        "alerts_filtered": "/alerts?"
        + urlencode({"matchers": 'alertname=~"drift-rule-1.*", severity!="low"', "status": "firing"}),
        "alerts_last_page": f"/alerts?page={N_ALERTS // 50}",
        "alert_detail": f"/alerts/{7:016x}",
        "silence_preview": "/silences/preview?" + urlencode({"matchers": 'detector="idle"'}),
        "resources": f"/resources?page={N_RESOURCES // 100}",
        "resource_timeline": "/resource?" + urlencode({"id": rid}),
        "silences": "/silences",
        "alerts_grouped": "/alerts?" + urlencode({"group": "1", "detector": "drift"}),
    }

    async def run(ttl: float, repeats: int) -> dict[str, dict[str, float]]:
        app = create_app(
            ConsoleConfig(
                route=route, store=store, auth=LocalTokenAuth(token), secret=b"b" * 32, clock=lambda: NOW, index_ttl=ttl
            )
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://127.0.0.1", cookies={SESSION_COOKIE: token}
        ) as client:
            for url in pages.values():  # builds the index and its lazy parts (warm runs), loads templates
                await client.get(url)
            out = {}
            for name, url in pages.items():
                xs = await _time(client, url, repeats)
                out[name] = {"p50_s": round(statistics.median(xs), 4), "p95_s": round(_p95(xs), 4)}
            return out

    warm = asyncio.run(run(3600.0, REPEATS))
    cold = asyncio.run(run(0.0, max(3, REPEATS // 6)))
    scans = []
    for _ in range(3):
        t0 = time.perf_counter()
        n = sum(1 for _ in store.query(Namespace.ALERTS))
        scans.append(time.perf_counter() - t0)
    store.close()
    return {"warm": warm, "cold": cold, "baseline_scan_s": round(min(scans), 4), "scanned": n}


def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.db"
        t0 = time.perf_counter()
        sizes = populate(path)
        print(f"populated {sizes} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        m = measure(path)
    worst = max(m["warm"].items(), key=lambda kv: kv[1]["p95_s"])
    value = worst[1]["p95_s"]
    baseline = m["baseline_scan_s"]
    return {
        "name": "console",
        "unit": "s (p95 server time of the slowest page, index warm)",
        "value": value,
        "baseline": baseline,
        "ratio": round(value / baseline, 3) if baseline else None,
        "goal": GOAL_S,
        "pass": value <= GOAL_S,
        "slowest_page": worst[0],
        "sizes": sizes,
        "measurements": {"warm": m["warm"], "cold_index": m["cold"]},
        "description": __doc__.split("\n\n")[0] if __doc__ else "",
    }
