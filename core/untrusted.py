"""Untrusted text (labels, annotations, event claims, cost service names, silence comments) on its way
to a card, an email or a terminal: one implementation of each neutralisation.

* :func:`strip_controls` removes C0/C1 control characters (ESC starts the OSC title and hyperlink
  sequences a terminal obeys), DEL and the Unicode bidirectional overrides ("Trojan Source"); a
  newline or tab becomes a space, so one value stays on one line.
* :func:`escape_markdown` makes text render literally in a Markdown-rendering surface (Adaptive
  Card TextBlocks and FactSet values): control characters stripped, every Markdown punctuation
  character backslash-escaped, and ``](`` broken with a zero-width space, so no ``[text](url)``
  link survives even in a renderer that ignores backslash escapes.
"""

from __future__ import annotations

import re

__all__ = ["escape_markdown", "strip_controls"]

_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_WHITESPACE_CONTROLS = re.compile(r"[\t\n\r]+")
_MARKDOWN = re.compile(r"([\\`*_{}\[\]!|~<>])")
_BLOCK_START = re.compile(r"^(\s*)(?:([-+#])|(\d+)\.)(?=\s|$)")  # a list, heading or quote marker opening the text
_ZWSP = "\u200b"


def strip_controls(text: object) -> str:
    """``text`` on one line, without control characters or bidi overrides."""
    return _CONTROLS.sub("", _WHITESPACE_CONTROLS.sub(" ", str(text)))


def escape_markdown(text: object) -> str:
    """``text`` as literal Markdown (see the module docstring)."""
    escaped = _MARKDOWN.sub(r"\\\1", strip_controls(text))
    escaped = _BLOCK_START.sub(
        lambda m: m.group(1) + ("\\" + m.group(2) if m.group(2) else m.group(3) + "\\."), escaped
    )
    return escaped.replace("\\](", f"\\]{_ZWSP}(")
