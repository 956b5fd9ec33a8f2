"""Storage outage: Azurite stopped in the middle of an invocation, then restarted.

The Function App's entry points run over AzureRuntime on the session Azurite; at a chosen
state-store call the emulator process is stopped. The invocation must raise (so the
platform retries it); after the restart, redelivering it and finishing the run must give
exactly the notifications of an undisturbed run, each once. ``VIGIL_FAULT_SCALE`` sets how
many cut points are tried (``make bench`` tries them all, in bench/faults).
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


def _cuts() -> list[tuple[str, float]]:
    # default: one cut in the event path (where the drift finding is made) and one in dispatch
    events = [0.55] if fault_scale() < 0.5 else [i / 20 for i in range(1, 20)]
    dispatch = [0.5] if fault_scale() < 0.5 else [i / 8 for i in range(1, 9)]
    return [("events", f) for f in events] + [("dispatch", f) for f in dispatch]


@pytest.mark.azurite
def test_outage_fails_the_invocation_and_the_retry_completes_everything(
    azurite: Any, tenant: Path, tmp_path: Path
) -> None:
    res = run_with_outage(azurite, tenant, tmp_path, cuts=_cuts())
    assert res["baseline_delivered"] >= 1, "the simulated tenant must produce at least one notification"
    for cut in res["cuts"]:
        where = f"{cut['phase']} cut at store call {cut['cut']} of {cut['of_calls']}"
        assert cut["failed_invocations"] >= 1, f"{where}: storage died but no invocation failed"
        assert cut["silent_successes_during_outage"] == 0, f"{where}: an invocation succeeded without storage"
        assert any("StateUnavailableError" in r or "Error" in r for r in cut["raised"]), cut["raised"]
        assert cut["lost"] == 0, f"{where}: lost {cut['missing']}"
        assert cut["extra"] == [], f"{where}: unexpected {cut['extra']}"
        assert cut["duplicate_deliveries"] == 0, where
