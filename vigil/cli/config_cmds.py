"""`vigil config`: validate vigil.yaml and print its JSON Schema."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(help="Validate vigil.yaml and print its JSON Schema.", no_args_is_help=True)


@app.command("schema")
def schema(out: Path | None = typer.Option(None, "--out", help="Write the schema to this file.")) -> None:
    """Print the JSON Schema of vigil.yaml (for editors)."""
    from vigil.config import json_schema

    text = json_schema()
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")


@app.command("validate")
def validate(path: Path = typer.Argument(..., help="The vigil.yaml to check.")) -> None:
    """Validate a config file; errors name the key path."""
    from alerts.amcheck import config_warnings
    from vigil.cli.common import load_config_or_exit

    cfg = load_config_or_exit(path)
    warnings = config_warnings(cfg, base_dir=path.parent)
    for key, msg in warnings:
        typer.echo(f"{path}: warning: {key}: {msg}", err=True)
    typer.echo(f"{path}: ok" + (f" ({len(warnings)} warning(s))" if warnings else ""))
