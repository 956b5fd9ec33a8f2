"""alertmanager.yml's Teams (`title`/`summary`/`text`) and email (`html`/`text`) templates are rendered over
Alertmanager's data model; the default named templates are Vigil's own layout; printed values are escaped
for Adaptive Card Markdown and (html/template-like) for HTML, also when they are hostile."""

from __future__ import annotations

import email
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest

from alerts.channels.email import EmailNotifier
from alerts.channels.msteams import render_cards
from alerts.config import EmailConfig, MSTeamsConfig
from alerts.notify import AlertView, NotificationPayload
from alerts.template.htmlesc import HtmlEscaper, escape_html
from alerts.testing import finding
from core.model import Alert
from tests.alerts.helpers import T0
from vigil.config import parse_config

RID = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg1"
    "/providers/microsoft.storage/storageaccounts/st1"
)
HOSTILE = "[click](https://evil.example) **bold** <img src=x onerror=alert(1)> \"q\" 's' &amp; +1 `x`\n# h"
JS_URL = "javascript:alert(1)"


def _payload(*, summary: str = HOSTILE, runbook: str = JS_URL) -> NotificationPayload:
    f = finding(
        rule="storage-public-access",
        resource=RID,
        detector="drift",
        labels={"team": HOSTILE},
        annotations={"summary": summary, "runbook_url": runbook},
    )
    a = Alert.from_finding(f, starts_at=T0 - timedelta(hours=1))
    return NotificationPayload(
        key="k" * 32,
        receiver="ops",
        integration="email[0]",
        group_key="{}:{}",
        group_labels={"alertname": a.labels["alertname"]},
        alerts=[AlertView(a, f.fingerprint, {}, None)],
        now=T0,
        issued_at=T0,
    )


def _texts(card: dict[str, Any]) -> list[str]:
    out: list[str] = []

    def walk(n: Any) -> None:
        if isinstance(n, dict):
            if n.get("type") == "TextBlock":
                out.append(n["text"])
            for v in n.values():
                walk(v)
        elif isinstance(n, list):
            for v in n:
                walk(v)

    walk(card)
    return out


TEAMS_TEXT = (
    "**Team** {{ .CommonLabels.team }} · [dashboard](https://grafana.example/d/1)\n\n"
    "{{ range .Alerts.Firing }}- {{ .Annotations.summary }}\n{{ end }}"
)


def test_teams_title_text_and_summary_templates_render_with_values_escaped_for_markdown() -> None:
    cfg = MSTeamsConfig(
        webhook_url="http://x",
        title="{{ .Status | toUpper }}: {{ .CommonLabels.alertname }} ({{ .CommonLabels.team }})",
        summary="{{ len .Alerts }} alert(s) for {{ .CommonLabels.team }}",
        text=TEAMS_TEXT,
    )
    (card,) = render_cards(cfg, _payload())
    content = card["attachments"][0]["content"]
    title, _receiver, text, *rest = _texts(content)
    assert title.startswith("FIRING: storage-public-access (\\[click\\]\u200b(https://evil.example) \\*\\*bold")
    assert text.startswith("**Team** \\[click\\]")  # the template's own Markdown stays Markdown
    assert "[dashboard](https://grafana.example/d/1)" in text
    assert "\\<img src=x onerror=alert(1)\\>" in text
    assert "\n# h" not in text  # a value cannot start a heading (its newline is gone)
    assert content["fallbackText"].startswith("1 alert(s) for [click](https://evil.example) **bold**")
    assert rest  # Vigil's alert container follows, with its buttons and facts


def test_teams_default_named_templates_are_vigils_layout() -> None:
    p = _payload(summary="Public blob access")
    plain = render_cards(MSTeamsConfig(webhook_url="http://x"), p)
    by_default = MSTeamsConfig(
        webhook_url="http://x",
        title='{{ template "msteams.default.title" . }}',
        summary='{{ template "msteams.default.summary" . }}',
        text='{{ template "msteams.default.text" . }}',
    )
    (card,) = render_cards(by_default, p)
    assert _texts(card) == _texts(plain[0])  # Alertmanager's defaults: exactly Vigil's card
    assert card["attachments"][0]["content"]["fallbackText"] == "[FIRING:1] storage-public-access"
    inside = MSTeamsConfig(webhook_url="http://x", text='Heads up:\n{{ template "msteams.default.text" . }}')
    text = _texts(render_cards(inside, p)[0])[2]
    assert text.startswith("Heads up:\n- **")
    assert "Public blob access" in text


def test_a_teams_template_beyond_the_subset_keeps_vigils_layout_and_is_a_warning() -> None:
    from alerts.amcheck import config_warnings

    p = _payload(summary="s")
    plain = _texts(render_cards(MSTeamsConfig(webhook_url="http://x"), p)[0])
    odd = MSTeamsConfig(webhook_url="http://x", title="{{ call .Receiver }}", text="{{ .Nope.Deeper }}")
    assert _texts(render_cards(odd, p)[0]) == plain
    cfg = parse_config(
        {
            "route": {"receiver": "t"},
            "receivers": [
                {"name": "t", "msteams_configs": [{"webhook_url": "http://x", "title": "{{ call .Receiver }}"}]}
            ],
        }
    )
    ((path, msg),) = config_warnings(cfg)
    assert path == "receivers[0].msteams_configs[0].title"
    assert msg.startswith("template not supported by Vigil (Vigil's own layout is sent instead): ")


@pytest.mark.chromium
def test_templated_cards_validate_as_adaptive_card_15_and_hostile_values_render_literally(tmp_path: Path) -> None:
    from tests.support.cards import card_page

    cfg = MSTeamsConfig(webhook_url="http://x", title="{{ .CommonLabels.team }}", text=TEAMS_TEXT, summary="s")
    cards = [
        *render_cards(cfg, _payload()),
        *render_cards(
            MSTeamsConfig(webhook_url="http://x", text='{{ template "msteams.default.text" . }}'), _payload()
        ),
    ]
    with card_page(tmp_path) as (render, _page):
        for card in cards:
            result = render(card["attachments"][0]["content"])
            assert result["events"] == []
            assert result["version"] == "1.5"
        shown = render(cards[0]["attachments"][0]["content"])
    literal = shown["text"].replace("\u200b", "")  # escape_markdown breaks `](` with a zero-width space
    assert "[click](https://evil.example) **bold** <img src=x onerror=alert(1)>" in literal  # as the label reads
    assert "https://grafana.example/d/1" in shown["links"]  # the template's own link works
    assert not [u for u in shown["links"] if "evil" in (u or "")]


def _parsed(msg: EmailMessage) -> tuple[EmailMessage, str, str]:
    back = email.message_from_bytes(msg.as_bytes(), policy=default)
    assert isinstance(back, EmailMessage)
    text, html = back.get_body(("plain",)), back.get_body(("html",))
    assert text is not None
    assert html is not None
    return back, text.get_content(), html.get_content()


EMAIL_HTML = (
    '<html><body><h1 title="{{ .CommonLabels.team }}">{{ .CommonLabels.team }}</h1>'
    "{{ range .Alerts }}<p class={{ .Labels.severity }}>{{ .Annotations.summary }}</p>"
    '<a href="{{ .Annotations.runbook_url }}">runbook</a>'
    '<a href="https://search.example/?q={{ .Labels.team }}">find</a>{{ end }}'
    "{{ .CommonLabels.team | safeHtml }}</body></html>"
)


def test_email_html_and_text_templates_replace_vigils_parts_with_values_escaped() -> None:
    cfg = EmailConfig(
        to="ops@example.com",
        html=EMAIL_HTML,
        text="{{ range .Alerts }}{{ .Labels.alertname }}: {{ .Annotations.summary }}\n{{ end }}",
        headers={"Subject": '{{ template "email.default.subject" . }} for {{ .CommonLabels.team }}'},
    )
    msg, text, html = _parsed(EmailNotifier(cfg).build_message(_payload()))
    team = escape_html(HOSTILE)
    assert f'<h1 title="{team}">{team}</h1>' in html
    assert "&lt;img src=x onerror=alert(1)&gt; &#34;q&#34; &#39;s&#39; &amp;amp; &#43;1" in team
    assert '<a href="#ZgotmplZ">runbook</a>' in html  # javascript: is filtered, as html/template does
    assert "q=%5Bclick%5D%28https%3A%2F%2Fevil.example%29" in html  # query-escaped in the URL's query
    assert "<p class=high>" in html
    assert html.rstrip().endswith(HOSTILE + "</body></html>")  # safeHtml: the config author's choice
    assert text == f"storage-public-access: {HOSTILE.replace(chr(10), ' ')}\n"
    assert str(msg["Subject"]).startswith("[FIRING:1] storage-public-access for [click]")
    assert "\n" not in str(msg["Subject"])


def test_email_default_named_templates_are_vigils_layout() -> None:
    p = _payload(summary="Public blob access", runbook="https://runbooks.example/x")
    _, text0, html0 = _parsed(EmailNotifier(EmailConfig(to="a@example.com")).build_message(p))
    cfg = EmailConfig(
        to="a@example.com",
        html='{{ template "email.default.html" . }}',
        text='{{ template "email.default.text" . }}',
        headers={"Subject": '{{ template "email.default.subject" . }}'},
    )
    msg, text, html = _parsed(EmailNotifier(cfg).build_message(p))
    assert (text, html) == (text0, html0)
    assert msg["Subject"] == "[FIRING:1] storage-public-access"
    wrapped = EmailConfig(to="a@example.com", html='<p>Prod</p>{{ template "email.default.html" . }}')
    _, _, html = _parsed(EmailNotifier(wrapped).build_message(p))
    assert html == "<p>Prod</p>" + html0  # Vigil's HTML is not escaped a second time


def test_email_html_printing_into_script_keeps_vigils_layout_and_is_a_warning() -> None:
    from alerts.amcheck import config_warnings

    p = _payload(summary="s")
    _, _, html0 = _parsed(EmailNotifier(EmailConfig(to="a@example.com")).build_message(p))
    for tmpl in (
        "<script>var team = '{{ .CommonLabels.team }}';</script>",
        '<p onclick="go({{ .CommonLabels.team }})">x</p>',
        '<p style="color: {{ .CommonLabels.team }}">x</p>',
    ):
        _, _, html = _parsed(EmailNotifier(EmailConfig(to="a@example.com", html=tmpl)).build_message(p))
        assert html == html0, tmpl
        cfg = parse_config(
            {
                "route": {"receiver": "m"},
                "receivers": [{"name": "m", "email_configs": [{"to": "a@example.com", "html": tmpl}]}],
            }
        )
        ((path, msg),) = config_warnings(cfg)
        assert path == "receivers[0].email_configs[0].html"
        assert "JavaScript/CSS context not supported" in msg
    # CSS in the template's own text is fine: only values printed there are refused.
    ok = "<style>p { color: red }</style><p>{{ .CommonLabels.alertname }}</p>"
    _, _, html = _parsed(EmailNotifier(EmailConfig(to="a@example.com", html=ok)).build_message(p))
    assert html.strip() == "<style>p { color: red }</style><p>storage-public-access</p>"


def test_html_piped_values_are_not_escaped_twice() -> None:
    cfg = EmailConfig(
        to="a@example.com", html='<p title="{{ .CommonLabels.team | html }}">{{ .CommonLabels.team | html }}</p>'
    )
    _, _, html = _parsed(EmailNotifier(cfg).build_message(_payload()))
    assert "&amp;amp;amp;" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img" not in html


@pytest.mark.parametrize(
    ("before", "value", "expected"),
    [
        # Go 1.21 html/template output for the same template and value.
        ("<p>", 'O\'Reilly & "x" +1 <b>\x00', "O&#39;Reilly &amp; &#34;x&#34; &#43;1 &lt;b&gt;\ufffd"),
        ('<a title="', "a\"b'c", "a&#34;b&#39;c"),
        ("<a title=", "a b=c", "a&#32;b&#61;c"),
        ('<a href="', "javascript:alert(1)", "#ZgotmplZ"),
        ('<a href="', " JavaScript:x", "#ZgotmplZ"),
        ('<a href="', "https://x.example/a b", "https://x.example/a%20b"),
        ('<a href="https://x.example/?q=', "a&b c", "a%26b%20c"),
        ("<a ", "onclick", "ZgotmplZ"),
    ],
)
def test_html_escaping_follows_go_html_template(before: str, value: str, expected: str) -> None:
    assert HtmlEscaper()(value, value, [before]) == expected
