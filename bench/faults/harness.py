"""Shared pieces of the fault-injection scenarios: a real local HTTP receiver and scale.

:class:`Receiver` is a real HTTP server (stdlib, in a thread) standing in for Teams or a
webhook endpoint. A ``script`` decides each answer (status, body, headers, delay or a
dropped connection); every request is recorded with its notification key (the
``X-Vigil-Key`` header the webhook channel sends) and the statuses/fingerprints of the
alerts in its body. A request counts as a *delivery* only when the server answered it
with 2xx and no throttling text in the body, which is what the sender can observe.

The port can be fixed (``port=``) so a test can take the endpoint away (connection
refused) and bring it back on the same URL.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Answer", "Receiver", "Request", "fault_scale", "free_port", "hook_config", "scaled"]

SCALE_ENV = "VIGIL_FAULT_SCALE"


def fault_scale(default: float = 0.05) -> float:
    """``VIGIL_FAULT_SCALE`` (0 < s <= 1): 1 is the issue's full size; ``make test`` uses the small default."""
    raw = os.environ.get(SCALE_ENV, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{SCALE_ENV} must be a number in (0, 1], got {raw!r}") from None
    if not 0 < value <= 1:
        raise ValueError(f"{SCALE_ENV} must be in (0, 1], got {raw!r}")
    return value


def scaled(full: int, scale: float, minimum: int = 1) -> int:
    return max(minimum, round(full * scale))


def hook_config(url: str, **webhook: Any) -> dict[str, Any]:
    """Wire-form alerts config: one webhook receiver, one alert per group, notified at once,
    never repeated during a run (the event storm and the storage outage both use it)."""
    return {
        "route": {
            "receiver": "hook",
            "group_by": ["..."],
            "group_wait": "0s",
            "group_interval": "1m",
            "repeat_interval": "1000h",
        },
        "receivers": [{"name": "hook", "webhook_configs": [{"url": url, "max_retries": 0, **webhook}]}],
    }


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Answer:
    status: int = 202
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering (longer than the client timeout = a timeout)
    drop: bool = False  # close the connection without answering


@dataclass
class Request:
    key: str
    body: bytes
    answer: Answer
    answered: bool = False

    @property
    def delivered(self) -> bool:
        a = self.answer
        return self.answered and not a.drop and 200 <= a.status < 300 and "429" not in a.body

    def alerts(self) -> list[tuple[str, str, str]]:
        """(fingerprint, labels.resource_id, status) of each alert in a webhook body."""
        try:
            doc = json.loads(self.body)
        except ValueError:
            return []
        return [
            (str(a.get("fingerprint")), str((a.get("labels") or {}).get("resource_id", "")), str(a.get("status")))
            for a in doc.get("alerts", [])
        ]


Script = Callable[[int, "Request"], Answer]


class Receiver:
    """A real HTTP server on 127.0.0.1; ``start()``/``stop()`` may be repeated on the same port."""

    def __init__(self, script: Script | None = None, *, port: int | None = None) -> None:
        self.script: Script = script or (lambda n, r: Answer())
        self.port = port or free_port()
        self.requests: list[Request] = []
        self.on_request: Callable[[int, Request], None] | None = None  # before answering
        self.after_answer: Callable[[int, Request], None] | None = None  # after a complete answer
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # headers and body leave in separate writes: without this, Nagle + delayed ACK cost 40 ms each
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                req = Request(self.headers.get("X-Vigil-Key", ""), body, Answer())
                with outer._lock:
                    idx = len(outer.requests)
                    req.answer = outer.script(idx, req)
                    outer.requests.append(req)
                if outer.on_request is not None:
                    outer.on_request(idx, req)
                a = req.answer
                if a.delay:
                    time.sleep(a.delay)
                if a.drop:
                    self.close_connection = True
                    return
                data = a.body.encode()
                req.answered = True  # before the bytes leave: the client cannot see 2xx first
                try:
                    self.send_response(a.status)
                    for k, v in a.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(data)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    req.answered = False
                if req.answered and outer.after_answer is not None:
                    outer.after_answer(idx, req)
                self.close_connection = True

        return Handler

    def start(self) -> Receiver:
        if self._server is not None:
            return self
        server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- counting ------------------------------------------------------------------------

    def delivered(self) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.delivered]

    def deliveries_by_key(self) -> Counter[str]:
        return Counter(r.key for r in self.delivered())

    def delivered_alerts(self) -> list[tuple[str, str, str]]:
        return [a for r in self.delivered() for a in r.alerts()]
