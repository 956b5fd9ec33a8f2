"""A reusable Azurite (Azure Storage emulator) harness for integration tests.

``Azurite`` starts the npm-installed emulator (``node_modules/.bin/azurite``, pinned
in package.json) on free loopback ports with an on-disk workspace. ``stop()`` and
``start()``/``restart()`` keep the same ports and workspace, so a fault-injection
test can take storage away mid-run and bring it back with its data intact.

The session fixture lives in tests/conftest.py (``azurite``); use this module
directly only when a test needs its own private emulator.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

__all__ = [
    "ACCOUNT_KEY",
    "ACCOUNT_NAME",
    "AZURITE_BIN",
    "REPO_ROOT",
    "Azurite",
    "AzuriteError",
    "free_port",
    "unique_name",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
AZURITE_BIN = REPO_ROOT / "node_modules" / ".bin" / "azurite"

# The well-known development storage account (public, documented by Microsoft).
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class AzuriteError(RuntimeError):
    """Azurite is missing, failed to start, or did not become ready in time."""


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1 (bind to port 0 and release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unique_name(prefix: str = "t") -> str:
    """A unique lowercase alphanumeric name that is legal for a table, a queue and a
    blob container alike (3-63 chars, starts with a letter)."""
    clean = "".join(ch for ch in prefix.lower() if ch.isascii() and ch.isalnum()) or "t"
    if not clean[0].isalpha():
        clean = "t" + clean
    return (clean[:40] + secrets.token_hex(8))[:63]


def host_settings(connection_string: str) -> dict[str, str]:
    """App settings for a Function App runtime on Azurite: Table state and every queue and
    container under a fresh unique name, so runs sharing one emulator never meet."""
    return {
        "AzureWebJobsStorage": connection_string,
        "VIGIL_STATE": "table",
        "VIGIL_STATE_TABLE": unique_name("state"),
        "INGEST_QUEUE": unique_name("ingest"),
        "DETECT_QUEUE": unique_name("detect"),
        "DETECT_SCOPE_QUEUE": unique_name("detect-scope"),
        "ALERTS_QUEUE": unique_name("alerts"),
        "REMEDIATION_QUEUE": unique_name("remed"),
        "EXPORTS_CONTAINER": unique_name("exports"),
        "COSTS_CONTAINER": unique_name("costs"),
        "DEADLETTER_CONTAINER": unique_name("dead"),
    }


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Azurite:
    """One Azurite process serving Blob, Queue and Table on loopback ports.

    Ports are chosen once (free at construction) and reused across restarts.
    """

    def __init__(
        self,
        location: Path,
        *,
        binary: Path = AZURITE_BIN,
        startup_timeout: float = 30.0,
        in_memory: bool = False,
        tls: tuple[Path, Path] | None = None,
        oauth: bool = False,
    ) -> None:
        """``tls``: (certificate, key) PEM files to serve HTTPS; ``oauth`` (needs ``tls``): Azurite's
        ``--oauth basic``, which accepts a bearer token whose issuer, audience and expiry are valid
        (it does not check the signature) besides the account key."""
        if oauth and tls is None:
            raise ValueError("Azurite's OAuth needs HTTPS: give tls=(cert, key)")
        self.tls = tls
        self.oauth = oauth
        self.location = Path(location)
        self.binary = Path(binary)
        self.startup_timeout = startup_timeout
        self.in_memory = in_memory
        self.blob_port = free_port()
        self.queue_port = free_port()
        self.table_port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path = self.location / "azurite.stderr.log"

    # -- endpoints ---------------------------------------------------------------
    @property
    def _scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def blob_endpoint(self) -> str:
        return f"{self._scheme}://127.0.0.1:{self.blob_port}/{ACCOUNT_NAME}"

    @property
    def queue_endpoint(self) -> str:
        return f"{self._scheme}://127.0.0.1:{self.queue_port}/{ACCOUNT_NAME}"

    @property
    def table_endpoint(self) -> str:
        return f"{self._scheme}://127.0.0.1:{self.table_port}/{ACCOUNT_NAME}"

    @property
    def connection_string(self) -> str:
        """Connection string with explicit endpoints for all three services."""
        return (
            f"DefaultEndpointsProtocol={self._scheme};"
            f"AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={self.blob_endpoint};"
            f"QueueEndpoint={self.queue_endpoint};"
            f"TableEndpoint={self.table_endpoint};"
        )

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle ----------------------------------------------------------------
    def _command(self) -> list[str]:
        cmd = [
            str(self.binary),
            "--silent",
            "--skipApiVersionCheck",
            "--loose",
            "--disableTelemetry",
            "--location",
            str(self.location),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(self.blob_port),
            "--queueHost",
            "127.0.0.1",
            "--queuePort",
            str(self.queue_port),
            "--tableHost",
            "127.0.0.1",
            "--tablePort",
            str(self.table_port),
        ]
        if self.in_memory:
            cmd.append("--inMemoryPersistence")
        if self.tls is not None:
            cmd += ["--cert", str(self.tls[0]), "--key", str(self.tls[1])]
        if self.oauth:
            cmd += ["--oauth", "basic"]
        return cmd

    def _stderr_tail(self, limit: int = 4000) -> str:
        try:
            return self._log_path.read_text(errors="replace")[-limit:]
        except OSError:
            return ""

    def start(self) -> Azurite:
        """Start Azurite (no-op when already running) and wait until all ports accept."""
        if self.running:
            return self
        if not self.binary.exists():
            raise AzuriteError(f"Azurite not found at {self.binary}: run `npm ci` (make test does)")
        self.location.mkdir(parents=True, exist_ok=True)
        with self._log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                self._command(),
                cwd=self.location,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                env={**os.environ, "AZURITE_ACCEPT_EULA": "true"},
            )
        deadline = time.monotonic() + self.startup_timeout
        ports = (self.blob_port, self.queue_port, self.table_port)
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._proc = None
                raise AzuriteError(f"Azurite exited with code {code} during start-up:\n{self._stderr_tail()}")
            if all(_port_open(p) for p in ports):
                return self
            time.sleep(0.05)
        self.stop()
        raise AzuriteError(
            f"Azurite did not accept connections on ports {ports} within {self.startup_timeout:.0f}s:\n"
            f"{self._stderr_tail()}"
        )

    def stop(self, *, timeout: float = 10.0) -> None:
        """Stop gracefully (SIGTERM, so Azurite flushes its metadata to disk), then SIGKILL."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout)
        # Wait until the ports are released so a restart can bind them again.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(
            _port_open(p) for p in (self.blob_port, self.queue_port, self.table_port)
        ):
            time.sleep(0.05)

    def restart(self) -> Azurite:
        self.stop()
        return self.start()

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"Azurite(blob={self.blob_port}, queue={self.queue_port}, table={self.table_port}, {state})"
