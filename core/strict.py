"""Base class for every config model: strict, frozen, unknown keys rejected."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = ["StrictModel", "config_error_summary"]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


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
