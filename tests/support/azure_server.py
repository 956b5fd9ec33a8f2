"""A real local HTTPS server that speaks enough Azure REST for the real SDK clients.

One reusable server for ARM, Resource Graph, Cost Management, Monitor and
remediation tests. It is a ``ThreadingHTTPServer`` behind TLS with a certificate
from a throw-away ``trustme`` CA; SDK clients trust it via
``connection_verify=server.ca_path`` (or ``REQUESTS_CA_BUNDLE``/``SSL_CERT_FILE``).

What it checks and offers:

* ``Authorization: Bearer <token>`` on every request (401 otherwise); give SDK
  clients ``server.credential()`` (a static ``TokenCredential``).
* ``api-version`` per route (400 ``InvalidApiVersionParameter`` otherwise).
* Route registration: ``server.route("GET", r"regex", handler, api_versions={...})``.
  Handlers get a :class:`Request` and the regex match and return a
  :class:`Response` (or a JSON-able body for 200).
* Helpers: ``add_resource`` (ARM GET by id, 404 when absent), ``add_list``
  (ARM ``value``/``nextLink`` paging with ``$skipToken``), ``add_resource_graph``
  (POST ``/providers/Microsoft.ResourceGraph/resources`` with ``$skipToken`` in
  the body), ``add_lro`` (202 + ``Azure-AsyncOperation``/``Location`` polling).
* ``throttle(n, retry_after=1, pattern=None)``: the next ``n`` matching requests get
  429 with ``Retry-After``.
* ``server.requests``: a log of every request (method, path, query, headers, body,
  status) for assertions.

Usage::

    with AzureTestServer() as server:
        server.add_resource(resource, api_versions={"2024-10-01"})
        client = ResourceManagementClient(server.credential(), SUB, base_url=server.url,
                                          connection_verify=server.ca_path)

or the ``azure_server`` pytest fixture below (import it into a test module or conftest).
"""

from __future__ import annotations

import json
import re
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import trustme

__all__ = [
    "AzureTestServer",
    "Request",
    "Response",
    "StaticTokenCredential",
    "azure_server",
    "unsigned_jwt",
]

DEFAULT_TOKEN = "vigil-test-token"


def unsigned_jwt(audience: str = "https://storage.azure.com", *, lifetime_s: int = 3600) -> str:
    """An unsigned JWT (``alg: none``) with a valid issuer, audience and expiry: what Azurite's
    ``--oauth basic`` checks (not the signature). Usable as the test server's token too."""
    import base64

    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    now = int(time.time())
    claims = {
        "aud": audience,
        "iss": "https://sts.windows.net/1e8d8218-c5e7-4578-9acc-9abbd5d23315/",
        "nbf": now - 60,
        "iat": now - 60,
        "exp": now + lifetime_s,
    }
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.{part({'sig': 'none'})}"


@dataclass
class Request:
    method: str
    path: str  # URL path, percent-decoding not applied
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    url: str
    status: int = 0  # filled in after the handler ran

    @property
    def api_version(self) -> str | None:
        values = self.query.get("api-version")
        return values[0] if values else None

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-able, or bytes
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request, "re.Match[str]"], "Response | Any"]


@dataclass
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    api_versions: frozenset[str] | None


@dataclass
class _Throttle:
    remaining: int
    retry_after: int
    pattern: re.Pattern[str] | None


class StaticTokenCredential:
    """A TokenCredential returning a fixed bearer token (azure-core's protocol)."""

    def __init__(self, token: str = DEFAULT_TOKEN) -> None:
        self.token = token
        self.calls = 0

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        self.calls += 1
        return AccessToken(self.token, int(time.time()) + 3600)

    def close(self) -> None:
        return None

    def __enter__(self) -> StaticTokenCredential:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def arm_error(status: int, code: str, message: str) -> Response:
    return Response(status, {"error": {"code": code, "message": message}})


class AzureTestServer:
    def __init__(self, *, token: str = DEFAULT_TOKEN) -> None:
        self.token = token
        self._routes: list[_Route] = []
        self._throttles: list[_Throttle] = []
        self._lock = threading.Lock()
        self.requests: list[Request] = []
        self._resources: dict[str, dict[str, Any]] = {}
        self._resource_versions: dict[str, frozenset[str] | None] = {}
        self._tmp = tempfile.TemporaryDirectory(prefix="azure-server-")
        self._ca = trustme.CA()
        cert = self._ca.issue_cert("127.0.0.1", "localhost")
        self.ca_path = str(Path(self._tmp.name) / "ca.pem")
        self._ca.cert_pem.write_to_path(self.ca_path)
        self._ssl = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(self._ssl)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # Generic ARM GET by id: registered last so specific routes win.
        self._resource_route = _Route("GET", re.compile(r"^(?P<id>/.+)$"), self._get_resource, None)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> AzureTestServer:
        server = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes: avoid 40 ms delayed-ACK stalls

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _handle(self) -> None:
                server._dispatch(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _H)
        httpd.daemon_threads = True
        httpd.socket = self._ssl.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="azure-test-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        self._tmp.cleanup()

    def __enter__(self) -> AzureTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def credential(self) -> StaticTokenCredential:
        return StaticTokenCredential(self.token)

    def issue_cert_files(self, folder: Path) -> tuple[Path, Path]:
        """(certificate chain, private key) PEM files for 127.0.0.1 signed by this server's CA: another local
        HTTPS service (Azurite's ``--cert``/``--key``) that the same ``ca_path`` makes clients trust."""
        cert = self._ca.issue_cert("127.0.0.1", "localhost")
        folder.mkdir(parents=True, exist_ok=True)
        chain, key = folder / "cert.pem", folder / "key.pem"
        chain.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
        cert.private_key_pem.write_to_path(str(key))
        return chain, key

    def ca_env(self) -> dict[str, str]:
        """Environment variables that make requests/httpx/ssl trust this server's CA
        (for code that builds its own clients, e.g. under ``monkeypatch.setenv``)."""
        return {"REQUESTS_CA_BUNDLE": self.ca_path, "SSL_CERT_FILE": self.ca_path}

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for any azure-mgmt client: endpoint, CA, fast retries."""
        return {
            "base_url": self.url,
            "connection_verify": self.ca_path,
            "credential_scopes": ["https://management.azure.com/.default"],
            "retry_backoff_factor": 0.01,
        }

    # ------------------------------------------------------------------ registration

    def route(
        self,
        method: str,
        pattern: str,
        handler: Handler,
        *,
        api_versions: Iterable[str] | None = None,
    ) -> None:
        """Register ``handler`` for ``method`` and a path regex (full match, case-insensitive).

        Later registrations win over earlier ones for the same request.
        """
        with self._lock:
            self._routes.insert(
                0,
                _Route(
                    method.upper(),
                    re.compile(f"^{pattern}$", re.IGNORECASE),
                    handler,
                    frozenset(api_versions) if api_versions is not None else None,
                ),
            )

    def add_resource(self, resource: dict[str, Any], *, api_versions: Iterable[str] | None = None) -> None:
        """Serve ``GET {resource['id']}`` (case-insensitive id); 404 for unknown ids."""
        key = str(resource["id"]).lower().rstrip("/")
        with self._lock:
            self._resources[key] = resource
            self._resource_versions[key] = frozenset(api_versions) if api_versions is not None else None

    def remove_resource(self, resource_id: str) -> None:
        with self._lock:
            self._resources.pop(resource_id.lower().rstrip("/"), None)

    def add_list(
        self,
        method: str,
        pattern: str,
        items: list[Any],
        *,
        page_size: int = 2,
        api_versions: Iterable[str] | None = None,
    ) -> None:
        """An ARM list operation: ``{"value": [...], "nextLink": ...?$skipToken=N}``."""

        def handler(req: Request, _m: re.Match[str]) -> Response:
            start = int(req.param("$skipToken") or 0)
            page = items[start : start + page_size]
            body: dict[str, Any] = {"value": page}
            if start + page_size < len(items):
                api = req.api_version or ""
                body["nextLink"] = f"{self.url}{req.path}?api-version={quote(api)}&$skipToken={start + page_size}"
            return Response(200, body)

        self.route(method, pattern, handler, api_versions=api_versions)

    def add_resource_graph(
        self,
        rows: list[dict[str, Any]],
        *,
        page_size: int = 2,
        api_versions: Iterable[str] = ("2021-03-01", "2022-10-01", "2024-04-01"),
    ) -> list[dict[str, Any]]:
        """Resource Graph ``POST /providers/Microsoft.ResourceGraph/resources``.

        Pages with ``$skipToken`` in the response and ``options.$skipToken`` in the next
        request body; honours ``options.$top`` when smaller than ``page_size``. Returns a
        list that collects each request body, for assertions.
        """
        bodies: list[dict[str, Any]] = []

        def handler(req: Request, _m: re.Match[str]) -> Response:
            body = req.json() or {}
            bodies.append(body)
            if not isinstance(body.get("query"), str):
                return arm_error(400, "BadRequest", "query is required")
            options = body.get("options") or {}
            top = int(options.get("$top") or page_size)
            size = min(top, page_size)
            start = int(options.get("$skipToken") or 0)
            page = rows[start : start + size]
            resp: dict[str, Any] = {
                "totalRecords": len(rows),
                "count": len(page),
                "resultTruncated": "false",
                "data": page,
            }
            if start + size < len(rows):
                resp["$skipToken"] = str(start + size)
            return Response(200, resp)

        self.route("POST", r"/providers/Microsoft\.ResourceGraph/resources", handler, api_versions=api_versions)
        return bodies

    def add_lro(
        self,
        method: str,
        pattern: str,
        *,
        final: Any = None,
        polls: int = 1,
        api_versions: Iterable[str] | None = None,
        header: str = "Azure-AsyncOperation",
        final_status: str = "Succeeded",
        on_done: Callable[[Request], None] | None = None,
    ) -> list[str]:
        """A long-running operation: 202 with ``Azure-AsyncOperation`` (or ``Location``).

        The operation URL answers ``{"status": "InProgress"}`` ``polls`` times, then
        ``final_status`` (with ``final`` as the ``Location`` result body). Returns the
        list of operation ids started, for assertions. ``on_done(start_request)`` runs
        once when the operation finishes, so a test can change the resource's state.
        """
        started: list[str] = []

        def start(req: Request, _m: re.Match[str]) -> Response:
            op = uuid.uuid4().hex
            started.append(op)
            state = {"left": polls, "done": False}
            op_url = f"{self.url}/vigil-test/operations/{op}?api-version={quote(req.api_version or '')}"

            def poll(_req: Request, _m2: re.Match[str]) -> Response:
                if state["left"] > 0:
                    state["left"] -= 1
                    if header.lower() == "location":
                        return Response(202, None, {"Location": op_url, "Retry-After": "0"})
                    return Response(200, {"status": "InProgress"}, {"Retry-After": "0"})
                if on_done is not None and not state["done"]:
                    state["done"] = True
                    on_done(req)
                if header.lower() == "location":
                    return Response(200, final)
                return Response(200, {"status": final_status, **({"properties": final} if final else {})})

            self.route("GET", rf"/vigil-test/operations/{op}", poll)
            return Response(202, None, {header: op_url, "Retry-After": "0"})

        self.route(method, pattern, start, api_versions=api_versions)
        return started

    def throttle(self, count: int = 1, *, retry_after: int = 1, pattern: str | None = None) -> None:
        """The next ``count`` requests (matching ``pattern``, if given) get 429 + Retry-After."""
        with self._lock:
            self._throttles.append(
                _Throttle(count, retry_after, re.compile(pattern, re.IGNORECASE) if pattern else None)
            )

    def requests_to(self, pattern: str, method: str | None = None) -> list[Request]:
        rx = re.compile(pattern, re.IGNORECASE)
        return [r for r in self.requests if rx.search(r.path) and (method is None or r.method == method.upper())]

    # ------------------------------------------------------------------ internals

    def _get_resource(self, req: Request, m: re.Match[str]) -> Response:
        key = m.group("id").lower().rstrip("/")
        with self._lock:
            res = self._resources.get(key)
            versions = self._resource_versions.get(key)
        if res is None:
            return arm_error(404, "ResourceNotFound", f"The Resource '{m.group('id')}' was not found.")
        if versions is not None and req.api_version not in versions:
            return _bad_api_version(req, versions)
        return Response(200, res)

    def _match(self, req: Request) -> tuple[_Route, re.Match[str]] | None:
        with self._lock:
            routes = list(self._routes)
        for r in routes:
            if r.method != req.method:
                continue
            m = r.pattern.match(req.path)
            if m:
                return r, m
        if req.method == "GET":
            m = self._resource_route.pattern.match(req.path)
            if m and m.group("id").lower().rstrip("/") in self._resources:
                return self._resource_route, m
            if m:
                return self._resource_route, m
        return None

    def _take_throttle(self, req: Request) -> _Throttle | None:
        with self._lock:
            for t in self._throttles:
                if t.remaining > 0 and (t.pattern is None or t.pattern.search(req.path)):
                    t.remaining -= 1
                    return t
        return None

    def _respond(self, h: BaseHTTPRequestHandler, req: Request, resp: Response) -> None:
        req.status = resp.status
        if isinstance(resp.body, bytes | bytearray):
            payload = bytes(resp.body)
            ctype = "application/octet-stream"
        elif resp.body is None:
            payload = b""
            ctype = "application/json"
        else:
            payload = json.dumps(resp.body).encode("utf-8")
            ctype = "application/json; charset=utf-8"
        h.send_response(resp.status)
        h.send_header("Content-Type", resp.headers.get("Content-Type", ctype))
        h.send_header("Content-Length", str(len(payload)))
        h.send_header("x-ms-request-id", str(uuid.uuid4()))
        for k, v in resp.headers.items():
            if k.lower() != "content-type":
                h.send_header(k, v)
        h.end_headers()
        if req.method != "HEAD":
            h.wfile.write(payload)

    def _dispatch(self, h: BaseHTTPRequestHandler) -> None:
        split = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        req = Request(
            method=h.command.upper(),
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=dict(h.headers.items()),
            body=body,
            url=h.path,
        )
        with self._lock:
            self.requests.append(req)
        auth = h.headers.get("Authorization", "")
        if auth != f"Bearer {self.token}":
            self._respond(h, req, arm_error(401, "AuthenticationFailed", "missing or invalid bearer token"))
            return
        t = self._take_throttle(req)
        if t is not None:
            resp = arm_error(429, "TooManyRequests", "throttled by the test server")
            resp.headers["Retry-After"] = str(t.retry_after)
            self._respond(h, req, resp)
            return
        found = self._match(req)
        if found is None:
            self._respond(h, req, arm_error(404, "NotFound", f"no route for {req.method} {req.path}"))
            return
        route, m = found
        if route.api_versions is not None and req.api_version not in route.api_versions:
            self._respond(h, req, _bad_api_version(req, route.api_versions))
            return
        try:
            out = route.handler(req, m)
        except Exception as exc:  # a broken test handler should show up as a 500, not a hang
            self._respond(h, req, arm_error(500, "TestServerHandlerError", f"{type(exc).__name__}: {exc}"))
            return
        resp = out if isinstance(out, Response) else Response(200, out)
        self._respond(h, req, resp)


def _bad_api_version(req: Request, versions: frozenset[str]) -> Response:
    return arm_error(
        400,
        "InvalidApiVersionParameter" if req.api_version else "MissingApiVersionParameter",
        f"The api-version '{req.api_version}' is invalid. The supported versions are '{','.join(sorted(versions))}'.",
    )


@pytest.fixture
def azure_server() -> Iterator[AzureTestServer]:
    """A started :class:`AzureTestServer`, stopped after the test."""
    with AzureTestServer() as server:
        yield server
