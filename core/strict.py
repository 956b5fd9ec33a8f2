"""Base class for every config model: strict, frozen, unknown keys rejected."""

from __future__ import annotations

import difflib
import re
import typing
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = ["StrictModel", "config_error_summary", "unknown_key_hint"]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The models an annotation can hold: itself, or any model among its arguments (a list's items, a dict's
    values, an Optional's or a union's members, an Annotated's type); a dict's keys are names, not models."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    return [m for a in (args[1:] if origin is dict else args) for m in _models(a)]


def unknown_key_hint(model: type[BaseModel], loc: Sequence[int | str]) -> str:
    """`` (did you mean 'x'?)`` for an unknown key at ``loc`` (pydantic's error location, the key last)
    when a key the model allows there is close to it (difflib's ratio >= 0.75), else ``""``."""
    candidates: list[type[BaseModel]] = [model]
    for part in loc[:-1]:
        fields = [
            m.model_fields.get(str(part)) or next((f for f in m.model_fields.values() if f.alias == part), None)
            for m in candidates
        ]
        nxt = [sub for f in fields if f is not None for sub in _models(f.annotation)]
        # no field of that name: a list index or a dict's key (a name the user chose) - the same models
        candidates = nxt or candidates
    keys = sorted({f.alias or name for m in candidates for name, f in m.model_fields.items()})
    match = difflib.get_close_matches(str(loc[-1]), keys, n=1, cutoff=0.75) if loc else []
    return f" (did you mean {match[0]!r}?)" if match else ""


def config_error_summary(exc: BaseException) -> str:
    """A config error without config text: key paths and messages for a validation error, the
    type (and line, for YAML) otherwise. Config holds receiver URLs and other secrets, and
    pydantic's and YAML's messages quote the offending input; a health check or a log must not."""
    if isinstance(exc, ValidationError):
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False, include_context=False)
        ]
        return f"{len(problems)} invalid setting(s): " + "; ".join(problems[:10])
    errors = getattr(exc, "errors", None)  # vigil.config.ConfigError: [(key path, message)]
    if isinstance(errors, list) and all(isinstance(e, tuple) and len(e) == 2 for e in errors):
        problems = [
            f"{path}: " + (_yaml_where(str(msg)) if path == "<yaml>" else str(msg)[:200]) for path, msg in errors
        ]
        return f"{len(problems)} invalid setting(s): " + "; ".join(problems[:10])
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}" if mark is not None else ""
    return f"{type(exc).__name__}{where}"


def _yaml_where(message: str) -> str:
    """A YAML error's message quotes the lines around the problem: keep only where it is."""
    lines = re.findall(r"line (\d+), column (\d+)", message)
    return f"YAML syntax error at line {lines[-1][0]}, column {lines[-1][1]}" if lines else "YAML syntax error"
