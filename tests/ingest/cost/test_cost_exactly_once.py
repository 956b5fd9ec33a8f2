"""Exactly once: re-ingesting a run changes nothing; a newer run replaces an older one (and never the
reverse); after kill -9 mid-ingest the previous data is intact and a rerun equals a clean run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.ingest.generate import write_ea_export
from ingest.cost import ingest_paths, load_costs
from ingest.cost.summary import summarize

REPO = Path(__file__).resolve().parents[3]
RUN_ID = "6b2f6d3c-1111-4a5e-9c1e-0c2b0e1d2a01"


def _totals(store: Path) -> dict[str, Any]:
    return summarize(store, "day")[1]


def _run_dirs(store: Path) -> list[Path]:
    return sorted(p for p in store.glob("scope=*/month=*/dataset=*/runs/*") if p.is_dir())


def test_reingesting_a_run_changes_nothing(fixtures_dir: Path, expected: dict[str, Any], tmp_path: Path) -> None:
    manifest = fixtures_dir / expected["export/manifest"]["path"]
    first = ingest_paths([manifest], tmp_path)
    before = _totals(tmp_path)
    rows_before = len(load_costs(tmp_path))
    second = ingest_paths([manifest], tmp_path)
    assert second.rows == first.rows
    assert _totals(tmp_path) == before
    assert len(load_costs(tmp_path)) == rows_before == expected["export/manifest"]["rows"]
    assert len(_run_dirs(tmp_path)) == 1  # the earlier copy of the same run was cleaned up after the swap
    assert Decimal(before["USD"]["billed_cost"]) == Decimal(expected["export/manifest"]["billed_cost"]["USD"])


def _newer_run(fixtures_dir: Path, expected: dict[str, Any], dest: Path, run_id: str, submitted: str) -> Path:
    src = (fixtures_dir / expected["export/manifest"]["path"]).parent
    folder = dest / run_id
    folder.mkdir(parents=True)
    shutil.copy(src / "part_0_0001.csv.gz", folder / "part_0_0001.csv.gz")
    doc = json.loads((src / "manifest.json").read_text())
    doc["runInfo"]["runId"] = run_id
    doc["runInfo"]["submittedTime"] = submitted
    doc["blobs"] = doc["blobs"][:1]
    (folder / "manifest.json").write_text(json.dumps(doc))
    return folder / "manifest.json"


def test_newer_run_replaces_older_and_never_the_reverse(
    fixtures_dir: Path, expected: dict[str, Any], tmp_path: Path
) -> None:
    store = tmp_path / "store"
    old = fixtures_dir / expected["export/manifest"]["path"]
    ingest_paths([old], store)
    newer = _newer_run(fixtures_dir, expected, tmp_path / "in", "run-2", "2024-05-22T06:00:00.0000000Z")
    only_part0 = ingest_paths([newer], tmp_path / "clean")  # what the newer run alone holds
    ingest_paths([newer], store)
    assert _totals(store) == _totals(tmp_path / "clean")
    assert set(load_costs(store).x_SourceRunId) == {"run-2"}
    assert len(load_costs(store)) == only_part0.rows == 6

    again = ingest_paths([old], store)  # an older run arriving late must not win
    assert again.runs_stale == 1
    assert "older than the live run" in again.warnings[0]
    assert set(load_costs(store).x_SourceRunId) == {"run-2"}
    assert _totals(store) == _totals(tmp_path / "clean")


def _staging_files(store: Path, live_keys: set[str]) -> list[Path]:
    return [
        p
        for p in store.glob("scope=*/month=*/dataset=*/runs/*/*")
        if p.parent.name not in live_keys and p.name.startswith(".tmp-")
    ]


def test_kill_9_mid_ingest_keeps_previous_data_and_rerun_equals_clean(tmp_path: Path) -> None:
    a, b = tmp_path / "a" / "export.csv", tmp_path / "b" / "export.csv"
    a.parent.mkdir()
    b.parent.mkdir()
    total_a = write_ea_export(a, 2_000, seed=1)
    total_b = write_ea_export(b, 400_000, seed=2)
    later = time.time() + 60
    os.utime(b, (later, later))  # B is the newer run of the same scope and month
    store = tmp_path / "store"
    ingest_paths([a], store)
    assert Decimal(_totals(store)["USD"]["billed_cost"]) == total_a
    live = {json.loads(p.read_text())["run_key"] for p in store.glob("scope=*/month=*/dataset=*/_current.json")}

    code = (
        "import sys; from pathlib import Path; from ingest.cost import ingest_paths; "
        "ingest_paths([Path(sys.argv[1])], Path(sys.argv[2]))"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(b), str(store)], cwd=REPO)
    deadline = time.monotonic() + 120
    killed = False
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if _staging_files(store, live):
                os.kill(proc.pid, signal.SIGKILL)
                killed = True
                break
            time.sleep(0.005)
    finally:
        if proc.poll() is None and not killed:
            proc.kill()
        proc.wait()
    assert killed, "the ingest finished before it could be killed mid-write"
    assert proc.returncode == -signal.SIGKILL

    # previous data intact: still run A, to the cent
    assert Decimal(_totals(store)["USD"]["billed_cost"]) == total_a
    assert len(load_costs(store)) == 2_000

    rerun = ingest_paths([b], store)
    assert rerun.rows == 400_000
    clean = tmp_path / "clean"
    ingest_paths([b], clean)
    assert _totals(store) == _totals(clean)
    assert Decimal(_totals(store)["USD"]["billed_cost"]) == total_b


def _sub_scoped_export(root: Path, sub: str, run_id: str, seed: int) -> tuple[Path, Decimal]:
    """A subscription-scoped EA export (one part) of enrollment 8611537, for May 2024."""
    folder = root / sub / "daily" / "20240501-20240531" / run_id
    folder.mkdir(parents=True)
    total = write_ea_export(folder / "part_0_0001.csv", 200, seed=seed)
    manifest = {
        "manifestVersion": "2024-04-01",
        "exportConfig": {
            "exportName": "daily",
            "resourceId": f"/subscriptions/{sub}/providers/Microsoft.CostManagement/exports/daily",
            "dataVersion": "2021-10-01",
            "type": "ActualCost",
            "timeFrame": "MonthToDate",
        },
        "deliveryConfig": {"partitionData": True, "fileFormat": "Csv", "compressionMode": "None"},
        "runInfo": {"runId": run_id, "submittedTime": "2024-05-29T03:00:00Z", "startDate": "2024-05-01T00:00:00"},
        "blobs": [{"blobName": f"{sub}/daily/20240501-20240531/{run_id}/part_0_0001.csv", "dataRowCount": 200}],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder / "manifest.json", total


def test_exports_of_different_scopes_in_one_enrollment_do_not_replace_each_other(tmp_path: Path) -> None:
    """Each subscription-scoped export rewrites only its own scope's month, even though the rows of
    both name the same billing account (a bug seen with the simulator: the second export replaced the first)."""
    a, total_a = _sub_scoped_export(tmp_path / "in", "11111111-1111-1111-1111-111111111111", "run-a", 1)
    b, total_b = _sub_scoped_export(tmp_path / "in", "22222222-2222-2222-2222-222222222222", "run-b", 2)
    store = tmp_path / "store"
    ingest_paths([a], store)
    ingest_paths([b], store)
    assert len(load_costs(store)) == 400
    assert Decimal(_totals(store)["USD"]["billed_cost"]) == total_a + total_b
    # Re-ingesting either run still changes nothing.
    ingest_paths([a], store)
    assert Decimal(_totals(store)["USD"]["billed_cost"]) == total_a + total_b
