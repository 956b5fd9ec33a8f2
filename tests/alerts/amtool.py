"""Alertmanager 0.25's own binaries for agreement tests (Debian's prometheus-alertmanager; `make alertmanager`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

__all__ = ["ALERTMANAGER", "AMTOOL", "amtool", "need"]

AMTOOL = shutil.which("amtool")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def need(binary: str | None, name: str) -> str:
    if binary is None:
        pytest.skip(f"{name} is not installed (Debian package prometheus-alertmanager; run `make alertmanager`)")
    return binary


def amtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [need(AMTOOL, "amtool"), *args], capture_output=True, text=True, timeout=60, cwd=cwd, check=False
    )
