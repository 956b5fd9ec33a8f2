"""Cold-start benchmark: import time of the Function App and of the drift event path.

Each measurement runs in a fresh interpreter (``python -c``), repeated N times, median
taken. The baseline is the bare interpreter start (``python -c pass``) in the same run.

The timed region starts after ``import azure.functions``: the Python worker imports that
library (its own dependency) before it loads ``function_app``, so it is not part of what
our code adds to a cold start. Its cost is reported separately (``azure_functions_s``),
and ``total_s`` gives the import time with it. The benchmark also records which heavy
modules (pandas, scikit-learn, pyarrow, matplotlib...) the imports pulled in: the event
path must import none of them.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
GOAL_S = 0.5
HEAVY = ("pandas", "sklearn", "pyarrow", "matplotlib", "scipy", "numpy")
FORBIDDEN = ("pandas", "sklearn", "pyarrow", "matplotlib")  # must not be on the event path

# What a resource event costs on a cold worker: index the app, then import the handler
# module and the modules handle_resource_events imports (nothing is called).
TARGETS: dict[str, tuple[str, ...]] = {
    "function_app": ("function_app",),
    "drift_event_path": (
        "function_app",
        "vigil.handlers",
        "vigil.drift_path",
        "detectors.drift",
        "detectors.drift.loader",
        "detectors.drift.engine",
        "alerts.pipeline",
    ),
}

_PROBE = """
import importlib, json, sys, time
mods = sys.argv[1:]
ta = time.perf_counter()
import azure.functions
t0 = time.perf_counter()
missing = []
for m in mods:
    try:
        importlib.import_module(m)
    except ModuleNotFoundError as exc:
        if exc.name != m:
            raise
        missing.append(m)
t1 = time.perf_counter()
heavy = sorted({n.split('.')[0] for n in sys.modules} & set(json.loads(__import__('os').environ['BENCH_HEAVY'])))
print(json.dumps({"import_s": t1 - t0, "azure_functions_s": t0 - ta, "missing": missing, "heavy": heavy}))
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["BENCH_HEAVY"] = json.dumps(HEAVY)
    return env


def _wall(args: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = subprocess.run(args, cwd=REPO, env=_env(), capture_output=True, text=True, check=True)
    return time.perf_counter() - t0, out.stdout


def _repeats() -> int:
    try:
        scale = float(os.environ.get("VIGIL_BENCH_SCALE", "1"))
    except ValueError:
        scale = 1.0
    return max(3, round(15 * min(max(scale, 0.0), 1.0)))


def _importtime_top(mods: tuple[str, ...], top: int = 8) -> list[dict[str, Any]]:
    """The slowest top-level imports (cumulative), from one ``python -X importtime`` run."""
    code = (
        "import importlib,sys\n"
        "for m in sys.argv[1:]:\n"
        "    try: importlib.import_module(m)\n"
        "    except ImportError: pass"
    )
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code, *mods],
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    rows: list[tuple[str, float]] = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        parts = line.split("|")
        if len(parts) != 3:
            continue
        cum_us, name = parts[1].strip(), parts[2][1:]
        if name.startswith(" ") or not cum_us.isdigit():  # nested import: count only top-level ones
            continue
        rows.append((name.strip(), round(int(cum_us) / 1000, 1)))
    rows.sort(key=lambda r: -r[1])
    return [{"module": m, "cumulative_ms": ms} for m, ms in rows[:top]]


def measure(name: str, mods: tuple[str, ...], repeats: int, baseline_s: float) -> dict[str, Any]:
    _wall([sys.executable, "-c", _PROBE, *mods])  # warm the bytecode cache
    imports, walls, platform = [], [], []
    probe: dict[str, Any] = {}
    for _ in range(repeats):
        wall, stdout = _wall([sys.executable, "-c", _PROBE, *mods])
        probe = json.loads(stdout)
        imports.append(probe["import_s"])
        platform.append(probe["azure_functions_s"])
        walls.append(wall)
    value = statistics.median(imports)
    forbidden = [m for m in probe["heavy"] if m in FORBIDDEN]
    ok = value <= GOAL_S and not forbidden and not probe["missing"]
    return {
        "name": f"coldstart.{name}",
        "value": round(value, 4),
        "unit": "s",
        "baseline": round(baseline_s, 4),
        "ratio": round(value / baseline_s, 3) if baseline_s else None,
        "goal": GOAL_S,
        "pass": ok,
        "modules": list(mods),
        "missing_modules": probe["missing"],
        "wall_s": round(statistics.median(walls), 4),
        "azure_functions_s": round(statistics.median(platform), 4),
        "total_s": round(statistics.median(i + p for i, p in zip(imports, platform, strict=True)), 4),
        "heavy_imported": probe["heavy"],
        "forbidden_imported": forbidden,
        "slowest_imports": _importtime_top(mods),
    }


def main() -> dict[str, Any]:
    """Runs the benchmark; returns one result entry with both measurements in ``measurements``."""
    repeats = _repeats()
    _wall([sys.executable, "-c", "pass"])
    baseline = statistics.median(_wall([sys.executable, "-c", "pass"])[0] for _ in range(repeats))
    results = [measure(name, mods, repeats, baseline) for name, mods in TARGETS.items()]
    event = results[-1]
    return {
        "name": "coldstart",
        "value": event["value"],
        "unit": "s",
        "baseline": event["baseline"],
        "ratio": event["ratio"],
        "goal": GOAL_S,
        "pass": all(r["pass"] for r in results),
        "description": (
            "median import time (fresh interpreter, azure.functions already loaded as in the worker) of "
            "function_app plus vigil.handlers and the modules the resource-event handler imports; "
            "baseline: median `python -c pass` wall time in the same run"
        ),
        "repeats": repeats,
        "python": sys.version.split()[0],
        "measurements": results,
    }
