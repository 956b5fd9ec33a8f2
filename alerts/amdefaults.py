"""Alertmanager's default named templates, written in Python over the template data model.

A receiver field left at its Alertmanager default (``{{ template "slack.default.title" . }}``) calls
these: the subject line ``[FIRING:2] <group label values> (<other common labels>)``, the Alertmanager
link, and the plain-text alert list. They produce what Alertmanager's default.tmpl produces for the
same data; the template engine (:mod:`alerts.template`) calls them by name.

The defaults of the Teams card and of the email (:data:`VIEW_TEMPLATES`) are not Alertmanager's layout:
they name Vigil's own rendering of the notification (:mod:`alerts.view`), which the Teams and email
channels supply when they render ``title``/``summary``/``text``/``html`` (``Views`` in
:mod:`alerts.template`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

from alerts.template.data import Alerts, Data

__all__ = ["DEFAULT_TEMPLATES", "VIEW_TEMPLATES", "alertmanager_url", "subject", "text_alert_list"]


def subject(d: Data) -> str:
    head = f"[{d.Status.upper()}" + (f":{len(d.Alerts.Firing())}" if d.Status == "firing" else "") + "]"
    out = head + " " + " ".join(d.GroupLabels.Values()) + " "
    if len(d.CommonLabels) > len(d.GroupLabels):
        out += "(" + " ".join(d.CommonLabels.Remove(d.GroupLabels.Names()).Values()) + ")"
    return out


def alertmanager_url(d: Data) -> str:
    return f"{d.ExternalURL}/#/alerts?receiver={quote_plus(d.Receiver)}"


def text_alert_list(alerts: Alerts) -> str:
    out = []
    for a in alerts:
        block = "Labels:\n" + "".join(f" - {p.Name} = {p.Value}\n" for p in a.Labels.SortedPairs())
        block += "Annotations:\n" + "".join(f" - {p.Name} = {p.Value}\n" for p in a.Annotations.SortedPairs())
        block += f"Source: {a.GeneratorURL}\n"
        out.append(block + "\n")
    return "".join(out)


def _opsgenie_description(d: Data) -> str:
    out = " ".join(d.CommonAnnotations.Values()) + "\n"
    if d.Alerts.Firing():
        out += "Alerts Firing:\n" + text_alert_list(d.Alerts.Firing())
    if d.Alerts.Resolved():
        out += "Alerts Resolved:\n" + text_alert_list(d.Alerts.Resolved())
    return out


def _empty(_: Any) -> str:
    return ""


DEFAULT_TEMPLATES: dict[str, Callable[[Any], str]] = {
    "__alertmanager": lambda _: "Alertmanager",
    "__alertmanagerURL": alertmanager_url,
    "__subject": subject,
    "__text_alert_list": text_alert_list,
    "slack.default.title": subject,
    "slack.default.username": lambda _: "Alertmanager",
    "slack.default.fallback": lambda d: f"{subject(d)} | {alertmanager_url(d)}",
    "slack.default.callbackid": _empty,
    "slack.default.pretext": _empty,
    "slack.default.titlelink": alertmanager_url,
    "slack.default.iconemoji": _empty,
    "slack.default.iconurl": _empty,
    "slack.default.text": _empty,
    "slack.default.footer": _empty,
    "pagerduty.default.description": subject,
    "pagerduty.default.client": lambda _: "Alertmanager",
    "pagerduty.default.clientURL": alertmanager_url,
    "pagerduty.default.instances": text_alert_list,
    "opsgenie.default.message": subject,
    "opsgenie.default.description": _opsgenie_description,
    "opsgenie.default.source": alertmanager_url,
}


_TEAMS = (
    "msteams.default.title",
    "msteams.default.summary",
    "msteams.default.text",
    "msteamsv2.default.title",
    "msteamsv2.default.text",
)

# Receiver type -> the named templates its channel renders with Vigil's own layout.
VIEW_TEMPLATES: dict[str, tuple[str, ...]] = {
    "msteams_configs": _TEAMS,
    "msteamsv2_configs": _TEAMS,
    "email_configs": ("email.default.subject", "email.default.html", "email.default.text"),
}
