"""One code path: ``vigil detect anomalies`` writes the scores ``bench/nab`` scores (same function, same arguments)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bench.nab import _vigil
from vigil.cli.main import app

REPO = Path(__file__).resolve().parents[3]
NAB = REPO / ".." / "shared" / "nab" / "data"
# one file from each of three categories whose scores depend on the seasonal period (rows per day)
FILES = (
    "artificialWithAnomaly/art_daily_jumpsup.csv",
    "realAdExchange/exchange-2_cpc_results.csv",
    "realAWSCloudwatch/grok_asg_anomaly.csv",
)


@pytest.mark.parametrize("name", FILES)
def test_cli_scores_equal_the_benchmark_scores(name: str, tmp_path: Path) -> None:
    path = NAB / name
    if not path.is_file():
        pytest.skip(f"NAB development data not found at {path} (../shared/nab is absent)")
    out = tmp_path / "scores.csv"
    res = CliRunner().invoke(app, ["detect", "anomalies", "-i", str(path), "-o", str(out), "--profile", "metric"])
    assert res.exit_code == 0, res.output
    cli = pd.read_csv(out)["anomaly_score"].to_numpy(dtype=float)
    _, bench, _ = _vigil(str(path))
    assert len(cli) == len(bench)
    # the CLI writes 6 decimals; NaN (no verdict) rows must match too
    np.testing.assert_allclose(cli, np.round(bench, 6), rtol=0, atol=1e-9, equal_nan=True)
