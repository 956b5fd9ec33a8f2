"""``http_config`` (Prometheus' common HTTP client config) applied to an httpx client, for every HTTP channel.

Supported: ``basic_auth``, ``authorization``, ``bearer_token``/``bearer_token_file``, ``tls_config``
(``ca_file``, ``cert_file``/``key_file``, ``insecure_skip_verify``), ``proxy_url`` and
``follow_redirects``. ``oauth2`` and ``proxy_connect_header`` load but are not applied:
:func:`unsupported_http_options` names them so ``vigil config validate`` can warn.
"""

from __future__ import annotations

import base64
import ssl
from pathlib import Path
from typing import Generic, TypeVar

import httpx

from alerts.amconfig import GlobalConfig, HTTPClientConfig
from alerts.notify import DirectorySink
from alerts.template import EMPTY, library

__all__ = ["auth_headers", "make_client", "read_secret", "unsupported_http_options"]


def read_secret(value: str | None, path: str | None) -> str | None:
    """A secret given inline or as ``*_file`` (stripped of the trailing newline)."""
    if value:
        return value
    if path:
        return Path(path).read_text(encoding="utf-8").strip()
    return None


def auth_headers(cfg: HTTPClientConfig | None) -> dict[str, str]:
    if cfg is None:
        return {}
    if cfg.basic_auth is not None:
        b = cfg.basic_auth
        user = read_secret(b.username, b.username_file) or ""
        pw = read_secret(b.password, b.password_file) or ""
        return {"Authorization": "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()}
    if cfg.authorization is not None:
        a = cfg.authorization
        cred = read_secret(a.credentials, a.credentials_file) or ""
        return {"Authorization": f"{a.type} {cred}"}
    token = read_secret(cfg.bearer_token, cfg.bearer_token_file)
    if token:
        return {"Authorization": f"Bearer {token}"}
    return {}


def _verify(cfg: HTTPClientConfig | None) -> ssl.SSLContext | bool:
    tls = cfg.tls_config if cfg else None
    if tls is None:
        return True
    if tls.insecure_skip_verify:
        return False
    ctx = ssl.create_default_context(cafile=tls.ca_file) if tls.ca_file else ssl.create_default_context()
    if tls.cert_file and tls.key_file:
        ctx.load_cert_chain(tls.cert_file, tls.key_file)
    return ctx


def make_client(
    cfg: HTTPClientConfig | None, *, timeout: float, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    return httpx.Client(
        transport=transport,
        timeout=timeout,
        verify=_verify(cfg),
        proxy=cfg.proxy_url if cfg and cfg.proxy_url else None,
        follow_redirects=cfg.follow_redirects if cfg else True,
    )


def unsupported_http_options(cfg: HTTPClientConfig | None) -> list[str]:
    if cfg is None:
        return []
    out = []
    if cfg.oauth2 is not None:
        out.append("oauth2")
    if cfg.proxy_connect_header:
        out.append("proxy_connect_header")
    if cfg.no_proxy or cfg.proxy_from_environment:
        out.append("no_proxy/proxy_from_environment")
    return out


C = TypeVar("C")


class AlertmanagerReceiver(Generic[C]):
    """What every alertmanager.yml receiver type Vigil delivers to holds: its config, the ``global``
    block, the ``templates:`` library, and where it sends (a sink folder, or HTTP through ``transport``)."""

    def __init__(
        self,
        cfg: C,
        *,
        global_cfg: GlobalConfig | None = None,
        sink: DirectorySink | None = None,
        transport: httpx.BaseTransport | None = None,
        templates: tuple[str, ...] = (),
    ) -> None:
        self.lib = library(templates) if templates else EMPTY
        self.cfg = cfg
        self.g = global_cfg or GlobalConfig()
        self.sink = sink
        self._transport = transport
