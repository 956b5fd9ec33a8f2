"""Parsed templates, and the findings the checks report.

pycep turns a string literal (``'FC1'``) and a symbol reference (``planName``) into the same Python
``str``. The checks need to tell them apart, so :class:`_Transformer` returns string literals as
:class:`Lit`, a ``str`` subclass (it still compares equal to the plain string).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from lark import Token

INTERPOLATION = re.compile(r"\$\{(.*?)\}")


class Lit(str):
    """A string literal of the template (as opposed to a reference to a symbol)."""

    __slots__ = ()

    @property
    def interpolated(self) -> bool:
        return "${" in self


@dataclass(frozen=True)
class Finding:
    file: str
    where: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.code} {self.message}"


@dataclass(frozen=True)
class Template:
    name: str  # path relative to the infra directory, e.g. modules/functionapp.bicep
    path: Path
    doc: dict[str, Any]

    def section(self, key: str) -> dict[str, Any]:
        return dict(self.doc.get(key) or {})


def _parser() -> Any:
    from pycep import BicepParser

    return BicepParser()


def _transformer() -> Any:
    from pycep.transformer import BicepToJson

    class _Transformer(BicepToJson):
        def string(self, arg: tuple[Token]) -> str:
            # The grammar reads identifiers and quoted strings as the same token; only literals keep quotes.
            value = super().string(arg)
            return Lit(value) if str(arg[0]).startswith("'") else value

        def multi_line_string(self, arg: tuple[Token]) -> Lit:
            return Lit(super().multi_line_string(arg))

    return _Transformer(add_line_numbers=False)


def parse_text(text: str) -> dict[str, Any]:
    parser = _parser()
    tree = parser._create_tree(text=text, file_path=None)  # the tree, so our transformer can run on it
    return dict(_transformer().transform(tree))


@cache
def parse_expression(source: str) -> Any:
    """The parsed form of one Bicep expression (the inside of a ``${...}`` interpolation)."""
    return parse_text(f"var expr = {source}\n")["variables"]["expr"]["value"]


def load_templates(infra: Path) -> list[Template]:
    """Every ``*.bicep`` file under ``infra``, parsed."""
    return [
        Template(str(path.relative_to(infra)), path, parse_text(path.read_text(encoding="utf-8")))
        for path in sorted(infra.rglob("*.bicep"))
    ]


def unwrap(config: Any) -> tuple[dict[str, Any] | None, Any, Any]:
    """A resource or module ``config`` as pycep gives it -> (loop, condition, body).

    pycep wraps a looped body as ``{"loop_type", "condition", "config"}`` and a conditional one as
    ``{"condition", "config"}``.
    """
    if isinstance(config, dict) and "loop_type" in config:
        return config["loop_type"], config.get("condition"), config["config"]
    if isinstance(config, dict) and set(config) == {"condition", "config"}:
        return None, config["condition"], config["config"]
    return None, None, config


def is_loop(value: Any) -> bool:
    return isinstance(value, dict) and "loop_type" in value and "config" in value


def loop_names(loop: dict[str, Any]) -> set[str]:
    detail = loop.get("detail") or {}
    return {str(detail[k]) for k in ("item_name", "index_name") if detail.get(k)}


def key_name(key: str) -> str:
    """An object key without the quotes pycep keeps around quoted keys ('azd-env-name')."""
    return key[1:-1] if len(key) >= 2 and key[0] == key[-1] == "'" else key
