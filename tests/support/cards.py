"""Adaptive Cards in real Chromium: the `adaptivecards` renderer (node_modules) parses, validates and renders
a card, with markdown-it on the page so TextBlock Markdown renders as in Teams."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

_NODE = Path(__file__).resolve().parents[2] / "node_modules"
ADAPTIVECARDS_JS = _NODE / "adaptivecards" / "dist" / "adaptivecards.min.js"
MARKDOWN_IT_JS = _NODE / "markdown-it" / "dist" / "markdown-it.min.js"
_PARSE_AND_RENDER = """(card) => {
    const AC = window.AdaptiveCards;
    const ac = new AC.AdaptiveCard();
    const ctx = new AC.SerializationContext(AC.Versions.v1_5);
    ac.parse(card, ctx);
    const events = [];
    for (let i = 0; i < ctx.eventCount; i++) events.push("parse: " + ctx.getEventAt(i).message);
    for (const e of ac.validateProperties().validationEvents) events.push("validate: " + e.message);
    const host = document.getElementById("card");
    host.replaceChildren(ac.render());
    return {events: events, version: ac.version.toString(), text: host.innerText,
            links: Array.from(host.querySelectorAll("a")).map((a) => a.getAttribute("href"))};
}"""

Render = Callable[[dict[str, Any]], dict[str, Any]]


@contextmanager
def card_page(workdir: Path) -> Iterator[tuple[Render, Any]]:
    """Yields (render, page): ``render(card_content)`` gives ``{events, version, text, links}`` (``events``
    lists parse and validation messages: empty for a valid Adaptive Card 1.5)."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.fail("chromium is not installed: `make test` installs Debian's chromium package")
    if not (ADAPTIVECARDS_JS.is_file() and MARKDOWN_IT_JS.is_file()):
        pytest.fail("node_modules/adaptivecards or markdown-it is missing: `make node` installs them")
    from playwright import sync_api

    page_file = workdir / "card.html"
    page_file.write_text("<!doctype html><html><body style='width:720px'><div id='card'></div></body></html>")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 760, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_file.as_uri())
            page.add_script_tag(path=str(MARKDOWN_IT_JS))
            page.add_script_tag(path=str(ADAPTIVECARDS_JS))

            def render(card: dict[str, Any]) -> dict[str, Any]:
                result: dict[str, Any] = page.evaluate(_PARSE_AND_RENDER, card)
                return result

            yield render, page
            assert errors == []
            # The check can fail: an element 1.5 does not know is reported.
            bad = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "NoSuchElement"}]}
            assert render(bad)["events"]
        finally:
            browser.close()
