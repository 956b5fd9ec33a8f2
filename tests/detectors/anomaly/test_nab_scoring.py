"""The NAB scorer in bench/nab follows the spec in ../shared/nab/README.md."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.nab.scoring import FileTruth, normalise, optimise, row_weights, sigma

STANDARD = (1.0, 0.11, 1.0)
LOW_FN = (1.0, 0.11, 2.0)


def _truth(n: int = 1000, windows: list[tuple[int, int]] | None = None) -> FileTruth:
    return FileTruth("f.csv", n, min(math.floor(0.15 * n), 750), windows or [(400, 499), (700, 799)])


def test_sigmoid() -> None:
    assert sigma(0.0) == 0.0
    assert sigma(3.5) == -1.0
    assert sigma(-1.0) == pytest.approx(2 / (1 + math.exp(-5)) - 1)


def test_row_weights_inside_and_after_windows() -> None:
    t = _truth()
    w, win = row_weights(t, 1.0, 0.11)
    assert w[400] == pytest.approx(1.0)  # earliest row of a window earns A_TP
    assert w[499] < w[450] < w[400]
    assert win[450] == 0
    assert win[750] == 1
    assert w[300] == pytest.approx(-0.11)  # no window has ended yet
    assert -0.11 < w[500] < 0  # just after a window: a small penalty
    assert w[699] == pytest.approx(-0.11, rel=1e-3)  # x = 200/99: sigma is nearly -1
    assert w[900] == pytest.approx(sigma(101 / 99) * 0.11)  # measured from the second window


def test_perfect_null_and_threshold_choice() -> None:
    t = _truth()
    perfect = np.zeros(t.n)
    perfect[[400, 700]] = 1.0
    theta, raw, counts = optimise([(t, perfect)], STANDARD)
    assert normalise(raw, 2, STANDARD) == pytest.approx(100.0)
    assert theta == 1.0
    assert counts == {"windows": 2, "detected": 2, "false_positive_rows": 0}
    null = np.zeros(t.n)
    theta, raw, _ = optimise([(t, null)], STANDARD)
    assert theta == 1.1  # detecting everything at 0.0 is worse than nothing
    assert normalise(raw, 2, STANDARD) == pytest.approx(0.0)


def test_probation_rows_are_ignored_and_fixed_threshold() -> None:
    t = _truth()
    s = np.zeros(t.n)
    s[10] = 1.0  # inside probation (150 rows): ignored, no false positive
    s[450] = 0.6
    s[300] = 0.4  # a false positive below the fixed threshold
    _, raw, counts = optimise([(t, s)], STANDARD, fixed=0.5)
    assert counts["false_positive_rows"] == 0
    assert counts["detected"] == 1
    expected = sigma(-(499 - 450 + 1) / 100) / sigma(-1.0) - 1.0
    assert raw == pytest.approx(expected)
    _, raw_low, _ = optimise([(t, s)], STANDARD, fixed=0.3)
    assert raw_low == pytest.approx(expected - 0.11)
    assert normalise(-2.0, 2, LOW_FN) == pytest.approx(100 * 2 / 6)  # null -4, perfect 2


def test_leave_one_category_out_scores_each_category_with_the_others_threshold() -> None:
    from bench.nab.loco import loco

    truths = {f"{c}/f{i}.csv": FileTruth(f"{c}/f{i}.csv", 1000, 150, [(400, 499)]) for c in "ab" for i in range(2)}
    scores = {}
    for name in truths:
        s = np.zeros(1000)
        if name.startswith("a/"):
            s[400] = 0.9  # category a: detections score 0.9 and nothing else fires
        else:
            s[400], s[200] = 0.4, 0.6  # category b: detections score 0.4 below a false positive at 0.6
        scores[name] = s
    out = loco({"v": scores}, truths, STANDARD)
    # held out b: the threshold tuned on a (0.9) misses b's detections at 0.4
    assert out["folds"]["b"]["threshold"] == pytest.approx(0.9)
    assert out["folds"]["b"]["detected"] == 0
    assert out["folds"]["b"]["held_out_score"] == pytest.approx(0.0)
    # held out a: the threshold tuned on b (0.4) also fires a's detections
    assert out["folds"]["a"]["detected"] == 2
    assert out["folds"]["a"]["held_out_score"] == pytest.approx(100.0)
    assert out["pooled"] == pytest.approx(50.0)


def _optimise_row_by_row(files: list[tuple[FileTruth, np.ndarray]], profile: tuple[float, float, float]) -> float:
    """Plain reference for the threshold sweep: every candidate threshold scored from scratch (spec step 5-6)."""
    a_tp, a_fp, a_fn = profile
    rows = []
    for truth, s in files:
        w, win = row_weights(truth, a_tp, a_fp)
        rows.append((truth, s, w, win))
    candidates = sorted({float(v) for t, s, _, _ in rows for v in s[t.probation :]} | {1.1}, reverse=True)
    best = -math.inf
    for theta in candidates:
        total = 0.0
        for truth, s, w, win in rows:
            hit = np.nonzero(s >= theta)[0]
            hit = hit[hit >= truth.probation]
            total += float(w[hit][win[hit] < 0].sum())
            for k in range(len(truth.windows)):
                inside = w[hit][win[hit] == k]
                total += float(inside.max()) if len(inside) else -a_fn
        best = max(best, total)
    return best


@pytest.mark.parametrize("seed", range(6))
def test_vectorised_threshold_sweep_matches_scoring_every_candidate(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = FileTruth("f.csv", 400, 60, [(150, 180), (300, 340)])
    s = np.round(rng.random(400) ** 3, 2)  # many ties
    for profile in (STANDARD, LOW_FN, (1.0, 0.22, 1.0)):
        _, raw, _ = optimise([(truth, s)], profile)
        assert raw == pytest.approx(_optimise_row_by_row([(truth, s)], profile))


def _level_shift_then_ramp(path: Path, seed: int) -> None:
    """Daily rows (no seasonal step): noise at 0, a labelled shift to 10 at row 600, a labelled slow ramp at 1200.

    The ramp rises 0.3 a row (inside the noise of the first difference), so only the level z can see it, and
    only with a window short enough to have forgotten the level before the shift.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, 1400)
    x[600:] += 10.0
    x[1200:1260] += np.minimum(0.3 * np.arange(60), 6.0)
    ts = pd.date_range("2020-01-01", periods=len(x), freq="D")
    pd.DataFrame({"timestamp": ts.strftime("%Y-%m-%d %H:%M:%S"), "value": x}).to_csv(path, index=False)


def test_leave_one_category_out_chooses_the_parts_constants_per_fold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fold's choice covers window (a metric_parts constant), not only the combination constants."""
    import bench.nab.loco as loco_module

    # the default window first: a shorter window is chosen only if it scores strictly better on the training folds
    monkeypatch.setattr(loco_module, "PARTS_GRID", {"window": (2000, 100), "discord_length": (20,)})
    monkeypatch.setattr(loco_module, "GRID", _default_grid())
    paths, truths = {}, {}
    for i, cat in enumerate("abc"):
        name = f"{cat}/f.csv"
        (tmp_path / cat).mkdir()
        _level_shift_then_ramp(tmp_path / name, seed=i)
        paths[name] = str(tmp_path / name)
        truths[name] = FileTruth(name, 1400, 210, [(595, 700), (1195, 1260)])
    points = loco_module.parts_points()
    assert points == [{"window": 2000, "discord_length": 20}, {"window": 100, "discord_length": 20}]
    tables = [loco_module.parts_point_table(p, paths, truths, {"standard": STANDARD}) for p in points]
    out = loco_module.pool_folds([t["profiles"]["standard"]["choices"] for t in tables], truths, STANDARD)
    for cat in "abc":
        assert out["folds"][cat]["variant"].startswith("window=100 discord_length=20 "), out["folds"][cat]
    # and it is the better choice on the held-out file too
    default_only = loco_module.pool_folds([tables[0]["profiles"]["standard"]["choices"]], truths, STANDARD)
    assert out["pooled"] > default_only["pooled"]


def _default_grid() -> dict[str, tuple[float, ...]]:
    """GRID reduced to the CLI's combination constants (one point: the test is about the parts constants)."""
    from detectors.anomaly.metric import MetricParams

    d = MetricParams()
    return {k: (getattr(d, k),) for k in ("rank_power", "z_scale", "discord_weight", "context_weight", "damping")}


def test_pooling_fold_choices_keeps_the_first_of_equal_training_scores() -> None:
    """Merging the per-parts-point choices uses the same rule as inside one: first in grid order unless beaten."""
    from bench.nab.loco import fold_choices, pool_folds

    truths = {f"{c}/f.csv": FileTruth(f"{c}/f.csv", 1000, 150, [(400, 499)]) for c in "ab"}
    hit = np.zeros(1000)
    hit[400] = 0.9
    miss = np.zeros(1000)
    first = fold_choices({"p1": dict.fromkeys(truths, miss)}, truths, STANDARD)
    tie = fold_choices({"p2": dict.fromkeys(truths, miss)}, truths, STANDARD)
    better = fold_choices({"p3": dict.fromkeys(truths, hit)}, truths, STANDARD)
    assert pool_folds([first, tie], truths, STANDARD)["folds"]["a"]["variant"] == "p1"
    out = pool_folds([first, tie, better], truths, STANDARD)
    assert {f["variant"] for f in out["folds"].values()} == {"p3"}
    assert out["pooled"] == pytest.approx(100.0)


def test_the_bench_without_nab_data_says_where_it_looked(tmp_path: Path) -> None:
    from bench.nab import main

    with pytest.raises(SystemExit, match=r"no NAB data at .* VIGIL_NAB_ROOT"):
        main(tmp_path)
