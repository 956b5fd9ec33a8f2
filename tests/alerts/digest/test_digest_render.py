from __future__ import annotations

import email
import email.policy
import re
import shutil
import struct
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts.digest import MAX_EMAIL_BYTES, build_digest, load_findings, parse_week, render
from tests.alerts.digest.conftest import make_rows, to_frame

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
WEEK = parse_week("2026-W47")

IDLE = (
    '{"detector":"idle","rule":"vm_shutdown_candidate","status":"firing","severity":"medium",'
    '"resource":{"id":"/subscriptions/s/resourcegroups/rg-dev/providers/microsoft.compute/virtualmachines/devbox",'
    '"type":"microsoft.compute/virtualmachines","name":"devbox","subscription_id":"s","resource_group":"rg-dev",'
    '"location":""},"observed_at":"2026-11-20T00:00:00+00:00","labels":{},'
    '"annotations":{"summary":"VM idle for 14 days","monthly_waste":"456.78"},"evidence":{}}'
)


def _digest(**kw: object):  # type: ignore[no-untyped-def]
    findings = load_findings([IDLE])
    return build_digest(to_frame(make_rows()), findings, week_start=WEEK, now=NOW, currency="USD", **kw)


def test_email_parses_cids_resolve_and_size_within_limit() -> None:
    rendered = render(_digest(budget=9000.0))
    msg = rendered.to_email(sender="vigil@example.com", recipients=["finance@example.com"])
    raw = msg.as_bytes()
    assert len(raw) <= MAX_EMAIL_BYTES
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    types = [p.get_content_type() for p in parsed.walk()]
    assert "text/plain" in types
    assert "text/html" in types
    assert "image/png" in types
    html = next(p for p in parsed.walk() if p.get_content_type() == "text/html").get_content()
    cids = re.findall(r'src="cid:([^"]+)"', html)
    assert cids, "the chart is referenced by Content-ID"
    available = {str(p["Content-ID"]).strip("<>") for p in parsed.walk() if p["Content-ID"]}
    assert set(cids) <= available
    png = next(p for p in parsed.walk() if p.get_content_type() == "image/png").get_content()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    text = next(p for p in parsed.walk() if p.get_content_type() == "text/plain").get_content()
    assert "devbox" in text
    assert "456.78" in text
    assert 'alt="Bar chart of daily spend' in html


def test_standalone_html_embeds_chart_and_has_no_external_refs() -> None:
    rendered = render(_digest())
    html = rendered.html_standalone
    assert "data:image/png;base64," in html
    assert "cid:" not in html
    assert not re.search(r"<(link|script)\b", html)
    assert "prefers-color-scheme: dark" in html
    # Every number is traceable: the week total's source is in its title.
    assert "rows" in html
    assert "BilledCost" in html


def test_empty_week_digest_is_short_and_not_blank() -> None:
    d = build_digest(to_frame(make_rows()), [], week_start=parse_week("2027-W10"), now=NOW, currency="USD")
    rendered = render(d)
    assert "No data for this scope" in rendered.html_standalone
    assert d.empty_reason in rendered.text
    assert rendered.png is None
    msg = rendered.to_email(sender="a@example.com", recipients=["b@example.com"])
    assert len(msg.as_bytes()) < 100_000


def _png_is_not_blank(png: bytes) -> bool:
    """Decode a PNG (8-bit RGB/RGBA, no interlace) and check it has many colours."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, colour = 8, b"", 0, 0, 0
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind = png[pos + 4 : pos + 8]
        data = png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, _depth, colour = struct.unpack(">IIBB", data[:10])
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    raw = zlib.decompress(idat)
    bpp = 4 if colour == 6 else 3
    stride = width * bpp + 1
    # Sample unfiltered bytes loosely: count distinct byte values across rows.
    distinct = {raw[r * stride + 1 : r * stride + 1 + width * bpp : 97] for r in range(0, height, max(1, height // 50))}
    return len(distinct) > 5


@pytest.mark.chromium
def test_renders_in_headless_chromium_without_console_errors(tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.fail("chromium is not installed: `make test` installs Debian's chromium package")
    from playwright import sync_api

    page_file = tmp_path / "digest.html"
    page_file.write_text(render(_digest(budget=9000.0)).html_standalone, encoding="utf-8")
    messages: list[tuple[str, str]] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            for scheme in ("light", "dark"):
                page = browser.new_page(viewport={"width": 800, "height": 1200}, color_scheme=scheme)
                page.on("console", lambda m: messages.append((m.type, m.text)))
                page.on("pageerror", lambda e: messages.append(("pageerror", str(e))))
                page.goto(page_file.as_uri())
                page.wait_for_load_state("load")
                shot = page.screenshot(full_page=True)
                (tmp_path / f"digest-{scheme}.png").write_bytes(shot)
                assert _png_is_not_blank(shot), f"{scheme} screenshot looks blank"
                # The chart image actually decoded.
                assert page.evaluate("() => document.images[0].naturalWidth") > 100
                bg = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
                assert bg == ("rgb(17, 24, 39)" if scheme == "dark" else "rgb(243, 244, 246)")
                page.close()
        finally:
            browser.close()
    errors = [m for m in messages if m[0] in ("error", "pageerror")]
    assert errors == []
