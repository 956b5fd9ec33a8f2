"""Our top-level packages must resolve to this repository, never to site-packages.

The Functions worker puts the app root on sys.path, but an installed distribution with
the same top-level name (``alerts``, ``ingest``...) would shadow ours if it came first.
"""

from __future__ import annotations

import importlib
import site
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "vigil", "ingest", "detectors", "alerts")


@pytest.mark.parametrize("name", PACKAGES)
def test_package_resolves_inside_repo(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__file__ is not None, f"{name} is a namespace package: missing __init__.py?"
    path = Path(module.__file__).resolve()
    assert path.is_relative_to(REPO), f"{name} resolved to {path}, outside {REPO}"
    assert path.parent == REPO / name
    for sp in [*site.getsitepackages(), site.getusersitepackages()]:
        assert not path.is_relative_to(Path(sp).resolve()), f"{name} resolved to site-packages: {path}"


def test_function_app_resolves_inside_repo() -> None:
    import function_app

    assert function_app.__file__ is not None
    assert Path(function_app.__file__).resolve() == REPO / "function_app.py"


def test_packages_resolve_inside_repo_from_the_app_root_as_the_worker_runs() -> None:
    """A fresh interpreter started in the app root (as the worker is) finds our packages."""
    code = "import importlib,sys; print('\\n'.join(importlib.import_module(n).__file__ for n in sys.argv[1:]))"
    out = subprocess.run(
        [sys.executable, "-c", code, *PACKAGES], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert [Path(p).resolve().parent for p in out] == [REPO / n for n in PACKAGES]
