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
    ("dispatch", "get:alerts"),  # dispatch reading the alerts it is about to send
]
AFTER_SEND = ("dispatch", "put:nflog")  # the webhook answered 2xx; the notification log write fails
# Known loss (see test_outage_between_verdict_and_alert_state below): the drift finding is made,
# then the alert-state write fails; "add:verdicts@last" (same cause, earlier) runs at scale >= 0.5.
KNOWN_LOSS = {"put:alerts@last": ("events", "put:alerts@last")}
if fault_scale() >= 0.5:
    KNOWN_LOSS["add:verdicts@last"] = ("events", "add:verdicts@last")
KNOWN_LOSS_REASON = (
    "known loss (issue 11 report): the event id is recorded and the verdict transition committed before the "
    "alert state is written; when storage fails in between, the redelivered event is dropped as a duplicate "
    "and the drift notification is never sent (vigil/drift_path.py handle_events, vigil/handlers.py)"
)


@pytest.fixture(scope="module")
def outage(_azurite_session: Any, tenant: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One undisturbed baseline run, then one run per cut point (each a real Azurite stop/start).

    Uses the session emulator (tests/conftest.py) directly: this fixture is module-scoped.
    """
    azurite = _azurite_session.start()
    cuts = [*PASSING, AFTER_SEND, *KNOWN_LOSS.values()]
    if fault_scale() >= 0.5:
        cuts += [("events", i / 20) for i in range(1, 16)] + [("dispatch", i / 8) for i in (1, 2, 3, 7, 8)]
    res = run_with_outage(azurite, tenant, tmp_path_factory.mktemp("outage-run"), cuts=cuts)
    res["by_where"] = {(c["phase"], c["where"]): c for c in res["cuts"]}
    return res


@pytest.mark.azurite
def test_outage_fails_the_invocation_and_the_retry_completes_everything(outage: dict[str, Any]) -> None:
    assert outage["baseline_delivered"] >= 1, "the simulated tenant must produce at least one notification"
    checked = [c for c in outage["cuts"] if (c["phase"], c["where"]) not in {AFTER_SEND, *KNOWN_LOSS.values()}]
    assert len(checked) >= len(PASSING)
    for cut in checked:
        _check(cut)


@pytest.mark.azurite
def test_outage_after_the_channel_accepted_repeats_at_most_once(outage: dict[str, Any]) -> None:
    """Storage dies after the webhook answered 2xx, before the notification log was written:
    the redelivered invocation sends it again (at-least-once; same X-Vigil-Key), nothing is lost."""
    _check(outage["by_where"][AFTER_SEND], max_duplicates=1)


@pytest.mark.azurite
@pytest.mark.parametrize("where", sorted(KNOWN_LOSS))
def test_outage_between_verdict_and_alert_state(outage: dict[str, Any], where: str) -> None:
    """Everything but the known loss must hold; the loss itself is reported as xfail until fixed."""
    cut = outage["by_where"][KNOWN_LOSS[where]]
    assert cut["failed_invocations"] >= 1
    assert cut["silent_successes_during_outage"] == 0
    assert cut["extra"] == []
    assert cut["duplicate_deliveries"] == 0
    if cut["lost"]:
        pytest.xfail(f"{KNOWN_LOSS_REASON}; lost {cut['missing']} at store call {cut['cut']} ({cut['call']})")


@pytest.mark.azurite
def test_outage_during_cost_ingestion_gives_the_same_totals(azurite: Any, tenant: Path, tmp_path: Path) -> None:
    """cost_manifest -> ingest_part through the Functions; storage stopped mid-run; the retries
    give the baseline's rows and total, and detection is enqueued exactly once."""
    from bench.faults.outage import ingest_with_outage

    cuts: list[float | str] = [0.6] if fault_scale() < 0.5 else [i / 8 for i in range(1, 9)]
    res = ingest_with_outage(azurite, tenant, tmp_path, cuts=cuts)
    base = res["baseline"]
    assert base["rows"] > 0
    assert base["detect_messages"] == 1
    for cut in res["cuts"]:
        where = f"ingest cut at store call {cut['cut']} ({cut['call']})"
        assert cut["failed_invocations"] >= 1, where
        assert cut["silent_successes_during_outage"] == 0, where
        assert (cut["rows"], cut["total"]) == (base["rows"], base["total"]), where
        assert cut["detect_messages"] == 1, where
