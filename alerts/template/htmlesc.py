"""html/template-like contextual escaping for an email ``html`` template (Alertmanager renders it with Go's
``html/template``).

The template's own text is trusted; every value it prints (a label, an annotation, a URL) is escaped
for the HTML context it lands in, found from the output so far:

- **text** (and RCDATA such as ``<title>``): Go's ``htmlEscaper``: ``& < > " ' +`` as entities, NUL as
  U+FFFD. A value ``safeHtml`` marked is printed as is here, as ``template.HTML`` is in Go.
- **a quoted attribute value**: the same escaping (also for ``safeHtml`` values: Go strips their tags
  and escapes them; Vigil escapes them).
- **an unquoted attribute value**: also white space, ``=`` and the backtick (Go's
  ``htmlNospaceEscaper``), so a value cannot start another attribute.
- **a URL attribute** (``href``, ``src``, ``action``, ...): at the start of the value, a scheme other
  than ``http``, ``https`` or ``mailto`` gives ``#ZgotmplZ`` (Go's filter for ``javascript:`` and
  the like); characters outside URLs are percent-encoded; after the ``?`` a value is query-escaped.
- **inside a tag, outside any value** (an attribute name): ``ZgotmplZ``, as Go.
- **JavaScript and CSS** (``<script>``, ``<style>``, ``on*=`` and ``style=`` attributes): not
  supported; printing a value there is a :class:`TemplateError`, so the email keeps Vigil's layout
  and ``vigil config validate`` warns about the field.

A value piped through ``html`` is not escaped again in text or a quoted attribute (Go removes such a
redundant final ``| html``).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from alerts.template.engine import TemplateError

__all__ = ["UNSUPPORTED_CONTEXT", "HtmlEscaper", "escape_html"]

UNSUPPORTED_CONTEXT = "JavaScript/CSS context not supported"

_TEXT = {"\0": "\ufffd", '"': "&#34;", "'": "&#39;", "&": "&amp;", "+": "&#43;", "<": "&lt;", ">": "&gt;"}
_NOSPACE = {**_TEXT, "\t": "&#9;", "\n": "&#10;", "\f": "&#12;", "\r": "&#13;", " ": "&#32;", "=": "&#61;",
            "`": "&#96;"}  # fmt: skip
_TEXT_RE = re.compile("[" + re.escape("".join(_TEXT)) + "]")
_NOSPACE_RE = re.compile("[" + re.escape("".join(_NOSPACE)) + "]")
_URL_ATTRS = frozenset({"href", "src", "action", "formaction", "cite", "background", "poster", "longdesc", "usemap"})
_SAFE_SCHEMES = ("http:", "https:", "mailto:")
_TAIL = 4096  # how far back the context is looked for
_OPEN_RAW = re.compile(r"<(script|style)\b[^>]*>", re.IGNORECASE)
_ATTR_VALUE = re.compile(r"""([^\s"'<>/=]+)\s*=\s*(?:"([^"]*)|'([^']*)|([^\s"'=<>`]*))$""")


def escape_html(text: str) -> str:
    """Go's html/template escaping of a value in HTML text or a quoted attribute."""
    return _TEXT_RE.sub(lambda m: _TEXT[m.group(0)], text)


def _nospace(text: str) -> str:
    return _NOSPACE_RE.sub(lambda m: _NOSPACE[m.group(0)], text)


def _normalize_url(text: str) -> str:
    """Go's URL normaliser: characters that cannot appear in a URL percent-encoded, the rest kept."""
    return quote(text, safe="!#$&'()*+,-./:;=?@[]_~%")


class HtmlEscaper:
    """The engine's contextual escaper (``contextual = True``): called with the text of a printed
    value, the value, and the output so far."""

    contextual = True

    def __call__(self, text: str, value: Any, out: list[str]) -> str:
        tail = "".join(out)[-_TAIL:]
        raw = None
        for r in _OPEN_RAW.finditer(tail):
            raw = r
        if raw is not None and f"</{raw.group(1).lower()}" not in tail[raw.end() :].lower():
            raise TemplateError(f"a value printed inside <{raw.group(1).lower()}>: {UNSUPPORTED_CONTEXT}")
        lt, gt = tail.rfind("<"), tail.rfind(">")
        if lt <= gt or not re.match(r"<[A-Za-z]", tail[lt:]):  # HTML text
            trusted = getattr(value, "safe", False) or getattr(value, "html_escaped", False)
            return text if trusted else escape_html(text)
        tag = tail[lt:]
        m = _ATTR_VALUE.search(tag)
        if m is None:
            return "ZgotmplZ"  # an attribute name or the tag itself
        name = m.group(1).lower()
        if name.startswith("on") or name == "style":
            raise TemplateError(f"a value printed in the {name} attribute: {UNSUPPORTED_CONTEXT}")
        quoted = m.group(4) is None
        before = m.group(2) if m.group(2) is not None else m.group(3) if m.group(3) is not None else m.group(4)
        esc = escape_html if quoted else _nospace
        if quoted and name not in _URL_ATTRS and getattr(value, "html_escaped", False):
            return text  # `| html` already escaped it for a quoted attribute
        if name in _URL_ATTRS:
            if not before:
                scheme = re.match(r"\s*([A-Za-z][A-Za-z0-9+.-]*:)", text)
                if scheme and scheme.group(1).lower() not in _SAFE_SCHEMES:
                    return "#ZgotmplZ"
                return esc(_normalize_url(text))
            if "?" in before or "#" in before:
                return esc(quote(text, safe=""))
            return esc(_normalize_url(text))
        return esc(text)
