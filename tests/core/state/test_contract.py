"""The one contract every StateStore backend honours (SQLite and Azure Tables via Azurite)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from core.state.base import ConcurrencyError, Namespace, Record, StateStore

TRICKY_KEYS = [
    "a",
    "a/",
    "a/b",
    "a/b/c",
    "a/ b",
    "a/#frag",
    "a/?q=1&x=%20",
    "a/back\\slash",
    "a/quote'd\"",
    "a/tab\there",
    "a/ctl\x01\x7f\x9f",
    "a/é",
    "a/\U0001f600",
    "a/日本語",
    "a.",
    "a0",
    "a-b",
    "ab",
    "A",
    "/subscriptions/0000/resourceGroups/rg-1/providers/Microsoft.Compute/virtualMachines/vm-1",
    " leading space",
    "~tilde",
    "",
]


def test_get_missing_is_none(store: StateStore) -> None:
    assert store.get(Namespace.CHECKPOINTS, "nothing") is None


def test_put_get_roundtrip(store: StateStore) -> None:
    value = {"n": 1, "s": "text é 😀", "list": [1, 2.5, None, True], "nested": {"a": {"b": []}}}
    written = store.put(Namespace.CHECKPOINTS, "export/run-1", value)
    assert isinstance(written, Record)
    assert written.value == value
    assert written.etag
    read = store.get(Namespace.CHECKPOINTS, "export/run-1")
    assert read == Record("checkpoints", "export/run-1", value, written.etag)


def test_unconditional_upsert_is_idempotent(store: StateStore) -> None:
    first = store.put("ns", "k", {"v": 1})
    second = store.put("ns", "k", {"v": 1})
    assert [(r.key, r.value) for r in store.query("ns")] == [("k", {"v": 1})]
    third = store.put("ns", "k", {"v": 2})
    got = store.get("ns", "k")
    assert got is not None
    assert got.value == {"v": 2}
    assert got.etag == third.etag
    assert len({first.etag, third.etag}) == 2
    assert second.value == first.value


def test_etag_conflict_second_writer_loses(make_store: Callable[[], StateStore]) -> None:
    writer_a, writer_b = make_store(), make_store()
    writer_a.put("ns", "counter", {"n": 0})
    seen_a = writer_a.get("ns", "counter")
    seen_b = writer_b.get("ns", "counter")
    assert seen_a is not None
    assert seen_b is not None
    assert seen_a.etag == seen_b.etag
    won = writer_a.put("ns", "counter", {"n": 1}, etag=seen_a.etag)
    with pytest.raises(ConcurrencyError):
        writer_b.put("ns", "counter", {"n": 100}, etag=seen_b.etag)
    final = writer_b.get("ns", "counter")
    assert final is not None
    assert final.value == {"n": 1}
    assert final.etag == won.etag
    # Retrying with the fresh ETag succeeds.
    assert writer_b.put("ns", "counter", {"n": 2}, etag=final.etag).value == {"n": 2}


def test_conditional_put_on_missing_record_conflicts(store: StateStore) -> None:
    record = store.put("ns", "k", {"v": 1})
    store.delete("ns", "k")
    with pytest.raises(ConcurrencyError):
        store.put("ns", "k", {"v": 2}, etag=record.etag)
    assert store.get("ns", "k") is None


def test_add_if_absent(store: StateStore) -> None:
    assert store.add(Namespace.EVENTS, "evt-1", {"first": True}) is True
    assert store.add(Namespace.EVENTS, "evt-1", {"first": False}) is False
    got = store.get(Namespace.EVENTS, "evt-1")
    assert got is not None
    assert got.value == {"first": True}
    # The added record has a usable ETag.
    store.put(Namespace.EVENTS, "evt-1", {"first": "updated"}, etag=got.etag)


def test_delete_unconditional(store: StateStore) -> None:
    store.put("ns", "k", {"v": 1})
    assert store.delete("ns", "k") is True
    assert store.get("ns", "k") is None
    assert store.delete("ns", "k") is False


def test_delete_with_etag(store: StateStore) -> None:
    old = store.put("ns", "k", {"v": 1})
    current = store.put("ns", "k", {"v": 2})
    with pytest.raises(ConcurrencyError):
        store.delete("ns", "k", etag=old.etag)
    assert store.get("ns", "k") is not None
    assert store.delete("ns", "k", etag=current.etag) is True
    assert store.get("ns", "k") is None
    assert store.delete("ns", "k", etag=current.etag) is False


@pytest.mark.parametrize("prefix", ["", "a", "a/", "a/b", "a/é", "a/\U0001f600", "/subscriptions/", "zzz", "a/?"])
def test_prefix_query(store: StateStore, prefix: str) -> None:
    for i, key in enumerate(TRICKY_KEYS):
        store.put("ns", key, {"i": i})
    store.put("other", "a/b", {"i": -1})
    expected = sorted(k for k in TRICKY_KEYS if k.startswith(prefix))
    got = list(store.query("ns", prefix))
    assert [r.key for r in got] == expected
    assert all(r.namespace == "ns" for r in got)
    assert {r.key: r.value["i"] for r in got} == {k: TRICKY_KEYS.index(k) for k in expected}


def test_tricky_keys_point_operations(store: StateStore) -> None:
    for key in TRICKY_KEYS:
        assert store.add("ns", key, {"key": key}) is True
    for key in TRICKY_KEYS:
        got = store.get("ns", key)
        assert got is not None
        assert got.key == key
        assert got.value == {"key": key}
        assert store.delete("ns", key, etag=got.etag) is True
    assert list(store.query("ns")) == []


def test_very_long_keys(store: StateStore) -> None:
    # Longer than the 1 KiB Azure Table key limit once encoded; must still work everywhere.
    base = "/subscriptions/x/" + "/".join(f"seg{i}" for i in range(200))
    keys = [base + "/a", base + "/b", base + "/é" * 50]
    for i, key in enumerate(keys):
        store.put("ns", key, {"i": i})
    for i, key in enumerate(keys):
        got = store.get("ns", key)
        assert got is not None
        assert got.value == {"i": i}
    assert [r.key for r in store.query("ns", base)] == sorted(keys)
    assert [r.key for r in store.query("ns", base + "/b")] == [base + "/b"]
    assert store.delete("ns", keys[0]) is True
    assert [r.key for r in store.query("ns", "/subscriptions/")] == sorted(keys[1:])


def test_get_many_gives_what_get_gives_for_each_key(store: StateStore) -> None:
    long = "/subscriptions/x/" + "/".join(f"seg{i}" for i in range(200))
    stored = [*TRICKY_KEYS, long + "/a", long + "/b", *(f"fp{i:04d}" for i in range(30))]
    for i, key in enumerate(stored):
        store.put("ns", key, {"i": i})
    store.put("other", "fp0001", {"i": -1})
    absent = ["missing", long + "/c", "fp9999", "a/"[:1] + "z"]
    asked = [*stored[::2], *absent, stored[0], *stored[1::2]]  # out of order, one repeated
    got = store.get_many("ns", iter(asked))  # any iterable, read once
    assert got == {key: store.get("ns", key) for key in stored}
    assert store.get_many("ns", []) == {}
    assert store.get_many("ns", absent) == {}


def test_put_many_writes_what_put_writes_for_each_key(store: StateStore) -> None:
    long = "/subscriptions/x/" + "/".join(f"seg{i}" for i in range(200))
    big = "x" * 200_000  # several values this size split the Table backend's transactions by size
    values = {key: {"i": i} for i, key in enumerate([*TRICKY_KEYS, long + "/a", *(f"fp{i:04d}" for i in range(230))])}
    values.update({f"big{i}": {"text": big, "i": i} for i in range(12)})
    store.put("ns", "fp0001", {"old": True})
    store.put("ns", "untouched", {"u": 1})
    store.put_many("ns", values)
    store.put_many("ns", {})
    got = {r.key: dict(r.value) for r in store.query("ns")}
    assert got == {**{k: dict(v) for k, v in values.items()}, "untouched": {"u": 1}}
    store.put_many("ns", {"fp0002": {"i": "again"}})  # an upsert, as put
    record = store.get("ns", "fp0002")
    assert record is not None
    assert record.value == {"i": "again"}
    assert record.etag


def test_large_value_roundtrip(store: StateStore) -> None:
    big = {"rows": [{"id": i, "text": f"row {i} " + "x" * 180} for i in range(1000)]}
    written = store.put(Namespace.CHECKPOINTS, "model", big)
    got = store.get(Namespace.CHECKPOINTS, "model")
    assert got is not None
    assert got.value == big
    assert got.etag == written.etag
    # Shrinking must not leave stale chunks behind.
    store.put(Namespace.CHECKPOINTS, "model", {"rows": []}, etag=got.etag)
    small = store.get(Namespace.CHECKPOINTS, "model")
    assert small is not None
    assert small.value == {"rows": []}
    assert [r.value for r in store.query(Namespace.CHECKPOINTS)] == [{"rows": []}]


def test_ledger_order_and_idempotency(store: StateStore) -> None:
    keys = []
    for i in range(30):
        key = f"op-{i}" if i % 3 == 0 else None
        keys.append(store.append(Namespace.AUDIT, {"i": i}, key=key))
    assert len(set(keys)) == 30
    assert [k for k in keys if k.startswith("op-")] == [f"op-{i}" for i in range(0, 30, 3)]
    # A retried append with the same key is ignored and returns the same key.
    assert store.append(Namespace.AUDIT, {"i": "retry"}, key="op-3") == "op-3"
    entries = list(store.ledger(Namespace.AUDIT))
    assert [e.value["i"] for e in entries] == list(range(30))
    assert [e.key for e in entries] == keys
    assert all(e.namespace == "audit" and e.etag for e in entries)
    # Ledger entries and records in one namespace do not mix.
    store.put(Namespace.AUDIT, "op-0", {"record": True})
    assert [r.key for r in store.query(Namespace.AUDIT)] == ["op-0"]
    assert len(list(store.ledger(Namespace.AUDIT))) == 30
    assert list(store.ledger(Namespace.OUTBOX)) == []


def test_ledger_large_entry(store: StateStore) -> None:
    entry = {"blob": "y" * 120_000}
    key = store.append(Namespace.AUDIT, entry, key="big")
    assert [(e.key, e.value) for e in store.ledger(Namespace.AUDIT)] == [(key, entry)]


def test_concurrent_read_modify_write(make_store: Callable[[], StateStore]) -> None:
    threads_n, increments = 6, 8
    make_store().put("ns", "counter", {"n": 0})
    conflicts = []
    errors: list[BaseException] = []

    def worker() -> None:
        store = make_store()
        local_conflicts = 0
        try:
            for _ in range(increments):
                while True:
                    current = store.get("ns", "counter")
                    assert current is not None
                    try:
                        store.put("ns", "counter", {"n": current.value["n"] + 1}, etag=current.etag)
                        break
                    except ConcurrencyError:
                        local_conflicts += 1
        except BaseException as exc:
            errors.append(exc)
        conflicts.append(local_conflicts)

    threads = [threading.Thread(target=worker) for _ in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    final = make_store().get("ns", "counter")
    assert final is not None
    assert final.value == {"n": threads_n * increments}


def test_one_store_shared_by_threads(store: StateStore) -> None:
    # A Function App worker shares one store object between concurrent invocations.
    store.put("ns", "counter", {"n": 0})
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(6):
                while True:
                    current = store.get("ns", "counter")
                    assert current is not None
                    try:
                        store.put("ns", "counter", {"n": current.value["n"] + 1}, etag=current.etag)
                        break
                    except ConcurrencyError:
                        continue
                store.append(Namespace.AUDIT, {"n": n, "i": i}, key=f"{n}-{i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    final = store.get("ns", "counter")
    assert final is not None
    assert final.value == {"n": 30}
    entries = list(store.ledger(Namespace.AUDIT))
    assert sorted(e.key for e in entries) == sorted(f"{n}-{i}" for n in range(5) for i in range(6))
    for n in range(5):
        assert [e.value["i"] for e in entries if e.value["n"] == n] == list(range(6))


def test_concurrent_add_has_one_winner(make_store: Callable[[], StateStore]) -> None:
    results: list[bool] = []
    barrier = threading.Barrier(6)

    def worker() -> None:
        store = make_store()
        barrier.wait()
        results.append(store.add(Namespace.EVENTS, "evt-race", {"by": threading.get_ident()}))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == [False] * 5 + [True]


def test_namespaces_are_isolated(store: StateStore) -> None:
    store.put(Namespace.VERDICTS, "k", {"v": "verdicts"})
    store.put(Namespace.SILENCES, "k", {"v": "silences"})
    store.append(Namespace.AUDIT, {"v": "audit"})
    verdict = store.get("verdicts", "k")  # plain string and enum name the same namespace
    assert verdict is not None
    assert verdict.value == {"v": "verdicts"}
    silence = store.get(Namespace.SILENCES, "k")
    assert silence is not None
    assert silence.value == {"v": "silences"}
    assert store.delete(Namespace.VERDICTS, "k") is True
    assert store.get(Namespace.SILENCES, "k") is not None
    assert list(store.query(Namespace.ACKS)) == []
    assert list(store.ledger(Namespace.VERDICTS)) == []
    # Namespaces that share a prefix do not leak into each other.
    store.put("tenant", "x", {"v": 1})
    store.put("tenant/2", "x", {"v": 2})
    assert [r.value for r in store.query("tenant")] == [{"v": 1}]


def test_values_must_be_json_objects(store: StateStore) -> None:
    with pytest.raises(TypeError):
        store.put("ns", "k", ["not", "a", "mapping"])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        store.put("ns", "k", {"when": object()})
    assert store.get("ns", "k") is None


def test_returned_values_are_copies(store: StateStore) -> None:
    value = {"items": [1]}
    store.put("ns", "k", value)
    value["items"].append(2)
    got = store.get("ns", "k")
    assert got is not None
    assert got.value == {"items": [1]}
