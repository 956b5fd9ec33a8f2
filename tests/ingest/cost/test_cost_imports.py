"""Import weight: ``ingest.cost`` stays light for the event path, and a plain ingest never imports
pandas (pyarrow's pandas probe would cost more CPU than normalizing a million rows)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def _run(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    return out.stdout.strip()


def test_importing_ingest_cost_is_light() -> None:
    code = "import sys, ingest.cost; print(sorted(m for m in ('pandas', 'pyarrow', 'azure') if m in sys.modules))"
    assert _run(code) == "[]"


def test_plain_ingest_does_not_import_pandas(fixtures_dir: Path, tmp_path: Path) -> None:
    files = [fixtures_dir / n for n in ("ea_legacy_actual.csv", "mca_actual.csv.gz", "focus_1.2.parquet")]
    code = (
        "import sys; from pathlib import Path; from ingest.cost import ingest_paths; "
        f"s = ingest_paths([Path(p) for p in {[str(f) for f in files]!r}], Path({str(tmp_path)!r})); "
        "print(s.files, s.rows, 'pandas' in sys.modules)"
    )
    assert _run(code) == "3 23 False"
