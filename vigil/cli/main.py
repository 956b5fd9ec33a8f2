"""The ``vigil`` command line. Each command group lives in its own module.

Group modules keep heavy imports (pandas, Azure SDKs) inside their commands so
that ``vigil --help`` stays fast.
"""

from __future__ import annotations

import re
from typing import Any

import typer
from typer.core import TyperArgument, TyperOption

from vigil.cli import (
    alerts_cmds,
    config_cmds,
    cost_cmds,
    detect_cmds,
    digest_cmds,
    drift_cmds,
    events_cmds,
    examples,
    remediation_cmds,
    run_cmds,
    serve_cmds,
    silence_cmds,
)

_REPEATABLE = re.compile(r"<list\[(\w+)\]>")
_SIMPLE = {"str": "<text>", "path": "<path>", "float": "<number>", "int": "<int>"}
_DURATION_OPTIONS = {"duration", "window", "since", "lookback", "ttl", "grace", "interval"}


def _display_type(self: TyperOption, ctx: Any) -> str | None:
    """Option help labelled by what to type: ``flag``, ``path``, ``duration``, ``time``, else the type."""
    label = _typer_display_type(self, ctx)
    if self.metavar is not None or label is None:
        return label
    if self.is_flag:
        return "flag"
    name = (self.name or "").lower()
    if label == "<str>" and name in _DURATION_OPTIONS:
        return "<duration>"
    if label == "<str>" and name == "now":
        return "<time>"
    return _relabel(label)


def _relabel(label: str) -> str:
    """``<str>`` as ``<text>``, ``<float>`` as ``<number>``, ``<list[Path]>`` as ``<path>…`` (repeatable)."""
    repeat = _REPEATABLE.fullmatch(label)
    if repeat:  # one value per use of the option (or several arguments)
        return f"{_SIMPLE.get(repeat.group(1).lower(), '<' + repeat.group(1).lower() + '>')}…"
    if label.startswith("<int range>"):
        return "<int>"  # the bounds follow in the help, e.g. [x>=0]
    return _SIMPLE.get(label.strip("<>").lower(), label)


def _argument_type(self: TyperArgument, ctx: Any) -> str | None:
    label = _typer_argument_type(self, ctx)
    return label if label is None or self.metavar is not None else _relabel(label)


_typer_display_type = TyperOption.display_type_rich
TyperOption.display_type_rich = _display_type  # type: ignore[method-assign]
_typer_argument_type = TyperArgument.display_type_rich
TyperArgument.display_type_rich = _argument_type  # type: ignore[method-assign,assignment]

app = typer.Typer(
    name="vigil",
    help="Vigil: event-driven cost and security monitoring for Azure.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

run_cmds.register(app)  # vigil demo, vigil run
app.add_typer(cost_cmds.ingest_app, name="ingest")
app.add_typer(cost_cmds.costs_app, name="costs")
app.add_typer(drift_cmds.app, name="drift")
app.add_typer(events_cmds.app, name="events")
app.add_typer(detect_cmds.app, name="detect")
app.add_typer(alerts_cmds.app, name="alerts")
app.add_typer(silence_cmds.app, name="silence")
app.add_typer(remediation_cmds.remediate_app, name="remediate")
app.add_typer(remediation_cmds.remediation_app, name="remediation")
digest_cmds.register(app)  # vigil digest
app.add_typer(config_cmds.app, name="config")
app.command("init")(config_cmds.init)  # vigil init (also `vigil config init`)
serve_cmds.register(app)  # vigil serve
examples.add_examples(app)  # every command's --help ends with examples that work on the demo


def main() -> None:
    app()


if __name__ == "__main__":
    main()
