"""Local delivery receipts close the window between a channel's 2xx and the notification log write.

Storage failing right after Teams accepted a card used to mean the redelivered message posted
the card again. With the instance's receipt journal (alerts.receipts) the redelivery records
the log entry and sends nothing; without it (the control case) the card goes out twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alerts.dispatch import deliver
from alerts.nflog import entry_key, read_entry
from alerts.outbox import QueueOutbox
from alerts.pipeline import process
from alerts.receipts import ReceiptJournal
from alerts.testing import MemoryStore, finding
from core.state.base import Namespace, StateUnavailableError
from tests.alerts.helpers import AlertsQueue, Reply, serve
from vigil.config import VigilConfig, parse_config

SUB = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg1/providers/Microsoft.Compute"


class BrokenNflog:
    """A store whose notification-log writes fail while ``broken`` (storage went away)."""

    def __init__(self, inner: MemoryStore) -> None:
        self.inner = inner
        self.broken = False

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name not in ("put", "delete"):
            return attr

        def call(namespace: Any, *args: Any, **kwargs: Any) -> Any:
            if self.broken and namespace == Namespace.NFLOG:
                raise StateUnavailableError("storage unreachable (test)")
            return attr(namespace, *args, **kwargs)

        return call


def _teams(url: str, **extra: Any) -> VigilConfig:
    return parse_config(
        {
            "route": {"receiver": "teams", "group_by": ["alertname"], "group_wait": "0s"},
            "receivers": [{"name": "teams", "msteamsv2_configs": [{"webhook_url": url, "max_retries": 0, **extra}]}],
        }
    )


def _message(cfg: VigilConfig, store: Any, now: datetime, n: int = 1) -> dict[str, Any]:
    q = AlertsQueue(cfg, store, at=now)
    fs = [finding(resource=f"{SUB}/virtualMachines/vm{i:03d}", observed_at=now) for i in range(n)]
    process(fs, config=cfg, store=store, outbox=q.outbox, now=now)
    (body,) = q.pending()  # what the alerts queue's trigger receives
    return QueueOutbox.resolve(store, body)


@pytest.mark.parametrize("with_receipts", [True, False])
def test_log_write_fails_after_the_channel_accepted(tmp_path: Path, with_receipts: bool) -> None:
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    with serve() as ep:
        cfg = _teams(ep.url)
        store = BrokenNflog(MemoryStore())
        message = _message(cfg, store, now)
        journal = ReceiptJournal(tmp_path / "receipts.sqlite") if with_receipts else None
        store.broken = True
        with pytest.raises(StateUnavailableError):  # the invocation fails: the platform redelivers it
            deliver(message, config=cfg, store=store, now=now, receipts=journal)
        assert len(ep.accepted()) == 1
        store.broken = False
        again = deliver(message, config=cfg, store=store, now=now, receipts=journal)
        assert again.ok
        integ = (again.sent or [again.skipped[0][0]])[0]
        if with_receipts:
            assert len(ep.accepted()) == 1, "the receipt must stop the repeat"
            assert again.sent == []
            assert "local receipt" in again.skipped[0][1]
            assert journal is not None
            assert journal.get(_pkey(message, integ)) is None, "forgotten once logged"
        else:
            assert len(ep.accepted()) == 2, "control: without receipts the card goes out again"
        entry = read_entry(store, entry_key(str(message["receiver"]), integ, str(message["group_hash"])))
        assert entry is not None
        assert message["key"] in entry.keys, "the notification log knows it was sent"
        assert deliver(message, config=cfg, store=store, now=now + timedelta(minutes=1), receipts=journal).sent == []


def _pkey(message: dict[str, Any], integration: str) -> str:
    return f"progress|{message['receiver']}|{integration}|{message['key']}"


def test_split_notification_resends_only_the_unsent_cards(tmp_path: Path) -> None:
    """Cards 1..k accepted, then a 500 and the progress write fails: the retry sends the rest only."""
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    with serve(lambda k, p, b: Reply(500, "boom") if k == 1 else Reply(202)) as ep:
        cfg = _teams(ep.url, max_cards=100)
        store = BrokenNflog(MemoryStore())
        message = _message(cfg, store, now, n=120)
        journal = ReceiptJournal(tmp_path / "receipts.sqlite")
        store.broken = True
        with pytest.raises(StateUnavailableError):
            deliver(message, config=cfg, store=store, now=now, receipts=journal)
        assert [r.reply.status for r in ep.received] == [202, 500]
        store.broken = False
        res = deliver(message, config=cfg, store=store, now=now, receipts=journal)
        assert res.ok, res.reason
        accepted = [r.body for r in ep.accepted()]
        assert len(accepted) == len(set(accepted)), "no card was posted twice"
        assert len(accepted) >= 2


def test_a_broken_journal_never_fails_a_delivery(tmp_path: Path) -> None:
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    (tmp_path / "receipts.sqlite").mkdir()  # a directory where the file should be: every call fails
    with serve() as ep:
        cfg = _teams(ep.url)
        store = MemoryStore()
        message = _message(cfg, store, now)
        res = deliver(message, config=cfg, store=store, now=now, receipts=ReceiptJournal(tmp_path / "receipts.sqlite"))
        assert res.ok
        assert len(ep.accepted()) == 1


def test_receipts_survive_the_process_and_are_pruned(tmp_path: Path) -> None:
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    path = tmp_path / "r.sqlite"
    first = ReceiptJournal(path)
    first.record("a", parts=["p2", "p1", "p1"], done=False, now=now)
    first.record("b", parts=[], done=True, now=now + timedelta(days=6))
    first.close()
    again = ReceiptJournal(path)  # a new process on the same instance
    assert again.get("a") == {"parts": ["p1", "p2"], "done": False}
    assert again.prune(now + timedelta(days=7, seconds=1)) == 1
    assert again.get("a") is None
    assert again.get("b") == {"parts": [], "done": True}
    again.forget("b")
    assert again.get("b") is None


def test_the_function_runtime_keeps_one_journal_per_state_store_and_prunes_it_when_opened() -> None:
    from vigil.runtime_azure import AzureRuntime

    conn = "UseDevelopmentStorage=true"
    a = AzureRuntime.from_env({"AzureWebJobsStorage": conn, "VIGIL_STATE": "table", "VIGIL_STATE_TABLE": "receiptsa"})
    b = AzureRuntime.from_env({"AzureWebJobsStorage": conn, "VIGIL_STATE": "table", "VIGIL_STATE_TABLE": "receiptsb"})
    try:
        path = a.receipts().path
        assert a.receipts() is a.receipts()
        assert b.receipts().path != path, "two state stores on one machine never share receipts"
        long_ago = datetime.now(UTC) - timedelta(days=30)
        a.receipts().record("stale", parts=[], done=True, now=long_ago)
        a.receipts().record("fresh", parts=[], done=True, now=datetime.now(UTC))
        a.close()
        reopened = a.receipts()  # a new instance start on the same machine
        assert reopened.get("stale") is None
        assert reopened.get("fresh") == {"parts": [], "done": True}
        reopened.forget("fresh")
    finally:
        a.close()
        b.close()
