"""The Go text/template subset against Alertmanager's data model.

TEMPLATE_EXPANSION and TEMPLATE_FUNCS are transcribed from prometheus/alertmanager
``template/template_test.go`` (TestTemplateExpansion, TestTemplateFuncs): inputs, data and expected
output. Left out: the html/template URL-context escaping cases (Vigil escapes per channel, not by HTML
context) and the custom-function option cases (no such option in Vigil).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerts.template import check_field, render_field
from alerts.template.data import KV, Alert, Alerts, Data
from alerts.template.engine import Template, TemplateError
from alerts.template.funcs import FUNCTIONS

EMPTY_DATA = {
    "receiver": "",
    "status": "",
    "alerts": [],
    "groupLabels": {},
    "commonLabels": {},
    "commonAnnotations": {},
    "externalURL": "",
}


def _data(**kw: Any) -> Data:
    return Data({**EMPTY_DATA, **kw})


def _alert(status: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "status": status,
        "labels": labels or {},
        "annotations": {},
        "startsAt": "0001-01-01T00:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "",
        "fingerprint": "",
    }


def run(src: str, data: Any = None, escape: Any = None) -> str:
    t = Template(FUNCTIONS)
    return t.execute(t.add(src), data, escape)


TEMPLATE_EXPANSION: list[tuple[str, Any, str]] = [
    ("abc", None, "abc"),
    ('{{ "abc" }}', None, "abc"),
    ('{{ "abc" | toUpper }}', None, "ABC"),
    ('{{ "ABC" | toLower }}', None, "abc"),
    ('{{ "abc" | title }}', None, "Abc"),
    ('{{ " a b c " | trimSpace }}', None, "a b c"),
    ('{{ if match "^a" "abc"}}abc{{ end }}', None, "abc"),
    ('{{ if match "abcd" "abc" }}abc{{ end }}', None, ""),
    ('{{ . | join "," }}', ["a", "b", "c"], "a,b,c"),
    ('{{ "<b>" }}', None, "<b>"),
    ('{{ reReplaceAll "ab" "AB" "abcdabcda"}}', None, "ABcdABcda"),
    ('{{ "search?q=test%20foo" | urlUnescape }}', None, "search?q=test foo"),
    (
        '{{ with .GroupLabels }}{{ with .Remove (stringSlice "key1" "key3") }}'
        "{{ .SortedPairs.Values }}{{ end }}{{ end }}",
        "GROUP_KEYS",
        "[key2 key4]",
    ),
    ('{{ "test" | toJson }}', None, '"test"'),
    ("{{ 42 | toJson }}", None, "42"),
    ("{{ true | toJson }}", None, "true"),
    ("{{ . | toJson }}", {"key": "value", "number": 123}, '{"key":"value","number":123}'),
    ("{{ . | toJson }}", ["a", "b", "c"], '["a","b","c"]'),
    ("{{ .CommonLabels | toJson }}", "COMMON", '{"job":"foo","severity":"critical"}'),
    (
        "{{ .Alerts.Firing | toJson }}",
        "FIRING",
        '[{"status":"firing","labels":{},"annotations":{},"startsAt":"0001-01-01T00:00:00Z",'
        '"endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":""}]',
    ),
]

TEMPLATE_FUNCS: list[tuple[str, Any, str]] = [
    ('{{ match "[a-z]+" "abc" }}', None, "true"),
    ('{{ reReplaceAll "ab" "AB" "abc" }}', None, "ABc"),
    ('{{ . | date "2006-01-02" }}', datetime(2024, 1, 1, 8, 15, 30, tzinfo=UTC), "2024-01-01"),
    ('{{ . | tz "Europe/Paris" }}', datetime(2024, 1, 1, 8, 15, 30, tzinfo=UTC), "2024-01-01 09:15:30 +0100 CET"),
    (
        "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
        [0, 1, 60, 3600, 86400, 86400 + 3600, -(86400 * 2 + 3600 * 3 + 60 * 4 + 5), 899.99],
        "0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:1d 1h 0m 0s:-2d 3h 4m 5s:14m 59s:",
    ),
    (
        "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
        ["0", "1", "60", "3600", "86400"],
        "0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:",
    ),
    (
        "{{ range . }}{{ humanizeDuration . }}:{{ end }}",
        [0.1, 0.0001, 0.12345, 60.1, 60.5, 1.2345, 12.345],
        "100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:",
    ),
    ("{{ range . }}{{ humanizeDuration . }}:{{ end }}", [0, -1, 1, 1234567], "0s:-1s:1s:14d 6h 56m 7s:"),
]


def _resolve(data: Any) -> Any:
    if data == "GROUP_KEYS":
        return _data(groupLabels={"key1": "key1", "key2": "key2", "key3": "key3", "key4": "key4"})
    if data == "COMMON":
        return _data(commonLabels={"severity": "critical", "job": "foo"})
    if data == "FIRING":
        return _data(alerts=[_alert("firing"), _alert("resolved")])
    return data


@pytest.mark.parametrize(("src", "data", "want"), TEMPLATE_EXPANSION + TEMPLATE_FUNCS)
def test_alertmanager_template_tests(src: str, data: Any, want: str) -> None:
    assert run(src, _resolve(data)) == want


def test_invalid_syntax_and_errors() -> None:
    with pytest.raises(TemplateError):
        run("{{ ")
    with pytest.raises(TemplateError, match="unknown time zone"):
        run('{{ . | tz "Invalid/Timezone" }}', datetime(2024, 1, 1, tzinfo=UTC))
    with pytest.raises(TemplateError, match="invalid syntax"):
        run('{{ humanizeDuration "one" }}')


def test_since_is_a_duration() -> None:
    assert run("{{ . | since | humanizeDuration }}", datetime.now(UTC) - timedelta(hours=1)) == "1h 0m 0s"


@pytest.mark.parametrize(
    ("src", "want"),
    [
        ('{{ if eq .Status "firing" }}F{{ else if eq .Status "resolved" }}R{{ else }}?{{ end }}', "F"),
        ("{{ with .CommonLabels.missing }}x{{ else }}none{{ end }}", "none"),
        ("{{ range .Alerts.Resolved }}x{{ else }}no resolved{{ end }}", "no resolved"),
        ("{{ range $i, $a := .Alerts }}{{ if $i }},{{ end }}{{ $a.Labels.alertname }}{{ end }}", "a,b"),
        (
            '{{ range .Alerts }}{{ if eq .Labels.alertname "b" }}{{ break }}{{ end }}{{ .Labels.alertname }}{{ end }}',
            "a",
        ),
        ("{{ $n := len .Alerts }}{{ $n }} alerts", "2 alerts"),
        ("{{ $x := 1 }}{{ $x = 2 }}{{ $x }}", "2"),
        ('{{ (index .Alerts 1).Labels.alertname | printf "%q" }}', '"b"'),
        ("{{- /* a comment */ -}}  {{ .Receiver -}}   !", "team!"),
        ('{{ define "x" }}<{{ . }}>{{ end }}{{ template "x" .Receiver }}', "<team>"),
        ('{{ .CommonLabels.SortedPairs.Names | join "+" }}', "env+group+severity"),
        ('{{ and .Receiver "" }}|{{ or "" .Receiver }}|{{ not .Receiver }}', "|team|false"),
        ("{{ gt (len .Alerts) 1 }} {{ le 2 1 }}", "true false"),
        ('{{ index .CommonLabels "severity" }}', "high"),
        ("{{ .Alerts.Firing | len }}/{{ len .Alerts }}", "2/2"),
        ('{{ template "__subject" . }}', "[FIRING:2] x (prod high)"),
    ],
)
def test_go_template_semantics(src: str, want: str) -> None:
    d = _data(
        receiver="team",
        status="firing",
        alerts=[_alert("firing", {"alertname": "a"}), _alert("firing", {"alertname": "b"})],
        groupLabels={"group": "x"},
        commonLabels={"group": "x", "severity": "high", "env": "prod"},
    )
    assert render_field(src, {**EMPTY_DATA, **_raw(d)}) == want


def _raw(d: Data) -> dict[str, Any]:
    return {
        "receiver": d.Receiver,
        "status": d.Status,
        "alerts": [{**_alert(a.Status, dict(a.Labels))} for a in d.Alerts],
        "groupLabels": dict(d.GroupLabels),
        "commonLabels": dict(d.CommonLabels),
        "commonAnnotations": dict(d.CommonAnnotations),
        "externalURL": d.ExternalURL,
    }


def test_escape_applies_to_printed_values_not_template_text() -> None:
    d = {**EMPTY_DATA, "receiver": "<b>&"}

    def esc(s: str) -> str:
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    assert render_field("<i>{{ .Receiver }}</i>", d, escape=esc) == "<i>&lt;b&gt;&amp;</i>"
    assert render_field("{{ .Receiver | safeHtml }}", d, escape=esc) == "<b>&"


@pytest.mark.parametrize(
    ("src", "why"),
    [
        ("{{ .X | frobnicate }}", 'function "frobnicate" not defined'),
        ("{{ if .X }}open", "unclosed if"),
        ("{{ end }}", "unexpected {{end}}"),
        ("{{ $undefined }}", "undefined variable $undefined"),
        ("{{ .X | }}", "missing command in pipeline"),
    ],
)
def test_beyond_the_subset_is_reported(src: str, why: str) -> None:
    assert why in (check_field(src) or "")


def test_a_field_that_cannot_render_is_sent_as_written() -> None:
    assert render_field("{{ .Nope.Deeper }}", EMPTY_DATA) == "{{ .Nope.Deeper }}"


def test_data_model_methods() -> None:
    kv = KV({"b": "2", "a": "1"})
    assert kv.SortedPairs().Names() == ["a", "b"]
    assert kv.Values() == ["1", "2"]
    assert kv.Remove(["a"]) == {"b": "2"}
    alerts = Alerts([Alert(_alert("firing")), Alert(_alert("resolved"))])
    assert [a.Status for a in alerts.Firing()] == ["firing"]
    assert [a.Status for a in alerts.Resolved()] == ["resolved"]
