"""The examples every ``vigil`` command shows at the end of its ``--help``.

They are written for the folder where ``make demo`` (``vigil demo --out out``) and ``vigil init`` ran: the
demo's ``out/`` and a ``vigil.yaml``. tests/vigil/test_help_examples.py reads them back from ``--help``
and runs each one against the demo, so an example that stops working fails a test. Only the commands
listed in :data:`NOT_RUN` are not run there, each for the reason given.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

__all__ = ["DAILY_SERIES", "EXAMPLES", "NOT_RUN", "SILENCE_ID", "add_examples"]

SUB = "6513270e-269e-4d37-b2a7-4de452e6b438"  # the demo's "Contoso Production" subscription
SILENCE_ID = "SILENCE_ID"  # the id `vigil silence add` prints
DAILY_SERIES = "out/daily.csv"  # the daily cost series `vigil costs summary --series` writes

EXAMPLES: dict[tuple[str, ...], list[str]] = {
    ("demo",): ["vigil demo --out out"],
    ("run",): ["vigil run --tenant out/tenant --out out", "vigil run --tenant out/tenant --out out --json"],
    ("digest",): [
        "vigil digest --data out/data/costs --week 2026-W48 --findings out/alerts.jsonl --out out/digest-w48.html"
        " --eml out/digest-w48.eml",
        "vigil digest --data out/data/costs --week 2026-W47 --scope subscription=" + SUB + " --out out/w47.html",
        "vigil digest --data out/data/costs --week 2026-W48 --out out/w48.html --config vigil.yaml",
    ],
    ("init",): ["vigil init -s " + SUB + " --out vigil.yaml"],
    ("serve",): ["vigil serve --state out/state.db", "vigil serve --state out/state.db --role reader --port 0"],
    ("ingest", "cost"): [
        "vigil ingest cost out/tenant/exports --out out/data/costs --no-progress",
        "vigil ingest cost out/tenant/focus/aws --out out/data/costs --no-progress",
    ],
    ("costs", "summary"): [
        "vigil costs summary --data out/data/costs --by service",
        "vigil costs summary --data out/data/costs --by resource-group --json",
        f"vigil costs summary --data out/data/costs --by day --series {DAILY_SERIES}",
    ],
    ("drift", "evaluate"): [
        "vigil drift evaluate -r out/tenant/resources",
        "vigil drift evaluate -r out/tenant/resources -a out/tenant/policy --json",
    ],
    ("drift", "rules"): ["vigil drift rules"],
    ("drift", "aliases", "refresh"): ["vigil drift aliases refresh --subscription " + SUB],
    ("events", "replay"): ["vigil events replay --tenant out/tenant --state out/replay.db --out out/replay"],
    ("detect", "anomalies"): [
        f"vigil detect anomalies -i {DAILY_SERIES} -o out/daily-scored.csv --profile cost",
    ],
    ("detect", "overspend"): ["vigil detect overspend -d out/data/costs --now 2026-11-25T00:00:00Z"],
    ("detect", "idle"): ["vigil detect idle -t out/tenant", "vigil detect idle -t out/tenant --all --json"],
    ("alerts", "list"): ["vigil alerts list --state out/state.db", "vigil alerts list --state out/state.db --json"],
    ("alerts", "ack"): [
        'vigil alerts ack 4232b7bf5c15cafb --by alice --comment "batch job rerun, expected" --state out/state.db'
    ],
    ("alerts", "outbox"): ["vigil alerts outbox --state out/state.db"],
    ("alerts", "dispatch"): ["vigil alerts dispatch --state out/state.db --outbox-dir out/dispatched"],
    ("alerts", "routes", "test"): [
        "vigil alerts routes test --config vigil.yaml detector=drift severity=high",
        "vigil alerts routes test --config vigil.yaml --tree",
    ],
    ("silence", "add"): [
        'vigil silence add -m alertname="vm_shutdown_candidate" -d 2h -c "planned maintenance" -a alice'
        " --state out/state.db"
    ],
    ("silence", "list"): ["vigil silence list --state out/state.db --all"],
    ("silence", "expire"): ["vigil silence expire " + SILENCE_ID + " --state out/state.db"],
    ("remediate", "plan"): ["vigil remediate plan --tenant out/tenant --config vigil.yaml"],
    ("remediation", "log"): ["vigil remediation log --state out/state.db"],
    ("config", "schema"): ["vigil config schema --out vigil.schema.json"],
    ("config", "validate"): ["vigil config validate vigil.yaml"],
    ("config", "init"): ["vigil config init -s " + SUB + " --out vigil.yaml"],
}

# Shown in --help but not run by the test, and why.
NOT_RUN: Mapping[tuple[str, ...], str] = {
    ("serve",): "starts a web server that runs until stopped",
    ("drift", "aliases", "refresh"): "reads the policy aliases from Azure Resource Manager (no Azure here)",
}


def _epilog(lines: list[str]) -> str:
    # Typer's help keeps a paragraph per blank-line-separated block: one example per line.
    return "\n\n".join(["Examples (in the folder of `make demo` and `vigil init`):", *(f"  {x}" for x in lines)])


def _reflow(doc: str) -> str:
    """``doc`` with each paragraph on one line, so the console wraps it at its own width.

    Typer's rich help keeps a docstring's single line breaks after the first paragraph, so text wrapped at
    the source's width came out broken twice (the source's breaks inside the console's). Lines that begin a
    list item (``- ``) stay on lines of their own. reST literals (double backquotes) show as Markdown's single ones.
    """
    paragraphs = []
    for para in inspect.cleandoc(doc).split("\n\n"):
        lines: list[str] = []
        for line in para.splitlines():
            if lines and not line.lstrip().startswith("- "):
                lines[-1] = f"{lines[-1]} {line.strip()}"
            else:
                lines.append(line.strip())
        paragraphs.append("\n".join(lines).replace("``", "`"))
    return "\n\n".join(paragraphs)


def add_examples(app: Any, path: tuple[str, ...] = ()) -> None:
    """Set each command's ``--help`` epilog from :data:`EXAMPLES` (every command must have one), and its help
    from its docstring with each paragraph on one line (:func:`_reflow`)."""
    from typer.main import get_command_name

    for info in app.registered_commands:
        name = info.name or get_command_name(info.callback.__name__)
        key = (*path, name)
        if key not in EXAMPLES:
            raise KeyError(f"vigil {' '.join(key)}: no --help example in vigil/cli/examples.py")
        info.epilog = _epilog(EXAMPLES[key])
        doc = info.help or inspect.getdoc(info.callback)
        if doc:
            info.help = _reflow(doc)
    for group in app.registered_groups:
        sub = group.typer_instance
        add_examples(sub, (*path, group.name or sub.info.name))
