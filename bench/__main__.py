"""``python -m bench``: runs every benchmark in bench/*/ and writes bench/results.json.

Each benchmark runs in its own interpreter (``python -m bench.<name>``) so one cannot warm
the caches of another; see bench/README.md for the convention.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results.json"
KEYS = ("name", "value", "baseline", "ratio", "goal", "pass")


def discover() -> list[str]:
    """Benchmark packages: bench/<name>/ holding a __main__.py (names starting with '_' skipped)."""
    return sorted(
        p.name
        for p in BENCH.iterdir()
        if p.is_dir() and not p.name.startswith(("_", ".")) and (p / "__main__.py").exists()
    )


def run_one(name: str) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", f"bench.{name}"], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    elapsed = round(time.perf_counter() - t0, 3)
    if proc.returncode != 0:
        return _failed(name, f"exit code {proc.returncode}: {proc.stderr.strip()[-2000:]}", elapsed)
    try:
        result = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        return _failed(name, f"stdout is not JSON ({exc.msg}): {proc.stdout.strip()[-500:]}", elapsed)
    if isinstance(result, list):  # several measurements: the benchmark passes when all pass
        result = {
            "name": name,
            "value": result[0].get("value") if result else None,
            "baseline": result[0].get("baseline") if result else None,
            "ratio": result[0].get("ratio") if result else None,
            "goal": result[0].get("goal") if result else None,
            "pass": bool(result) and all(r.get("pass") is True for r in result),
            "measurements": result,
        }
    if not isinstance(result, dict):
        return _failed(name, f"expected a JSON object, got {type(result).__name__}", elapsed)
    missing = [k for k in KEYS if k not in result]
    if missing:
        return _failed(name, f"result lacks {', '.join(missing)}", elapsed, result)
    result["elapsed_s"] = elapsed
    return result


def _failed(name: str, error: str, elapsed: float, partial: dict[str, Any] | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = dict.fromkeys(KEYS)
    entry.update(partial or {})
    entry.update({"name": entry.get("name") or name, "pass": False, "error": error, "elapsed_s": elapsed})
    return entry


def main(argv: list[str] | None = None) -> int:
    wanted = (argv if argv is not None else sys.argv[1:]) or discover()
    entries = []
    for name in wanted:
        print(f"bench: running {name} ...", file=sys.stderr)
        entry = run_one(name)
        entries.append(entry)
        status = "pass" if entry["pass"] else "FAIL"
        print(
            f"bench: {entry['name']}: value={entry['value']} baseline={entry['baseline']} "
            f"ratio={entry['ratio']} goal={entry['goal']} {status}",
            file=sys.stderr,
        )
    RESULTS.write_text(json.dumps(entries, indent=2) + "\n", encoding="utf-8")
    print(json.dumps([{k: e.get(k) for k in KEYS} for e in entries], indent=2))
    return 0 if all(e["pass"] for e in entries) else 1


if __name__ == "__main__":
    sys.exit(main())
