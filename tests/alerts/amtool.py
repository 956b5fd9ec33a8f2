"""Alertmanager 0.25's own binaries for agreement tests (Debian's prometheus-alertmanager; `make alertmanager`)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
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


@contextmanager
def running_alertmanager(tmp_path: Path, config_text: str) -> Iterator[str]:
    """A real Alertmanager on a free loopback port with this config; yields its base URL."""
    from tests.support.azurite import free_port

    binary = need(ALERTMANAGER, "alertmanager")
    (tmp_path / "am.yml").write_text(config_text, encoding="utf-8")
    port = free_port()
    log_path = tmp_path / "am.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={tmp_path / 'am.yml'}",
                f"--storage.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"alertmanager did not start: {log_path.read_text()}")
                time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=10)
