"""Process kill (SIGKILL) during cost ingestion and during notification dispatch.

Sizes follow ``VIGIL_FAULT_SCALE`` (default 0.05); ``make bench`` runs them full size.
"""

from __future__ import annotations

from pathlib import Path

from bench.faults.harness import fault_scale, scaled
from bench.faults.kill import kill_dispatch, kill_ingest


def test_kill_during_ingest_then_rerun_gives_the_same_totals(tmp_path: Path) -> None:
    res = kill_ingest(scaled(200_000, fault_scale(), minimum=10_000), kills=1, workdir=tmp_path)
    assert res["clean"] == {"rows": res["rows"], "total": res["expected_total"]}
    assert all(k["returncode"] in (-9, 0) for k in res["kills"]), res["kills"]
    assert res["after_rerun"] == {"rows": res["rows"], "total": res["expected_total"]}, res
    assert res["after_second_rerun"] == res["after_rerun"], "a further rerun must not count anything twice"
    assert res["lost_rows"] == 0
    assert res["double_counted_rows"] == 0


def test_kill_during_dispatch_in_flight_no_loss_no_duplicate(tmp_path: Path) -> None:
    n = scaled(200, fault_scale(), minimum=10)
    res = kill_dispatch(n, workdir=tmp_path)
    assert res["killed_at_request"] == n // 2, res
    assert res["first_run_returncode"] == -9, "the dispatcher was really killed"
    assert res["requests_before_kill"] < n + 1, "the kill landed mid-run"
    assert res["rerun"]["failed"] == 0, res["rerun"]
    assert res["delivered"] == n, res
    assert res["lost"] == 0
    assert res["duplicate_deliveries"] == 0, res
    assert res["not_sent_in_outbox"] == 0


def test_kill_right_after_the_endpoint_answered_repeats_with_the_same_key(tmp_path: Path) -> None:
    """The at-least-once window: killed after the 2xx left but before Vigil recorded it.

    The rerun sends that one notification again (nothing is lost); the repeat is byte-identical
    and carries the same X-Vigil-Key, so an idempotent receiver drops it.
    """
    n = scaled(200, fault_scale(), minimum=10)
    res = kill_dispatch(n, workdir=tmp_path, after_answer=True)
    assert res["first_run_returncode"] == -9
    assert res["delivered"] == n, res
    assert res["lost"] == 0
    assert res["duplicate_deliveries"] <= 1, res
    assert res["repeats_identical"], res
