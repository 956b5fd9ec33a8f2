"""Go text/template for receiver fields and ``templates:`` files, over Alertmanager's data model.

:func:`render_field` renders one receiver field (``title: '{{ .CommonLabels.alertname }}'``) for a
notification; Alertmanager's default named templates (``slack.default.title`` …) are built in
(:mod:`alerts.amdefaults`). :func:`check_field` is the validation: a field the subset cannot parse is
a warning naming the field. The supported subset is documented in :mod:`alerts.template.engine` and
:mod:`alerts.template.funcs`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from typing import Any

from alerts.template.engine import Template, TemplateError

__all__ = ["TemplateError", "check_field", "check_file_text", "render_field"]

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=512)
def _compile(text: str) -> tuple[Template, list[Any]]:
    from alerts.amdefaults import DEFAULT_TEMPLATES
    from alerts.template.funcs import FUNCTIONS

    t = Template(FUNCTIONS, DEFAULT_TEMPLATES)
    return t, t.add(text)


def check_field(text: str) -> str | None:
    """None if Vigil can render this field; else why not."""
    if "{{" not in text:
        return None
    try:
        _compile(text)
    except TemplateError as exc:
        return str(exc)
    return None


def check_file_text(text: str) -> str | None:
    """A ``templates:`` file: None if it parses in the subset, else why not."""
    return check_field(text)


def render_field(text: str, data: Mapping[str, Any], *, escape: Callable[[str], str] | None = None) -> str:
    """Render a receiver field for :func:`alerts.amdata.payload_data`'s ``data``.

    A field the subset cannot render is sent as written (and logged): a notification is never dropped
    because of its text. ``escape`` applies to every value an action prints, not to the literal text.
    """
    if "{{" not in text:
        return text
    from alerts.template.data import to_template_data

    try:
        t, nodes = _compile(text)
        return t.execute(nodes, to_template_data(data), escape)
    except TemplateError as exc:
        log.warning("template not rendered", extra={"template": text[:200], "error": str(exc)})
        return text
