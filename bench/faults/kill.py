"""Process kill: ``kill -9`` during cost ingestion and during notification dispatch.

Ingest: a child process runs :func:`ingest.cost.ingest_paths` over a generated EA export
(``bench.ingest.generate``: the exact total is known) and is killed with SIGKILL after a
delay measured from the moment it starts ingesting. A rerun (same input, same output
folder) must give exactly the known row count and total: nothing lost, nothing counted twice.

Dispatch: notifications wait on the alerts queue (the production path: written by
``alerts.outbox.QueueOutbox``, kept by the CLI's ``LocalRuntime`` in a SQLite state store); a
child process drains it with the queue trigger ``vigil.handlers.dispatch_alert`` and the real
webhook channel to a real local HTTP server, which SIGKILLs the child while one request is in
flight (before answering). A message is deleted only after its handler returned, so the killed
one is still queued: a rerun must deliver every notification, none of them twice. A second
variant kills the child just *after* the server answered 2xx, before Vigil could record it: the
one repeat that at-least-once delivery then makes must carry the same ``X-Vigil-Key`` (the receiver's idempotency key).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.faults.harness import Answer, Receiver, Request

__all__ = ["drain_alerts", "kill_dispatch", "kill_ingest"]

REPO = Path(__file__).resolve().parents[2]

_INGEST_CHILD = """
import sys
from pathlib import Path
from ingest.cost import ingest_paths
import ingest.cost.pipeline, ingest.cost.engine, ingest.cost.normalize, pyarrow.parquet, pandas  # heavy imports first
print("ingesting", flush=True)
s = ingest_paths([Path(sys.argv[1])], Path(sys.argv[2]))
print("done", s.rows, flush=True)
"""

_DISPATCH_CHILD = """
import sys
from datetime import datetime
from pathlib import Path
from bench.faults.kill import drain_alerts
print("draining", flush=True)
print("done", drain_alerts(Path(sys.argv[1]), datetime.fromisoformat(sys.argv[2])), flush=True)
"""
ALERTS_QUEUE = "vigil-alerts"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _child(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=REPO,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _ingest_totals(out_dir: Path) -> tuple[int, str]:
    from decimal import Decimal

    from ingest.cost import load_costs

    df = load_costs(out_dir)
    total = sum((Decimal(str(v)) for v in df["BilledCost"]), Decimal(0))
    return len(df), f"{total:.6f}"


def kill_ingest(rows: int = 200_000, *, kills: int = 3, workdir: Path) -> dict[str, Any]:
    """Kill the ingest child ``kills`` times at increasing delays, then rerun to completion."""
    from bench.ingest.generate import write_ea_export

    src = workdir / "export.csv"
    expected_total = write_ea_export(src, rows)
    out = workdir / "store"
    attempts = []
    from ingest.cost import ingest_paths

    t0 = time.perf_counter()
    # a clean run (in this process) into another folder gives the time ingestion takes
    t_start = time.perf_counter()
    ingest_paths([src], workdir / "clean")
    duration = time.perf_counter() - t_start
    clean_rows, clean_total = _ingest_totals(workdir / "clean")
    for i in range(kills):
        child = _child(_INGEST_CHILD, str(src), str(out))
        assert child.stdout is not None
        child.stdout.readline()  # "ingesting": imports done, ingest under way
        delay = duration * (i + 1) / (kills + 1)
        time.sleep(delay)
        landed = child.poll() is None
        if landed:
            os.kill(child.pid, signal.SIGKILL)
        child.wait()
        attempts.append({"delay_s": round(delay, 3), "killed_mid_run": landed, "returncode": child.returncode})
    ingest_paths([src], out)  # the rerun
    after_rows, after_total = _ingest_totals(out)
    ingest_paths([src], out)  # a further rerun must change nothing
    again_rows, again_total = _ingest_totals(out)
    want = f"{expected_total:.6f}"
    return {
        "rows": rows,
        "expected_total": want,
        "clean_run_s": round(duration, 3),
        "clean": {"rows": clean_rows, "total": clean_total},
        "kills": attempts,
        "kills_landed": sum(1 for a in attempts if a["killed_mid_run"]),
        "after_rerun": {"rows": after_rows, "total": after_total},
        "after_second_rerun": {"rows": again_rows, "total": again_total},
        "lost_rows": rows - after_rows if after_rows < rows else 0,
        "double_counted_rows": after_rows - rows if after_rows > rows else 0,
        "ok": clean_rows == rows
        and clean_total == want
        and (after_rows, after_total) == (rows, want)
        and (again_rows, again_total) == (rows, want),
        "elapsed_s": round(time.perf_counter() - t0, 3),
    }


def _prepare_outbox(db: Path, n: int, now: datetime) -> None:
    from alerts.outbox import QueueOutbox
    from alerts.pipeline import process
    from alerts.testing import finding
    from core.state import open_store
    from vigil.config import load_config
    from vigil.runtime_local import LocalRuntime

    store = open_store("sqlite", path=db)
    try:
        cfg = load_config(db.with_suffix(".yaml"))
        outbox = QueueOutbox(LocalRuntime(cfg, store, db.parent / "blobs", clock=lambda: now), store, ALERTS_QUEUE)
        findings = [
            finding(
                rule="vm-idle",
                resource="/subscriptions/00000000-0000-0000-0000-0000000000cc/resourceGroups/rg/providers/"
                f"Microsoft.Compute/virtualMachines/k{i:05d}",
                observed_at=now,
            )
            for i in range(n)
        ]
        res = process(findings, config=cfg, store=store, outbox=outbox, now=now)
        if len(res.enqueued) != n:
            raise RuntimeError(f"expected {n} notifications queued, got {len(res.enqueued)}")
    finally:
        store.close()


def kill_dispatch(notifications: int = 200, *, workdir: Path, after_answer: bool = False) -> dict[str, Any]:
    """Kill the dispatching child at the middle notification (in flight, or just after 2xx)."""
    db = workdir / ("after.db" if after_answer else "inflight.db")
    now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    kill_at = notifications // 2
    killed: list[int] = []
    child: list[subprocess.Popen[str]] = []

    def script(n: int, req: Request) -> Answer:
        return Answer(202, delay=0.01)

    with Receiver(script) as receiver:
        db.with_suffix(".yaml").write_text(
            json.dumps(
                {
                    "route": {"receiver": "hook", "group_by": ["..."], "group_wait": "0s", "repeat_interval": "1000h"},
                    "receivers": [{"name": "hook", "webhook_configs": [{"url": receiver.url, "max_retries": 0}]}],
                }
            ),
            encoding="utf-8",
        )
        _prepare_outbox(db, notifications, now)

        def kill(n: int, req: Request) -> None:
            if n == kill_at and child and not killed:
                os.kill(child[0].pid, signal.SIGKILL)
                killed.append(n)
                if not after_answer:
                    # in flight: this request is never answered (the sender died before any reply could
                    # reach it); without this the server could still write a 2xx into the dead socket
                    req.answer = Answer(drop=True)

        if after_answer:
            receiver.after_answer = kill  # the 2xx left; Vigil has not recorded it yet
        else:
            receiver.on_request = kill  # in flight: the client never sees an answer
        first = _child(_DISPATCH_CHILD, str(db), now.isoformat())
        child.append(first)
        first.wait(timeout=300)
        before = len(receiver.requests)
        # the platform's retry (here in this process): the killed invocation's message is still queued
        later = now + timedelta(minutes=5)
        rerun = drain_alerts(db, later)
        counts: Counter[str] = receiver.deliveries_by_key()
        bodies: dict[str, list[bytes]] = {}
        for r in receiver.delivered():
            bodies.setdefault(r.key, []).append(r.body)
    from alerts.outbox import entries as outbox_entries
    from core.state import open_store

    store = open_store("sqlite", path=db)
    try:
        entries = outbox_entries(store)
    finally:
        store.close()
    duplicates = sum(c - 1 for c in counts.values() if c > 1)
    return {
        "notifications": notifications,
        "killed_at_request": killed[0] if killed else None,
        "first_run_returncode": first.returncode,
        "requests_before_kill": before,
        "rerun": rerun,
        "delivered": len(counts),
        "duplicate_deliveries": duplicates,
        "repeats_identical": all(len(set(bodies[k])) == 1 for k, c in counts.items() if c > 1),
        "lost": notifications - len(counts),
        "not_sent_in_outbox": sum(1 for e in entries if e.state != "sent"),
        "ok": bool(killed) and len(counts) == notifications and (after_answer or duplicates == 0),
    }


def drain_alerts(db: Path, at: datetime) -> dict[str, int]:
    """Drain the alerts queue kept in ``db`` through ``vigil.handlers.dispatch_alert`` at ``at``."""
    from core.state import open_store
    from vigil.config import load_config
    from vigil.handlers import dispatch_alert
    from vigil.runtime_local import LocalRuntime

    store = open_store("sqlite", path=db)
    try:
        rt = LocalRuntime(load_config(db.with_suffix(".yaml")), store, db.parent / "blobs", clock=lambda: at)
        res = rt.drain(ALERTS_QUEUE, lambda message: dispatch_alert(message, rt))
        return {"delivered": res.processed, "retried": res.failed - res.poisoned, "failed": res.poisoned}
    finally:
        store.close()
