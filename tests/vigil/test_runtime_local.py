"""LocalRuntime: the CLI's runtime (folder blobs, durable queues in the SQLite state store)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.runtime import LocalBlobStore
from core.state import open_store
from core.state.base import StateStore
from vigil.config import VigilConfig
from vigil.runtime_local import MAX_DEQUEUE_COUNT, LocalRuntime


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 27, 4, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    s = open_store("sqlite", path=tmp_path / "state.db")
    yield s
    s.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rt(store: StateStore, tmp_path: Path, clock: Clock) -> LocalRuntime:
    return LocalRuntime(VigilConfig(), store, tmp_path / "blobs", settings={"INGEST_QUEUE": "ingest"}, clock=clock)


def test_blob_store_round_trip(rt: LocalRuntime, tmp_path: Path) -> None:
    blobs = rt.blobs("cost-exports")
    assert list(blobs.list()) == []
    blobs.write("exp/run1/manifest.json", b"{}")
    blobs.write("exp/run1/part0.csv", b"a")
    blobs.write("exp/run10/part0.csv", b"b")
    blobs.write("exp/run1/part0.csv", b"c")
    assert blobs.read("exp/run1/part0.csv") == b"c"
    assert (tmp_path / "blobs" / "cost-exports" / "exp" / "run1" / "part0.csv").read_bytes() == b"c"
    # a plain string prefix, as in Azure: "exp/run1" also matches "exp/run10"
    assert list(blobs.list("exp/run1")) == ["exp/run1/manifest.json", "exp/run1/part0.csv", "exp/run10/part0.csv"]
    assert list(blobs.list("exp/run1/")) == ["exp/run1/manifest.json", "exp/run1/part0.csv"]
    blobs.delete("exp/run10/part0.csv")
    blobs.delete("exp/run10/part0.csv")
    assert not blobs.exists("exp/run10/part0.csv")
    with pytest.raises(FileNotFoundError, match=r"exp/run10/part0\.csv"):
        blobs.read("exp/run10/part0.csv")


@pytest.mark.parametrize("bad", ["../escape", "/abs/path", "a/../../b", "", "a\\b"])
def test_blob_paths_cannot_escape_the_container(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="invalid blob path"):
        LocalBlobStore(tmp_path).write(bad, b"x")


def test_invalid_container_name(rt: LocalRuntime) -> None:
    with pytest.raises(ValueError, match="container"):
        rt.blobs("../x")


def test_settings_and_config(rt: LocalRuntime) -> None:
    assert rt.setting("INGEST_QUEUE") == "ingest"
    assert rt.setting("ALERTS_QUEUE") == "vigil-alerts"  # the settings model's default
    assert rt.setting("NOT_A_SETTING", "x") == "x"
    assert rt.setting("NOT_A_SETTING") is None
    assert rt.config.route.receiver == "default"


def test_enqueue_and_drain_in_order(rt: LocalRuntime) -> None:
    for i in range(5):
        rt.enqueue("ingest", {"part": i})
    rt.enqueue("other", {"x": 1})
    seen: list[int] = []

    def handler(m: dict[str, Any]) -> int:
        seen.append(m["part"])
        return int(m["part"]) * 10

    result = rt.drain("ingest", handler)
    assert seen == [0, 1, 2, 3, 4]
    assert (result.processed, result.failed, result.results) == (5, 0, [0, 10, 20, 30, 40])
    assert rt.pending("ingest") == []
    assert rt.pending("other") == [{"x": 1}]


def test_messages_are_json_round_tripped(rt: LocalRuntime) -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    rt.enqueue("q", {"when": when, "t": (1, 2)})
    assert rt.pending("q") == [{"when": str(when), "t": [1, 2]}]


def test_visibility_timeout(rt: LocalRuntime, clock: Clock) -> None:
    rt.enqueue("q", {"n": 1}, visibility_timeout=60)
    assert rt.drain("q", lambda m: m).processed == 0
    clock.now += timedelta(seconds=61)
    assert rt.drain("q", lambda m: m).processed == 1


def test_queue_survives_reopening_the_store(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    first = open_store("sqlite", path=path)
    LocalRuntime(VigilConfig(), first, tmp_path).enqueue("q", {"n": 1})
    first.close()
    second = open_store("sqlite", path=path)
    try:
        got: list[dict[str, Any]] = []
        LocalRuntime(VigilConfig(), second, tmp_path).drain("q", got.append)
        assert got == [{"n": 1}]
    finally:
        second.close()


def test_failing_message_is_retried_then_poisoned(rt: LocalRuntime) -> None:
    rt.enqueue("q", {"bad": True})
    rt.enqueue("q", {"bad": False})

    def handler(m: dict[str, Any]) -> str:
        if m["bad"]:
            raise RuntimeError("cannot process")
        return "ok"

    first = rt.drain("q", handler)
    assert (first.processed, first.failed, first.poisoned) == (1, 1, 0)
    assert rt.pending("q") == [{"bad": True}]  # still there, for the next attempt
    for _ in range(MAX_DEQUEUE_COUNT - 1):
        rt.drain("q", handler)
    assert rt.pending("q") == []
    assert rt.pending("q-poison") == [{"bad": True}]


def test_drain_all_follows_fan_out(rt: LocalRuntime) -> None:
    """manifest -> parts on the ingest queue -> the last part enqueues detection."""
    rt.enqueue("ingest", {"parts": 3})
    done: list[int] = []

    def ingest(m: dict[str, Any]) -> None:
        if "parts" in m:
            for i in range(m["parts"]):
                rt.enqueue("ingest", {"part": i})
            return
        done.append(m["part"])
        if len(done) == 3:
            rt.enqueue("detect", {"run": "r1"})

    detected: list[dict[str, Any]] = []
    totals = rt.drain_all({"ingest": ingest, "detect": detected.append})
    assert totals["ingest"].processed == 4
    assert detected == [{"run": "r1"}]
    assert rt.pending("ingest") == rt.pending("detect") == []


def test_queues_do_not_mix_with_the_alerts_outbox(rt: LocalRuntime, store: StateStore) -> None:
    from core.state.base import Namespace

    rt.enqueue("vigil-alerts", {"n": 1})
    assert list(store.query(Namespace.OUTBOX)) == []


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vigil.simulate import simulate

    root = tmp_path_factory.mktemp("tenant") / "t"
    simulate(root)
    return root


def test_run_pending_runs_the_function_handlers_locally(store: StateStore, tmp_path: Path, tenant: Path) -> None:
    """BlobCreated -> ingest parts -> detect, through the same handlers and queue names as Azure."""
    from vigil import handlers

    rt = LocalRuntime(VigilConfig(), store, tmp_path / "blobs")

    exports = rt.blobs("cost-exports")
    root = tenant / "exports"
    manifest = sorted(root.rglob("manifest.json"))[0]
    for file in manifest.parent.iterdir():
        exports.write(file.relative_to(root).as_posix(), file.read_bytes())
    path = manifest.relative_to(root).as_posix()
    event = {
        "id": "e1",
        "eventType": "Microsoft.Storage.BlobCreated",
        "subject": f"/blobServices/default/containers/cost-exports/blobs/{path}",
        "data": {},
    }
    planned = handlers.handle_blob_created([event], rt)
    assert planned["parts_enqueued"] == len(rt.pending("vigil-ingest")) >= 1
    assert handlers.handle_blob_created([event], rt)["parts_enqueued"] == 0  # redelivery

    totals = rt.run_pending(deliver=False)
    assert totals["vigil-ingest"].processed == planned["parts_enqueued"]
    assert totals["vigil-ingest"].failed == 0
    assert totals["vigil-detect"].processed == 1
    assert totals["vigil-detect"].failed == 0
    assert list(rt.blobs("costs").list())
    assert rt.pending("vigil-ingest") == []
