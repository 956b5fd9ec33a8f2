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

__all__ = ["Library", "TemplateError", "check_field", "check_file_text", "library", "render_field"]

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


def check_field(text: str, lib: Library = EMPTY) -> str | None:
    """None if Vigil can render this field; else why not."""
    if "{{" not in text:
        return None
    try:
        t, nodes = _compile(text)
    except TemplateError as exc:
        return str(exc)
    known = set(t.builtins) | set(t.defines) | set(lib.defines)
    called = _calls(nodes) | {c for body in t.defines.values() for c in _calls(body)}
    missing = sorted(called - known)
    return f'no such template "{missing[0]}"' if missing else None


def check_file_text(text: str) -> str | None:
    """A ``templates:`` file: None if it parses in the subset, else why not."""
    try:
        _new_template().add(text)
    except TemplateError as exc:
        return str(exc)
    return None


def render_field(
    text: str,
    data: Mapping[str, Any],
    *,
    escape: Callable[[str], str] | None = None,
    lib: Library = EMPTY,
) -> str:
    """Render a receiver field for :func:`alerts.amdata.payload_data`'s ``data``.

    A field the subset cannot render is sent as written (and logged): a notification is never dropped
    because of its text. ``escape`` applies to every value an action prints, not to the literal text.
    """
    if "{{" not in text:
        return text
    from alerts.template.data import to_template_data

    try:
        t, nodes = _compile(text)
        if lib.defines:
            t = t.with_defines(lib.defines)
        return t.execute(nodes, to_template_data(data), escape)
    except TemplateError as exc:
        log.warning("template not rendered", extra={"template": text[:200], "error": str(exc)})
        return text
