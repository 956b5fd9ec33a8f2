"""The cost drill-down's inline SVG: escaped text, presentation attributes only (strict CSP),
a title and a description, the band as an area, gaps breaking the lines."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from vigil.console.chart import CostPoint, band_chart

NS = "{http://www.w3.org/2000/svg}"


def test_chart_is_well_formed_escaped_and_has_no_inline_style() -> None:
    svg = band_chart(
        [
            CostPoint("2026-11-22", 20.0, 20.0, 15.0, 30.0),
            CostPoint("2026-11-23", 70.0, 20.0, 15.0, 30.0, anomaly=True),
            CostPoint("<b>day</b>", 101.68, 43.5, 40.0, 50.0, anomaly=True),
        ],
        title='Daily cost of <script>alert("x")</script>',
        currency="US$&<",
    )
    root = ET.fromstring(svg)  # well-formed XML: every untrusted string was escaped
    assert root.tag == f"{NS}svg"
    assert "<script>" not in svg
    assert "style=" not in svg
    assert root.get("aria-labelledby") == "chart-title chart-desc"
    desc = root.find(f"{NS}desc")
    assert desc is not None
    assert desc.text is not None
    assert "3 days from 2026-11-22 to <b>day</b>; 2 flagged as anomalous" in desc.text
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "<b>day</b>" in texts
    assert "11-22" in texts  # dates are shortened on the axis
    # The band is one area; one diamond per flagged day, a dot for the others; the higher actual is higher up.
    assert len(root.findall(f"{NS}polygon")) == 1
    diamonds = [p.get("d", "") for p in root.iter(f"{NS}path")]
    assert len(diamonds) == 2
    assert len(root.findall(f"{NS}circle")) == 1
    tops = [float(d.split()[2]) for d in diamonds]
    assert tops[1] < tops[0]
    assert band_chart([], title="empty") == ""


def test_gaps_break_the_lines_and_the_band() -> None:
    points = [
        CostPoint("2026-11-01", 10.0, 10.0, 8.0, 12.0),
        CostPoint("2026-11-02", 11.0, 10.0, 8.0, 12.0),
        CostPoint("2026-11-03", None, None),  # no data, not judged
        CostPoint("2026-11-04", 12.0, 10.0, 8.0, 12.0),
        CostPoint("2026-11-05", 13.0, 10.0, 8.0, 12.0),
    ]
    root = ET.fromstring(band_chart(points, title="t"))
    assert len(root.findall(f"{NS}polygon")) == 2
    lines = {p.get("class"): 0 for p in root.iter(f"{NS}polyline")}
    for p in root.iter(f"{NS}polyline"):
        lines[p.get("class")] += 1  # type: ignore[index]
    assert lines == {"expected": 2, "actual-line": 2}
