"""The cost drill-down's inline SVG: escaped text, presentation attributes only (strict CSP)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from vigil.console.chart import CostPoint, band_chart


def test_chart_is_well_formed_escaped_and_has_no_inline_style() -> None:
    svg = band_chart(
        [CostPoint("2026-11-23", 70.0, 20.0, 1.5), CostPoint("<b>day</b>", 101.68, 43.5, 2.21)],
        title='Daily cost of <script>alert("x")</script>',
        currency="US$&<",
    )
    root = ET.fromstring(svg)  # well-formed XML: every untrusted string was escaped
    assert root.tag.endswith("svg")
    assert "<script>" not in svg
    assert "style=" not in svg
    texts = [t.text for t in root.iter() if t.tag.endswith("text")]
    assert "<b>day</b>" in texts
    # One band, one expected line and one diamond per day; the higher actual is drawn higher up.
    diamonds = [p.get("d", "") for p in root.iter() if p.tag.endswith("path")]
    assert len(diamonds) == 2
    tops = [float(d.split()[2]) for d in diamonds]
    assert tops[1] < tops[0]
    assert band_chart([], title="empty") == ""
