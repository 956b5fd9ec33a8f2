"""Bicep's deploy-time-constant rule.

Some values must be known when the deployment starts, before any resource exists: a loop's source
array (BCP178), a resource's or module's ``if`` condition (BCP177), a resource's or module's ``name`` and a
module's ``scope`` (BCP120), and the whole body of a variable ``for`` loop (BCP182: variables with loops
compile to ARM ``copy`` variables, which cannot call ``reference()``). In a looped resource or module the
name must also use the loop's item or index (BCP179), or every iteration would get the same name.

What is *not* known at the start: a module's outputs, a resource's ``properties`` (anything except its
``id``, ``name``, ``type`` and ``apiVersion``), a whole resource or module symbol, and ``reference()`` /
``list*()``. A variable is as constant as what it reads. Source of the rule: the Bicep compiler's
``DeployTimeConstantValidator`` and its diagnostics (https://learn.microsoft.com/azure/azure-resource-manager/bicep/diagnostics/bcp182).
"""

from __future__ import annotations

from typing import Any

from scripts.bicepcheck.model import (
    INTERPOLATION,
    Finding,
    Lit,
    Template,
    is_loop,
    loop_names,
    parse_expression,
    unwrap,
)

_KNOWN_RESOURCE_PROPERTIES = frozenset({"id", "name", "type", "apiVersion"})
_KNOWN_MODULE_PROPERTIES = frozenset({"name"})


def _chain(expr: dict[str, Any]) -> tuple[Any, list[str]]:
    """``a[i].b.c`` (pycep nests property accessors to the right) -> (``a[i]``, [b, c])."""
    operands = expr["operator"]["operands"]
    path: list[str] = []
    rest = operands["operand_2"]
    while isinstance(rest, dict) and (rest.get("operator") or {}).get("type") == "property_accessor":
        path.append(str(rest["operator"]["operands"]["operand_1"]))
        rest = rest["operator"]["operands"]["operand_2"]
    path.append(str(rest))
    return operands["operand_1"], path


class _Symbols:
    def __init__(self, template: Template) -> None:
        self.resources = template.section("resources")
        self.modules = template.section("modules")
        self.variables = template.section("variables")

    def runtime_parts(self, expr: Any, following: frozenset[str] = frozenset()) -> list[str]:
        """The parts of ``expr`` that are known only once the deployment runs (empty: constant)."""
        if isinstance(expr, Lit):
            return [
                p
                for inner in INTERPOLATION.findall(expr)
                for p in self.runtime_parts(parse_expression(inner), following)
            ]
        if isinstance(expr, str):
            if expr in self.resources or expr in self.modules:
                return [expr]
            if expr in self.variables and expr not in following:
                inner = self.runtime_parts(self.variables[expr]["value"], following | {expr})
                return [f"{part} (through variable {expr})" for part in inner]
            return []
        if isinstance(expr, list):
            return [p for item in expr for p in self.runtime_parts(item, following)]
        if not isinstance(expr, dict):
            return []
        operator = expr.get("operator") or {}
        if operator.get("type") == "property_accessor":
            base, path = _chain(expr)
            if isinstance(base, dict) and (base.get("operator") or {}).get("type") == "index_accessor":
                symbol = base["operator"]["operands"]["operand_1"]
                index_parts = self.runtime_parts(base["operator"]["operands"]["operand_2"], following)
            else:
                symbol, index_parts = base, []
            if isinstance(symbol, str) and not isinstance(symbol, Lit):
                shown = f"{symbol}.{'.'.join(path)}"
                if symbol in self.resources:
                    return index_parts + ([] if path[0] in _KNOWN_RESOURCE_PROPERTIES else [shown])
                if symbol in self.modules:
                    return index_parts + ([] if path[0] in _KNOWN_MODULE_PROPERTIES else [shown])
            return index_parts + self.runtime_parts(base, following)
        function = expr.get("function") or {}
        parts: list[str] = []
        name = str(function.get("type", ""))
        if name == "reference" or name.startswith("list"):
            parts.append(f"{name}()")
        return parts + [p for value in expr.values() for p in self.runtime_parts(value, following)]


def _mentions(expr: Any, names: set[str]) -> bool:
    if isinstance(expr, Lit):
        return any(_mentions(parse_expression(inner), names) for inner in INTERPOLATION.findall(expr))
    if isinstance(expr, str):
        return expr in names
    if isinstance(expr, dict):
        return any(_mentions(v, names) for v in expr.values())
    if isinstance(expr, list):
        return any(_mentions(v, names) for v in expr)
    return False


def _loops(value: Any) -> list[dict[str, Any]]:
    """Every ``for`` expression inside ``value`` (outermost first)."""
    if is_loop(value):
        return [value, *_loops(value["config"]), *_loops(value.get("condition"))]
    if isinstance(value, dict):
        return [loop for v in value.values() for loop in _loops(v)]
    if isinstance(value, list):
        return [loop for v in value for loop in _loops(v)]
    return []


def check(template: Template) -> list[Finding]:
    symbols = _Symbols(template)
    findings: list[Finding] = []

    def require(where: str, code: str, context: str, expr: Any) -> None:
        parts = symbols.runtime_parts(expr)
        if parts:
            message = f"{context} must be known when the deployment starts; it reads {', '.join(sorted(set(parts)))}"
            findings.append(Finding(template.name, where, code, message))

    for name, variable in symbols.variables.items():
        for body_loop in _loops(variable["value"]):
            where = f"variable {name}"
            source = (body_loop["loop_type"].get("detail") or {}).get("array_name")
            require(where, "BCP178", "the for-expression's array", source)
            body = [body_loop["config"], body_loop.get("condition")]
            require(where, "BCP182", f"the for-body of variable {name}", body)

    for kind, declared in (("resource", symbols.resources), ("module", symbols.modules)):
        for name, declaration in declared.items():
            loop, condition, body = unwrap(declaration["config"])
            where = f"{kind} {name}"
            if loop is not None:
                require(where, "BCP178", "the for-expression's array", (loop.get("detail") or {}).get("array_name"))
                if not _mentions(body.get("name"), loop_names(loop)):
                    message = (
                        f"a looped {kind}'s name must use the loop variable ({', '.join(sorted(loop_names(loop)))})"
                    )
                    findings.append(Finding(template.name, where, "BCP179", message))
            if condition is not None:
                require(where, "BCP177", "the if-condition", condition)
            require(where, "BCP120", "name", body.get("name"))
            scope = body.get("scope")
            if kind == "module" and scope is not None and not (isinstance(scope, str) and scope in symbols.resources):
                require(where, "BCP120", "scope", scope)
    return findings
