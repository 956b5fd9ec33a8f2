"""Every `vigil` command's --help ends with examples, and each example works on the demo (issue 21: "examples
in --help that work on the demo"). The examples are read back from the --help text itself, so an example
that is not shown, or no longer works, fails here."""

from __future__ import annotations

import inspect
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from vigil.cli.examples import DAILY_SERIES, NOT_RUN, SILENCE_ID
from vigil.cli.main import app

runner = CliRunner()


def _paths(cmd: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    subs = getattr(cmd, "commands", None)
    if not subs:
        return [path]
    return [p for name, sub in sorted(subs.items()) for p in _paths(sub, (*path, name))]


COMMANDS = _paths(get_command(app))


def _examples(path: tuple[str, ...]) -> list[str]:
    result = runner.invoke(app, [*path, "--help"], terminal_width=1000)
    assert result.exit_code == 0, result.output
    text = result.stdout
    if "Examples (" not in text:
        return []
    block = text.split("Examples (", 1)[1]
    # one example per paragraph; rich wraps a long one over several lines at the console's width
    paragraphs = [" ".join(ln.strip() for ln in p.splitlines()) for p in re.split(r"\n\s*\n", block)]
    return [p for p in paragraphs if p.startswith("vigil ")]


def test_the_cli_has_its_commands() -> None:
    assert len(COMMANDS) >= 25
    assert ("silence", "expire") in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_every_command_shows_examples_of_itself_with_options_it_has(path: tuple[str, ...]) -> None:
    examples = _examples(path)
    assert examples, f"vigil {' '.join(path)} --help shows no example"
    help_text = re.sub(r"\s+", " ", runner.invoke(app, [*path, "--help"], terminal_width=1000).stdout)
    for ex in examples:
        words = shlex.split(ex)
        assert tuple(words[1 : 1 + len(path)]) == path, ex
        for opt in re.findall(r"(?<![\w-])(--?[a-z][a-z-]*)(?==|\s|$)", " ".join(words[1 + len(path) :])):
            assert f"{opt} " in help_text or f"{opt}," in help_text, (ex, opt)


def _summary(cmd: Any) -> str:
    """What a group's command list shows for ``cmd``: its short help, else its help's first paragraph."""
    text = cmd.short_help or cmd.help or ""
    return str(text).split("\n\n", 1)[0].strip()


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_every_command_summary_is_one_line(path: tuple[str, ...]) -> None:
    """Rich keeps a docstring's line breaks in the command list, so a first paragraph written over two
    source lines shows as a sentence broken in mid-table (`vigil --help` showed "an 8-week" then a gap)."""
    cmd: Any = get_command(app)
    for name in path:
        cmd = cmd.commands[name]
    summary = _summary(cmd)
    assert summary, f"vigil {' '.join(path)} has no help"
    assert "\n" not in summary, f"vigil {' '.join(path)}: the summary spans lines: {summary!r}"


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_help_paragraphs_wrap_at_the_console_width(path: tuple[str, ...]) -> None:
    """Typer's rich help keeps single line breaks after the first paragraph: a docstring wrapped at the
    source's width showed as lines broken twice (`vigil ingest cost --help`: "(bad" then "rows go to the"
    on a line of its own). Each paragraph of the help that Typer renders is one line, which the console
    wraps at its width; only list items (``- ``) start lines of their own."""
    cmd: Any = get_command(app)
    for name in path:
        cmd = cmd.commands[name]
    for para in inspect.cleandoc(cmd.help or "").partition("\f")[0].split("\n\n"):
        lines = para.splitlines()
        assert all(ln.lstrip().startswith("- ") for ln in lines[1:]), (path, para)
    assert "``" not in (cmd.help or ""), f"vigil {' '.join(path)}: reST literal shown as typed"


@pytest.fixture(scope="module")
def demo_cwd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder of `make demo` and `vigil init`: out/ and vigil.yaml."""
    cwd = tmp_path_factory.mktemp("help")
    result = runner.invoke(app, ["demo", "--out", str(cwd / "out")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    init = ["init", "-s", "6513270e-269e-4d37-b2a7-4de452e6b438", "--out", str(cwd / "vigil.yaml")]
    assert runner.invoke(app, init).exit_code == 0
    return cwd


RUNNABLE = [(p, ex) for p in COMMANDS if p not in NOT_RUN for ex in _examples(p)]


def test_only_the_listed_commands_are_not_run() -> None:
    assert set(NOT_RUN) <= set(COMMANDS)
    assert {p for p, _ in RUNNABLE} == set(COMMANDS) - set(NOT_RUN)


@pytest.mark.parametrize(("path", "example"), RUNNABLE, ids=[ex for _, ex in RUNNABLE])
def test_every_help_example_works_on_the_demo(
    path: tuple[str, ...], example: str, demo_cwd: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = shlex.split(example)[1:]
    if path in {("init",), ("config", "init")}:
        monkeypatch.chdir(tmp_path)  # it writes a new vigil.yaml (the demo folder has one)
    else:
        monkeypatch.chdir(demo_cwd)
    if SILENCE_ID in args:  # the id the matching `silence add` example prints
        added = runner.invoke(app, shlex.split(_examples(("silence", "add"))[0])[1:])
        assert added.exit_code == 0, added.output
        silence_id = added.stdout.strip().splitlines()[-1].strip()
        args = [silence_id if a == SILENCE_ID else a for a in args]
    if DAILY_SERIES in args and path != ("costs", "summary"):  # the series the `costs summary` example writes
        (writes,) = [ex for ex in _examples(("costs", "summary")) if DAILY_SERIES in ex]
        written = runner.invoke(app, shlex.split(writes)[1:])
        assert written.exit_code == 0, written.output
    result = runner.invoke(app, args)
    assert result.exit_code == 0, f"{example!r} failed:\n{result.output}"


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_every_option_is_labelled_by_what_to_type(path: tuple[str, ...]) -> None:
    """flag, path, duration, time, text, number, int; a repeatable option is `<path>…` (not `<list[Path]>`)."""
    text = runner.invoke(app, [*path, "--help"], terminal_width=1000).stdout
    for raw in ("<bool>", "<list[", "<str>", "<int range>", "<float>"):
        assert raw not in text, (path, raw)
    if path == ("drift", "evaluate"):
        assert re.search(r"--resources\s+-r\s+<path>…\s", text)
