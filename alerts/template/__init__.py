"""Go text/template for receiver fields and ``templates:`` files, over Alertmanager's data model.

:func:`render_field` renders one receiver field (``title: '{{ .CommonLabels.alertname }}'``) for a
notification. Named templates come from Alertmanager's defaults (``slack.default.title`` …, built in:
:mod:`alerts.amdefaults`) and from the ``define`` blocks of the config's ``templates:`` files
(:func:`library`). :func:`check_field` is the validation: a field the subset cannot parse, or one that
calls a named template defined nowhere, is a warning naming the field. The supported subset is
documented in :mod:`alerts.template.engine` and :mod:`alerts.template.funcs`.
"""

from __future__ import annotations

import functools
import glob
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alerts.template.engine import Call, Template, TemplateError

__all__ = [
    "Library",
    "TemplateError",
    "Views",
    "check_field",
    "check_file_text",
    "check_html",
    "library",
    "render_body",
    "render_field",
]

Views = Mapping[str, Callable[[Any], str]]
"""Named templates a channel implements with Vigil's own rendering of the notification
(``email.default.html`` …, :data:`alerts.amdefaults.VIEW_TEMPLATES`)."""

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Library:
    """The ``define`` blocks of the ``templates:`` files."""

    defines: Mapping[str, list[Any]] = field(default_factory=dict)
    errors: tuple[tuple[str, str], ...] = ()  # (file or pattern, why) for files that could not be used


EMPTY = Library()


def _new_template() -> Template:
    from alerts.amdefaults import DEFAULT_TEMPLATES
    from alerts.template.funcs import FUNCTIONS

    return Template(FUNCTIONS, DEFAULT_TEMPLATES)


@functools.lru_cache(maxsize=16)
def library(patterns: tuple[str, ...]) -> Library:
    """Parse the files the ``templates:`` globs name (read once per process and list of patterns)."""
    t = _new_template()
    errors: list[tuple[str, str]] = []
    for pattern in patterns:
        files = sorted(glob.glob(pattern))
        if not files and not glob.has_magic(pattern):
            errors.append((pattern, "no such file"))
        for f in files:
            try:
                t.add(Path(f).read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, TemplateError) as exc:
                errors.append((f, str(exc)))
    return Library(dict(t.defines), tuple(errors))


@functools.lru_cache(maxsize=512)
def _compile(text: str) -> tuple[Template, list[Any]]:
    t = _new_template()
    return t, t.add(text)


def _calls(nodes: Sequence[Any]) -> set[str]:
    out: set[str] = set()
    for n in nodes:
        if isinstance(n, Call):
            out.add(n.name)
        for attr in ("body", "else_"):
            out |= _calls(getattr(n, attr, ()))
    return out


def check_field(text: str, lib: Library = EMPTY, views: Sequence[str] = ()) -> str | None:
    """None if Vigil can render this field; else why not. ``views``: the names of the named templates
    the field's channel implements (:data:`Views`)."""
    if "{{" not in text:
        return None
    try:
        t, nodes = _compile(text)
    except TemplateError as exc:
        return str(exc)
    known = set(t.builtins) | set(t.defines) | set(lib.defines) | set(views)
    called = _calls(nodes) | {c for body in t.defines.values() for c in _calls(body)}
    missing = sorted(called - known)
    return f'no such template "{missing[0]}"' if missing else None


_PROBE = {
    "receiver": "probe",
    "status": "firing",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "probe", "severity": "high", "resource_id": "/subscriptions/0/x"},
            "annotations": {"summary": "probe", "description": "probe"},
            "startsAt": "2026-01-01T00:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "https://portal.azure.com/",
            "fingerprint": "0",
        }
    ],
    "groupLabels": {"alertname": "probe"},
    "commonLabels": {"alertname": "probe", "severity": "high", "resource_id": "/subscriptions/0/x"},
    "commonAnnotations": {"summary": "probe", "description": "probe"},
    "externalURL": "",
}


def check_html(text: str, lib: Library = EMPTY, views: Sequence[str] = ()) -> str | None:
    """An email ``html`` template: :func:`check_field`, then a render over a one-alert probe to find
    values printed where the html/template-like escaping does not go (JavaScript, CSS)."""
    why = check_field(text, lib, views)
    if why or "{{" not in text:
        return why
    from alerts.template.data import to_template_data
    from alerts.template.htmlesc import UNSUPPORTED_CONTEXT, HtmlEscaper

    t, nodes = _compile(text)
    t = t.with_defines(lib.defines).with_builtins(dict.fromkeys(views, lambda _: ""))
    try:
        t.execute(nodes, to_template_data(_PROBE), HtmlEscaper())
    except TemplateError as exc:
        if UNSUPPORTED_CONTEXT in str(exc):
            return str(exc)
    return None


def check_file_text(text: str) -> str | None:
    """A ``templates:`` file: None if it parses in the subset, else why not."""
    try:
        _new_template().add(text)
    except TemplateError as exc:
        return str(exc)
    return None


def render_body(
    text: str,
    data: Mapping[str, Any],
    *,
    escape: Callable[..., str] | None = None,
    lib: Library = EMPTY,
    views: Views | None = None,
) -> str | None:
    """Render a template for :func:`alerts.amdata.payload_data`'s ``data``; None (logged) when the
    subset cannot render it, so the caller falls back to Vigil's own layout. ``escape`` applies to every
    value an action prints, not to the literal text (see :meth:`Template.execute`)."""
    from alerts.template.data import to_template_data

    try:
        t, nodes = _compile(text)
        if lib.defines:
            t = t.with_defines(lib.defines)
        if views:
            t = t.with_builtins(views)
        return t.execute(nodes, to_template_data(data), escape)
    except TemplateError as exc:
        log.warning("template not rendered", extra={"template": text[:200], "error": str(exc)})
        return None


def render_field(
    text: str,
    data: Mapping[str, Any],
    *,
    escape: Callable[..., str] | None = None,
    lib: Library = EMPTY,
    views: Views | None = None,
) -> str:
    """Render a receiver field for :func:`alerts.amdata.payload_data`'s ``data``.

    A field the subset cannot render is sent as written (and logged): a notification is never dropped
    because of its text. ``escape`` applies to every value an action prints, not to the literal text.
    """
    if "{{" not in text:
        return text
    out = render_body(text, data, escape=escape, lib=lib, views=views)
    return text if out is None else out
