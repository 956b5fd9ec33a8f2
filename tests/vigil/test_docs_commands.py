"""Every `vigil` command shown in README.md and docs/*.md exists with the options shown, and the
runnable ones (no placeholders) succeed against the demo (issue 21: docs that cannot drift)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vigil.cli.main import app

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
# Shown but not run here: they start servers, rebuild the demo (the fixture runs `vigil demo` itself) or
# read a live Azure tenant (tests/vigil/test_run_live.py runs that against the local HTTPS server).
NOT_RUN = ("vigil serve", "vigil demo", "vigil run --config")
_PLACEHOLDER = re.compile(r"\b[A-Z]{2,}\b|…|\.\.\.|<[^>]+>")


def _commands(*, fenced_only: bool = False) -> list[tuple[str, str]]:
    """(doc, command) for each `vigil` command in a fenced block (and, unless ``fenced_only``, in
    inline code, where it is usually a mention such as `vigil run` rather than a line to copy)."""
    found: list[tuple[str, str]] = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        blocks = re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.DOTALL)
        for block in blocks:
            joined = re.sub(r"\\\n\s*", " ", block)
            for raw in joined.splitlines():
                line = raw.strip().removeprefix("$ ")
                if line.startswith("vigil "):
                    found.append((doc.name, line.split("  #")[0].split(" # ")[0].strip()))
        if fenced_only:
            continue
        outside = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
        found += [(doc.name, m) for m in re.findall(r"`(vigil [^`]+)`", outside)]
    return sorted(set(found))


COMMANDS = _commands()


def _path(cmd: str) -> list[str]:
    words = []
    for w in shlex.split(cmd)[1:]:
        if w.startswith(("-", "[")) or not re.fullmatch(r"[a-z][a-z-]*", w):
            break
        words.append(w)
    return words


def test_the_docs_show_commands() -> None:
    assert len(COMMANDS) > 20


@pytest.mark.parametrize(("doc", "cmd"), COMMANDS, ids=[f"{d}:{c}" for d, c in COMMANDS])
def test_every_documented_command_and_option_exists(doc: str, cmd: str) -> None:
    runner = CliRunner()
    path = _path(cmd)
    while path:  # `vigil alerts routes test`: the longest prefix that is a command
        result = runner.invoke(app, [*path, "--help"])
        if result.exit_code == 0:
            break
        path.pop()
    assert path, f"{doc}: {cmd!r} names no vigil command"
    text = re.sub(r"\s+", " ", result.stdout)
    for opt in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", cmd):
        assert opt in text, f"{doc}: {cmd!r}: `vigil {' '.join(path)}` has no option {opt}"


@pytest.fixture(scope="module")
def demo_cwd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the demo's out/ and a `vigil init` vigil.yaml, as after the README's first steps."""
    cwd = tmp_path_factory.mktemp("docs")
    runner = CliRunner()
    result = runner.invoke(app, ["demo", "--out", str(cwd / "out")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    init = ["init", "-s", "6513270e-269e-4d37-b2a7-4de452e6b438", "--out", str(cwd / "vigil.yaml")]
    assert runner.invoke(app, init).exit_code == 0
    return cwd


RUNNABLE = [
    (d, c)
    for d, c in _commands(fenced_only=True)
    if not c.startswith(NOT_RUN) and not _PLACEHOLDER.search(c) and "[" not in c and "alertmanager.yml" not in c
]


@pytest.mark.parametrize(("doc", "cmd"), RUNNABLE, ids=[f"{d}:{c}" for d, c in RUNNABLE])
def test_every_runnable_documented_command_works_on_the_demo(
    doc: str, cmd: str, demo_cwd: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(demo_cwd)
    result = CliRunner().invoke(app, shlex.split(cmd)[1:])
    assert result.exit_code == 0, f"{doc}: {cmd!r} failed:\n{result.output}"


def test_alert_names_in_docs_and_help_are_registered_rules() -> None:
    """An example matcher names a rule that exists (`vigil silence add -m alertname="…"`)."""
    from detectors.registry import all_rules

    rules = {r.id for r in all_rules()}
    sources = {d.name: d.read_text(encoding="utf-8") for d in DOCS}
    for sub in (["silence", "add"], ["alerts", "list"]):
        sources[" ".join(sub)] = CliRunner().invoke(app, [*sub, "--help"], terminal_width=400).stdout
    named = {(src, n) for src, text in sources.items() for n in re.findall(r'alertname="([^"|~]+)"', text)}
    assert named
    assert [x for x in sorted(named) if x[1] not in rules] == []


_WORDS = {"three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}


def test_demo_counts_and_planted_problems_in_docs_and_help_match_the_demo(demo_cwd: Path) -> None:
    import json

    tenant = demo_cwd / "out" / "tenant"
    meta = json.loads((tenant / "tenant.json").read_text(encoding="utf-8"))
    n_resources = sum(1 for _ in (tenant / "resources").rglob("*.json"))
    n_subs, n_planted = len(meta["subscriptions"]), len(meta["planted"])
    layout = (REPO / "docs" / "tenant-layout.md").read_text(encoding="utf-8")
    assert f"{n_resources} resources" in layout
    table = layout.split("Planted problems:", 1)[1].split("\n\n", 2)[1]
    rows = [r for r in table.splitlines() if r.startswith("| ") and not r.startswith("| Problem")]
    assert len(rows) == n_planted, rows
    helptext = re.sub(r"\s+", " ", CliRunner().invoke(app, ["demo", "--help"], terminal_width=400).stdout)
    assert f"({n_subs} subscriptions, {n_resources} resources," in helptext
    word = next(w for w, n in _WORDS.items() if n == n_planted)
    assert f"has {word} planted problems" in helptext
    # what the demo raised and wrote, as the docs and the help say it
    alerts = [json.loads(line) for line in (demo_cwd / "out" / "alerts.jsonl").read_text(encoding="utf-8").splitlines()]
    outbox = [p for p in (demo_cwd / "out" / "outbox").iterdir() if p.is_file()]
    sweep = [a for a in alerts if a["labels"]["alertname"] == "ml_compute_idle_shutdown"]
    assert [a["labels"]["resource_id"].rsplit("/", 1)[-1] for a in sweep] == ["ci-bob"]
    assert len(alerts) == n_planted + len(sweep)
    assert f"raises {len(alerts)} alerts and writes {len(outbox)} files to `out/outbox/`" in re.sub(r"\s+", " ", layout)
    assert "ci-bob" in helptext
