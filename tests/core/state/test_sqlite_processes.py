"""SQLite: several OS processes writing one database at once (WAL + busy timeout)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from core.state.base import Namespace
from core.state.sqlite import SQLiteStore

WORKER = """
import sys
from core.state.sqlite import SQLiteStore
from core.state.typed import update
store = SQLiteStore(sys.argv[1])
me = sys.argv[2]
for i in range(int(sys.argv[3])):
    update(store, "ns", "counter", lambda v: {"n": (v or {"n": 0})["n"] + 1}, attempts=1000)
    store.append("audit", {"by": me, "i": i}, key=f"{me}-{i}")
    store.append("audit", {"by": me, "i": i, "retry": True}, key=f"{me}-{i}")
    store.add("events", f"evt-{i}", {"by": me})
store.close()
"""


def test_processes_share_one_database(tmp_path: Path, repo_root: Path) -> None:
    db = tmp_path / "state.db"
    SQLiteStore(db).close()
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(db), f"p{n}", "25"], cwd=repo_root) for n in range(4)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    store = SQLiteStore(db)
    try:
        counter = store.get("ns", "counter")
        assert counter is not None
        assert counter.value == {"n": 100}
        entries = list(store.ledger(Namespace.AUDIT))
        assert len(entries) == 100
        assert not any(e.value.get("retry") for e in entries)
        for n in range(4):  # each process's entries keep their own order
            assert [e.value["i"] for e in entries if e.value["by"] == f"p{n}"] == list(range(25))
        assert len(list(store.query(Namespace.EVENTS))) == 25
        mode = store._conn().execute("PRAGMA journal_mode").fetchone()
        assert mode == ("wal",)
    finally:
        store.close()


def test_closed_store_refuses(tmp_path: Path) -> None:
    import pytest

    from core.state.base import StateUnavailableError

    store = SQLiteStore(tmp_path / "s.db")
    store.close()
    with pytest.raises(StateUnavailableError, match="closed"):
        store.get("ns", "k")


def test_in_memory_store(tmp_path: Path) -> None:
    store = SQLiteStore(":memory:")
    store.put("ns", "k", {"v": 1})
    assert [r.value for r in store.query("ns")] == [{"v": 1}]
    assert not list(tmp_path.iterdir())
    store.close()
