"""Shared helpers for the infra tests: parsed Bicep, the generated settings document, the function index."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))


def parse_bicep(path: Path) -> dict[str, Any]:
    try:
        from pycep import BicepParser
    except ImportError:
        pytest.fail("pycep-parser is not installed in .venv: it is a dev dependency (pip install pycep-parser)")
    return dict(BicepParser().parse(file_path=path))


@pytest.fixture(scope="session")
def bicep() -> dict[str, dict[str, Any]]:
    """Every infra/**/*.bicep file parsed by pycep, keyed by its path relative to infra/."""
    return {str(p.relative_to(INFRA)): parse_bicep(p) for p in BICEP_FILES}


@pytest.fixture(scope="session")
def app_settings_doc() -> dict[str, Any]:
    return dict(json.loads((INFRA / "app-settings.json").read_text(encoding="utf-8")))


_FUNCTION_INDEX = """
import json
import function_app
out = []
for fn in function_app.app.get_functions():
    out.append({"name": fn.get_function_name(), "bindings": fn.get_bindings_dict()["bindings"]})
print(json.dumps(out, default=str))
"""


@pytest.fixture(scope="session")
def function_index() -> list[dict[str, Any]]:
    """function_app.app.get_functions() as plain data.

    Run in a subprocess: get_functions() may be called only once per process (the library checks
    name uniqueness against every function it has seen), and other tests call it too.
    """
    result = subprocess.run(
        [sys.executable, "-c", _FUNCTION_INDEX],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"indexing function_app failed:\n{result.stderr}"
    return list(json.loads(result.stdout))
