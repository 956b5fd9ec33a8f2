"""`vigil serve`: the triage console on this machine, over a local state store.

Binds to loopback only and requires a token printed at start (the URL carries it once;
the console then keeps it in an HttpOnly, SameSite=Strict cookie). Starlette, uvicorn
and the console are imported when the command runs, never for ``vigil --help``.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
from pathlib import Path

import typer

ROLE_NAMES = {"reader": "Vigil.Reader", "triager": "Vigil.Triager", "approver": "Vigil.Approver"}


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def register(app: typer.Typer) -> None:
    """Adds the ``serve`` command."""

    @app.command("serve")
    def serve(
        state: Path = typer.Option(Path("out/state.db"), "--state", help="SQLite state store to read and write."),
        port: int = typer.Option(8765, "--port", help="TCP port (0: any free port)."),
        host: str = typer.Option("127.0.0.1", "--host", help="Loopback address to bind (127.0.0.1 or ::1)."),
        config: Path | None = typer.Option(
            None, "--config", help="vigil.yaml for the remediation mode (default: the demo config)."
        ),
        role: list[str] = typer.Option(
            [], "--role", help="Grant only these roles: reader, triager, approver (repeatable; default: all)."
        ),
        name: str = typer.Option("local user", "--name", help="The name recorded as author, acknowledger, approver."),
        tenant: Path | None = typer.Option(
            None,
            "--tenant",
            help="Tenant folder for current ARM JSON and the Activity Log on drift timelines "
            "(default: the tenant/ beside --state, when there is one).",
        ),
    ) -> None:
        """Serve the triage console at http://127.0.0.1:PORT/ (loopback only, token required)."""
        try:
            if not ipaddress.ip_address(host).is_loopback:
                raise ValueError
        except ValueError:
            typer.echo(f"error: --host {host!r}: the console binds to a loopback address only", err=True)
            raise typer.Exit(2) from None
        unknown = [r for r in role if r.lower() not in ROLE_NAMES]
        if unknown:
            typer.echo(f"error: --role {unknown[0]!r}: expected reader, triager or approver", err=True)
            raise typer.Exit(2)
        if not state.exists():
            typer.echo(f"error: {state} does not exist: run `vigil demo` (or `vigil run`) first", err=True)
            raise typer.Exit(2)

        import uvicorn

        from core.state import open_store
        from vigil.cli.run_cmds import DEMO_CONFIG
        from vigil.config import ConfigError, load_config
        from vigil.console.app import create_app
        from vigil.console.auth import ALL_ROLES, LocalTokenAuth
        from vigil.console.hosts import console_config
        from vigil.runtime_local import LocalRuntime

        try:
            cfg = load_config(config or DEMO_CONFIG)
        except ConfigError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        roles = [ROLE_NAMES[r.lower()] for r in role] or list(ALL_ROLES)
        token = secrets.token_urlsafe(24)
        store = open_store("sqlite", path=state)
        from vigil.pipeline import DATA_DIR

        rt = LocalRuntime(cfg, store, state.parent / DATA_DIR)  # blobs (the cost store) where `vigil run` writes them
        auth = LocalTokenAuth(token, roles=roles, name=name)
        cc = console_config(rt, auth=auth, secret=secrets.token_bytes(32))
        folder = tenant or state.parent / "tenant"
        if tenant is not None or (folder / "tenant.json").exists():
            from core.sources import SourceError
            from vigil.console.hosts import tenant_sources

            try:
                cc.resource_reader, cc.activity = tenant_sources(folder)
            except SourceError as exc:
                typer.echo(f"error: --tenant: {exc}", err=True)
                raise typer.Exit(2) from None
        asgi = create_app(cc)
        chosen = port or _free_port(host)
        shown = f"[{host}]" if ":" in host else host
        typer.echo(f"Vigil console on {state} as {name!r} with roles {', '.join(roles)}")
        typer.echo(f"open: http://{shown}:{chosen}/login?token={token}", color=False)
        try:
            uvicorn.run(asgi, host=host, port=chosen, log_level="warning", access_log=False)
        finally:
            store.close()
