"""The console's alert index: the bit-mask selection agrees with alerts.matchers, and a
stale snapshot is refreshed in the background while the current one keeps serving."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.matchers import matches_all, parse_matchers
from core.state import open_store
from core.state.base import Namespace, StateStore
from core.state.sqlite import SQLiteStore
from vigil.console.data import AlertFilter, AlertIndex, all_bits, set_bits

NOW = datetime(2026, 11, 25, tzinfo=UTC)
VALUES = st.sampled_from(["", "a", "ab", "b", "storage-https", "x.y"])
LABELS = st.dictionaries(st.sampled_from(["alertname", "severity", "scope"]), VALUES, max_size=3)
MATCHERS = st.lists(
    st.tuples(st.sampled_from(["alertname", "severity", "nope"]), st.sampled_from(["=", "!=", "=~", "!~"]), VALUES),
    min_size=1,
    max_size=3,
)


@settings(max_examples=150, deadline=None)
@given(MATCHERS, st.lists(LABELS, min_size=1, max_size=40), st.integers(1, 4), st.integers(1, 7))
def test_bitmask_selection_agrees_with_matches_all(
    spec: list[tuple[str, str, str]], rows: list[dict[str, str]], page: int, per_page: int
) -> None:
    text = ", ".join(f'{n}{op}"{v}"' for n, op, v in spec)
    matchers = parse_matchers(text)
    store = SQLiteStore(":memory:")
    for i, labels in enumerate(rows):
        _alert(store, f"{i:016x}", labels.get("alertname", ""), extra=labels)
    index = AlertIndex(store, ttl=60)
    got = index.page(AlertFilter(matchers=text), now=NOW, page=page, per_page=per_page)
    # Brute force over the index's own row order (firing first, severity, newest first).
    want = [r.fingerprint for r in index.rows() if matches_all(matchers, r.labels)]
    assert got.total == len(want)
    start = (got.page - 1) * per_page
    assert [r.fingerprint for r, _ in got.rows] == want[start : start + per_page]
    assert sum(got.counts["status"].values()) == len(want)
    preview, total = index.matching(matchers, now=NOW, limit=5)
    assert total == len(want)  # every alert here is firing
    assert [r.fingerprint for r in preview] == want[:5]
    store.close()


def test_set_bits_pages_through_a_mask() -> None:
    mask = sum(1 << i for i in (0, 3, 8, 9, 200, 4095))
    assert set_bits(mask) == [0, 3, 8, 9, 200, 4095]
    assert set_bits(mask, skip=2, limit=3) == [8, 9, 200]
    assert set_bits(mask, skip=6) == []
    assert set_bits(0) == []
    assert all_bits(mask) == set_bits(mask)
    assert all_bits(0) == []


def _alert(store: StateStore, fp: str, name: str, extra: dict[str, str] | None = None) -> None:
    store.put(
        Namespace.ALERTS,
        fp,
        {
            "labels": {"alertname": name, "detector": "drift", **(extra or {})},
            "annotations": {},
            "starts_at": NOW.isoformat(),
            "ends_at": None,
        },
    )


def test_stale_snapshot_is_refreshed_in_the_background(tmp_path: Path) -> None:
    store = open_store("sqlite", path=tmp_path / "state.db")
    try:
        _alert(store, "a" * 16, "first")
        index = AlertIndex(store, ttl=0.05)
        assert index.page(AlertFilter(), now=NOW).total == 1
        _alert(store, "b" * 16, "second")
        assert index.page(AlertFilter(), now=NOW).total == 1  # fresh enough: not re-read
        time.sleep(0.1)
        deadline = time.monotonic() + 10
        while index.page(AlertFilter(), now=NOW).total != 2:  # stale: served, and refreshed behind
            assert time.monotonic() < deadline, "the index was never refreshed"
            time.sleep(0.02)
        index.note_ack("b" * 16)
        assert index.page(AlertFilter(status="acknowledged"), now=NOW).total == 1
    finally:
        store.close()


def test_groups_follow_the_route_tree_including_continue(tmp_path: Path) -> None:
    from alerts.compiled import compiled
    from vigil.config import parse_config

    cfg = parse_config(
        {
            "route": {
                "receiver": "ops",
                "group_by": ["alertname"],
                "routes": [
                    {"receiver": "sec", "matchers": ['detector="drift"'], "continue": True},
                    {"receiver": "audit", "matchers": ['severity="high"']},
                ],
            },
            "receivers": [{"name": "ops"}, {"name": "sec"}, {"name": "audit"}],
        }
    )
    route = compiled(cfg).root
    store = open_store("sqlite", path=tmp_path / "state.db")
    try:
        specs = [("a", "drift", "high"), ("a", "drift", "low"), ("b", "drift", "high"), ("a", "idle", "low")]
        for i, (name, det, sev) in enumerate(specs):
            _alert(store, f"{i:016x}", name, extra={"detector": det, "severity": sev})
        index = AlertIndex(store, ttl=60)
        groups, total, _ = index.groups(AlertFilter(), route, now=NOW)
        got = {(g.receiver, g.matchers): g.total for g in groups}
        # Brute force with the route tree itself.
        want: dict[tuple[str, str], int] = {}
        for row in index.rows():
            for r in route.match(row.labels):
                key = (r.opts.receiver, "{" + f'alertname="{row.labels["alertname"]}"' + "}")
                want[key] = want.get(key, 0) + 1
        assert got == want
        assert total == len(want)
        assert got[("sec", '{alertname="a"}')] == 2
        assert got[("audit", '{alertname="a"}')] == 1  # the drift+high alert continues to audit
        drift_only, _, _ = index.groups(AlertFilter(detector="idle"), route, now=NOW)
        assert [(g.receiver, g.total) for g in drift_only] == [("ops", 1)]
    finally:
        store.close()
