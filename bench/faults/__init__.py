"""bench/faults: the issue-11 fault-injection scenarios at full size.

``make test`` runs the same scenarios scaled down by ``VIGIL_FAULT_SCALE`` (tests/faults);
here they run at the issue's size (scaled only by ``VIGIL_BENCH_SCALE``, default 1):

* ``faults.storm``: 10,000 resource events, 30 % duplicates, shuffled, in random Event Grid
  batches, through the drift path, alerts pipeline, outbox and webhook channel to a real
  local HTTP server (bench/faults/storm.py);
* ``faults.channels``: 200 notifications, each first meeting HTTP 429 (header / body form),
  500, 503 or a timeout, then connection refused, then recovery; plus HTTP 413
  (bench/faults/channels.py);
* ``faults.kill_ingest``: ``kill -9`` of cost ingestion of a 200,000-row EA export, 3 times,
  then reruns (bench/faults/kill.py);
* ``faults.kill_dispatch``: ``kill -9`` of the dispatcher with a request in flight, and just
  after the endpoint answered (bench/faults/kill.py);
* ``faults.storage_outage``: Azurite (a private instance) stopped at a sweep of state-store
  calls of the Function invocations, then restarted (bench/faults/outage.py).

Each entry: ``value`` = notifications (or cost rows) lost or duplicated, ``baseline`` = the
number expected in the same run, ``ratio`` = value / baseline, ``goal`` = 0, ``pass`` =
nothing lost or duplicated. One case is reported, not counted: a kill -9 *after* the endpoint's
2xx and before Vigil could record it (``at_least_once_repeats``): no sender can know the outcome
there, so the notification goes out once more, byte-identical with the same ``Idempotency-Key``.
A storage outage at the same point does count: the local receipt journal must prevent the repeat.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _scale() -> float:
    raw = os.environ.get("VIGIL_BENCH_SCALE", "").strip()
    scale = float(raw) if raw else 1.0
    if not 0 < scale <= 1:
        raise ValueError(f"VIGIL_BENCH_SCALE must be in (0, 1], got {raw!r}")
    return scale


def _entry(name: str, value: int, baseline: int, ok: bool, t0: float, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "value": value,
        "unit": "lost or duplicated",
        "baseline": baseline,
        "ratio": round(value / baseline, 6) if baseline else None,
        "goal": 0,
        "pass": bool(ok) and value == 0,
        "elapsed_s": round(time.perf_counter() - t0, 3),
        **extra,
    }


def _log(msg: str) -> None:
    print(f"bench/faults: {msg}", file=sys.stderr, flush=True)


def storm(scale: float) -> dict[str, Any]:
    from bench.faults.storm import event_storm

    t0 = time.perf_counter()
    n = max(200, round(10_000 * scale))
    _log(f"event storm: {n} events")
    r = event_storm(n)
    return _entry(
        "faults.storm",
        r.lost + r.duplicate_notifications + r.unexpected,
        r.transitions_expected,
        r.ok,
        t0,
        figures=r.to_dict(),
        events_per_s=round(r.events / max(time.perf_counter() - t0, 1e-9), 1),
    )


def channels(scale: float) -> dict[str, Any]:
    from bench.faults.channels import channel_faults

    t0 = time.perf_counter()
    n = max(10, round(200 * scale))
    _log(f"channel faults: {n} notifications")
    r = channel_faults(n)
    return _entry("faults.channels", r.lost + r.duplicate_deliveries, n, r.ok, t0, figures=r.to_dict())


def kill_ingest(scale: float, work: Path) -> dict[str, Any]:
    from bench.faults.kill import kill_ingest as run

    t0 = time.perf_counter()
    rows = max(10_000, round(200_000 * scale))
    _log(f"kill -9 during ingest: {rows} rows")
    r = run(rows, kills=3, workdir=work)
    return _entry("faults.kill_ingest", r["lost_rows"] + r["double_counted_rows"], rows, r["ok"], t0, figures=r)


def kill_dispatch(scale: float, work: Path) -> dict[str, Any]:
    from bench.faults.kill import kill_dispatch as run

    t0 = time.perf_counter()
    n = max(10, round(200 * scale))
    _log(f"kill -9 during dispatch: {n} notifications")
    (work / "inflight").mkdir()
    (work / "after").mkdir()
    inflight = run(n, workdir=work / "inflight")
    after = run(n, workdir=work / "after", after_answer=True)
    value = inflight["lost"] + inflight["duplicate_deliveries"] + after["lost"]
    ok = inflight["ok"] and after["ok"] and after["repeats_identical"]
    return _entry(
        "faults.kill_dispatch",
        value,
        2 * n,
        ok,
        t0,
        figures={"in_flight": inflight, "after_2xx": after},
        at_least_once_repeats=after["duplicate_deliveries"],
    )


def storage_outage(scale: float, work: Path) -> dict[str, Any]:
    from bench.faults.outage import run_with_outage
    from tests.support.azurite import Azurite
    from vigil.simulate import simulate

    t0 = time.perf_counter()
    simulate(work / "tenant")
    step = max(1, round(3 / scale))
    with Azurite(work / "azurite") as azurite:
        # measure the store calls of each phase, then cut at every step-th call of each
        from bench.faults.harness import Receiver
        from bench.faults.outage import OutageRun

        with Receiver() as receiver:
            probe = OutageRun(azurite, work / "tenant", work, receiver, "probe")
            probe.run()
        n_events, n_dispatch = probe.phase_calls["events"], probe.phase_calls["dispatch"]
        cuts: list[tuple[str, float | str]] = [("events", i / n_events) for i in range(1, n_events + 1, step)]
        cuts += [("dispatch", i / n_dispatch) for i in range(1, n_dispatch + 1)]
        cuts += [("events", "put_many:alerts@last"), ("events", "add:verdicts@last")]
        _log(f"storage outage: {len(cuts)} cut points (Azurite stopped and restarted each time)")
        res = run_with_outage(azurite, work / "tenant", work, cuts=cuts)
        from bench.faults.outage import ingest_with_outage

        ingest = ingest_with_outage(azurite, work / "tenant", work, cuts=[i / 8 for i in range(1, 9)])
    base = ingest["baseline"]
    whole = [base["rows"], base["total"]]
    ingest_bad = [
        f"ingest@{c['cut']} ({c['call']})"
        for c in ingest["cuts"]
        if (c["rows"], c["total"], c["detect_messages"]) != (base["rows"], base["total"], 1)
        or any(seen not in ([0, "0"], whole) for seen in c["seen_between_failure_and_retry"])
    ]
    lost = sum(c["lost"] for c in res["cuts"])
    dups = sum(c["duplicate_deliveries"] for c in res["cuts"])
    silent = sum(c["silent_successes_during_outage"] for c in res["cuts"])
    expected = res["baseline_delivered"] * len(res["cuts"])
    return _entry(
        "faults.storage_outage",
        lost + dups,
        expected,
        silent == 0 and all(c["failed_invocations"] >= 1 for c in res["cuts"]) and not ingest_bad,
        t0,
        ingest_cuts=len(ingest["cuts"]),
        ingest_cuts_with_wrong_totals_or_partial_views=ingest_bad,
        ingest_views_between_failure_and_retry=sum(len(c["seen_between_failure_and_retry"]) for c in ingest["cuts"]),
        ingest_baseline={"rows": base["rows"], "total": base["total"]},
        cuts=len(res["cuts"]),
        cuts_losing=[f"{c['phase']}@{c['cut']} ({c['call']})" for c in res["cuts"] if c["lost"]],
        duplicate_deliveries=dups,
        cuts_repeating=[f"{c['phase']}@{c['cut']} ({c['call']})" for c in res["cuts"] if c["duplicate_deliveries"]],
        silent_successes_during_outage=silent,
    )


def main() -> list[dict[str, Any]]:
    scale = _scale()
    out = [storm(scale), channels(scale)]
    with tempfile.TemporaryDirectory(prefix="vigil-faults-") as tmp:
        root = Path(tmp)
        for name, fn in (("ingest", kill_ingest), ("dispatch", kill_dispatch), ("outage", storage_outage)):
            work = root / name
            work.mkdir()
            out.append(fn(scale, work))
    return out
