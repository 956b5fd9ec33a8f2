"""Storage outage: Azurite stopped in the middle of an invocation, then restarted.

The Function App's entry points run over AzureRuntime on the session Azurite; at a chosen
state-store call the emulator process is stopped. The invocation must raise (so the
platform retries it); after the restart, redelivering it and finishing the run must give
exactly the notifications of an undisturbed run, each once. ``VIGIL_FAULT_SCALE`` >= 0.5
adds a sweep over the whole run (``make bench`` sweeps every call, in bench/faults).

Cut points are named by the store call they hit ("put:alerts" = the first put into
Namespace.ALERTS, "@last" = the last such call) or by a fraction of the phase's calls.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.faults.harness import fault_scale
from bench.faults.outage import run_with_outage


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vigil.simulate import simulate

    root = tmp_path_factory.mktemp("outage") / "t"
    simulate(root)
    return root


def _check(cut: dict[str, Any], *, max_duplicates: int = 0) -> None:
    where = f"{cut['phase']} cut at store call {cut['cut']} of {cut['of_calls']} ({cut['call']})"
    assert cut["failed_invocations"] >= 1, f"{where}: storage died but no invocation failed"
    assert cut["silent_successes_during_outage"] == 0, f"{where}: an invocation succeeded without storage"
    assert any("StateUnavailableError" in r for r in cut["raised"]), cut["raised"]
    assert cut["lost"] == 0, f"{where}: lost {cut['missing']}"
    assert cut["extra"] == [], f"{where}: unexpected {cut['extra']}"
    assert cut["duplicate_deliveries"] <= max_duplicates, where


PASSING: list[tuple[str, float | str]] = [
    ("events", "put:outbox"),  # after the queue message was sent, before its mirror was written
    ("events", "put_many:alerts@last"),  # drift verdict made, alert-state write fails (was a loss before the fix)
    ("dispatch", "get_many:alerts"),  # dispatch reading the alerts it is about to send
    ("dispatch", "put:nflog"),  # the webhook answered 2xx; the notification-log write fails
]
if fault_scale() >= 0.5:
    PASSING.append(("events", "add:verdicts@last"))


@pytest.fixture(scope="module")
def outage(_azurite_session: Any, tenant: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One undisturbed baseline run, then one run per cut point (each a real Azurite stop/start).

    Uses the session emulator (tests/conftest.py) directly: this fixture is module-scoped.
    """
    azurite = _azurite_session.start()
    cuts = list(PASSING)
    if fault_scale() >= 0.5:
        cuts += [("events", i / 20) for i in range(1, 16)] + [("dispatch", i / 8) for i in (1, 2, 3, 7, 8)]
    res = run_with_outage(azurite, tenant, tmp_path_factory.mktemp("outage-run"), cuts=cuts)
    res["by_where"] = {(c["phase"], c["where"]): c for c in res["cuts"]}
    return res


@pytest.mark.azurite
def test_outage_fails_the_invocation_and_the_retry_completes_everything(outage: dict[str, Any]) -> None:
    """Every cut: the invocation fails, the retry completes, nothing lost, nothing extra, nothing twice."""
    assert outage["baseline_delivered"] >= 1, "the simulated tenant must produce at least one notification"
    assert len(outage["cuts"]) >= len(PASSING)
    for cut in outage["cuts"]:
        _check(cut)


@pytest.mark.azurite
def test_outage_after_the_channel_accepted_sends_nothing_twice(outage: dict[str, Any]) -> None:
    """Storage dies after the webhook answered 2xx, before the notification log was written. The
    instance's local receipt (alerts.receipts) turns the redelivery into a log write, not a resend."""
    cut = outage["by_where"][("dispatch", "put:nflog")]
    _check(cut, max_duplicates=0)
    assert cut["delivered"] == outage["baseline_delivered"]


@pytest.mark.azurite
def test_outage_during_cost_ingestion_gives_the_same_totals(azurite: Any, tenant: Path, tmp_path: Path) -> None:
    """cost_manifest -> ingest_part (a three-part export) through the Functions; storage stopped
    mid-run. Between the failure and the retry a reader sees nothing of the run or all of it, never
    some parts; the retries give the baseline's rows and total; detection is enqueued exactly once."""
    from bench.faults.outage import ingest_with_outage

    cuts: list[float | str] = [0.45, 0.75] if fault_scale() < 0.5 else [i / 8 for i in range(1, 9)]
    res = ingest_with_outage(azurite, tenant, tmp_path, cuts=cuts)
    base = res["baseline"]
    assert base["rows"] > 0
    assert base["detect_messages"] == 1
    whole = [base["rows"], base["total"]]
    for cut in res["cuts"]:
        where = f"ingest cut at store call {cut['cut']} ({cut['call']})"
        assert cut["failed_invocations"] >= 1, where
        assert cut["silent_successes_during_outage"] == 0, where
        assert cut["seen_between_failure_and_retry"], where
        for seen in cut["seen_between_failure_and_retry"]:
            assert seen in ([0, "0"], whole), f"{where}: a reader saw part of the run: {seen} (whole: {whole})"
        assert (cut["rows"], cut["total"]) == (base["rows"], base["total"]), where
        assert cut["detect_messages"] == 1, where
