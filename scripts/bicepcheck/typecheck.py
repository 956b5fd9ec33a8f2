"""Resource bodies against the published type definitions, and module params against the module.

Diagnostic codes are the Bicep compiler's, for the same mistakes:
BCP081 type/version not published, BCP037 unknown property, BCP073 read-only property set,
BCP035 required property missing, BCP036 wrong value type, BCP088 value outside the allowed set.

Values the template computes (function calls, operators, module outputs, loop variables) are not
evaluated: only literals, parameters (their declared type and ``@allowed`` list), variables (followed to
their value) and both branches of a ``cond ? a : b`` are checked. String length and integer range limits
are checked; regular-expression ``pattern`` constraints are not. A clean run therefore means "no mistake
the literals and declarations show", not "the compiler would accept every expression".
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from scripts.bicepcheck.model import Finding, Lit, Template, is_loop, key_name, unwrap
from scripts.bicepcheck.types import READ_ONLY, REQUIRED, TypeIndex, TypeNode

# Keys of a resource body that are Bicep syntax, not properties of the resource type.
BICEP_KEYWORDS = frozenset({"parent", "scope", "dependsOn"})
_PARAM_KINDS = {"string": str, "int": int, "bool": bool, "object": dict, "array": list}


def _kind_of(value: Any) -> str:
    return {bool: "bool", int: "int", Lit: "string", dict: "object", list: "array"}.get(type(value), "?")


def _allowed(param: dict[str, Any]) -> list[Any] | None:
    for decorator in param.get("decorators") or []:
        if decorator.get("type") == "allowed":
            return list(decorator["argument"])
    return None


class _Checker:
    def __init__(self, template: Template, index: TypeIndex) -> None:
        self.template = template
        self.index = index
        self.params = template.section("parameters")
        self.variables = template.section("variables")
        self.findings: list[Finding] = []
        self._following: set[str] = set()

    def report(self, where: str, code: str, message: str) -> None:
        self.findings.append(Finding(self.template.name, where, code, message))

    # --- resources ---------------------------------------------------------------------------------

    def check_resources(self) -> None:
        for symbol, resource in self.template.section("resources").items():
            type_name, version = str(resource["type"]), str(resource["api_version"])
            where = f"resource {symbol} '{type_name}@{version}'"
            node = self.index.resource(type_name, version)
            if node is None:
                known = ", ".join(self.index.versions(type_name)) or "none"
                self.report(where, "BCP081", f"no published type definition (published versions here: {known})")
                continue
            _, _, body = unwrap(resource["config"])
            properties = {k: v for k, v in body.items() if k not in BICEP_KEYWORDS}
            if resource.get("existing"):
                unknown = set(properties) - {"name"}
                for key in sorted(unknown):
                    self.report(where, "BCP037", f"an existing resource takes only name/scope/parent, not {key!r}")
                continue
            self.check_value(node, properties, where, "")

    # --- values ------------------------------------------------------------------------------------

    def check_value(self, node: TypeNode, value: Any, where: str, path: str) -> None:
        if isinstance(value, str) and not isinstance(value, Lit):
            self._check_reference(node, value, where, path)
            return
        if isinstance(value, dict) and not is_loop(value) and ("operator" in value or "function" in value):
            operator = value.get("operator") or {}
            if operator.get("type") == "conditional":
                for branch in ("true_value", "false_value"):
                    self.check_value(node, operator["operands"][branch], where, path)
            return  # any other computed value is not evaluated
        kind = node.kind
        if kind == "AnyType":
            return
        if kind == "UnionType":
            self._check_union(node, value, where, path)
        elif kind == "StringLiteralType":
            if not isinstance(value, Lit) or (not value.interpolated and value != node.data["value"]):
                self._mismatch(node, value, where, path)
        elif kind == "StringType":
            self._check_string(node, value, where, path)
        elif kind == "IntegerType":
            self._check_int(node, value, where, path)
        elif kind == "BooleanType":
            if not isinstance(value, bool):
                self._mismatch(node, value, where, path)
        elif kind == "ArrayType":
            item = node.resolve(node.data["itemType"])
            if is_loop(value):
                self.check_value(item, value["config"], where, f"{path}[*]")
            elif isinstance(value, list):
                for i, element in enumerate(value):
                    self.check_value(item, element, where, f"{path}[{i}]")
            else:
                self._mismatch(node, value, where, path)
        elif kind in ("ObjectType", "DiscriminatedObjectType"):
            if isinstance(value, dict) and not is_loop(value):
                self._check_object(node, value, where, path)
            else:
                self._mismatch(node, value, where, path)

    def _mismatch(self, node: TypeNode, value: Any, where: str, path: str) -> None:
        shown = f"{value!r}" if isinstance(value, bool | int | Lit) else _kind_of(value)
        code = "BCP088" if node.kind in ("UnionType", "StringLiteralType") and isinstance(value, Lit) else "BCP036"
        self.report(where, code, f"{path or '<body>'}: expected {node.describe()}, got {shown}")

    def _check_union(self, node: TypeNode, value: Any, where: str, path: str) -> None:
        elements = [node.resolve(e) for e in node.data["elements"]]
        literals = [e.data["value"] for e in elements if e.kind == "StringLiteralType"]
        wanted = {
            str: ("StringType",),
            bool: ("BooleanType",),
            int: ("IntegerType",),
            dict: ("ObjectType", "DiscriminatedObjectType"),
            list: ("ArrayType",),
        }
        for python_type, kinds in wanted.items():
            if isinstance(value, python_type) and not (python_type is int and isinstance(value, bool)):
                matching = [e for e in elements if e.kind in kinds or e.kind == "AnyType"]
                if matching:
                    self.check_value(matching[0], value, where, path)
                    return
        if isinstance(value, Lit) and (value.interpolated or value in literals):
            return
        self._mismatch(node, value, where, path)

    def _check_string(self, node: TypeNode, value: Any, where: str, path: str) -> None:
        if not isinstance(value, Lit):
            self._mismatch(node, value, where, path)
            return
        if value.interpolated:
            return
        low, high = node.data.get("minLength"), node.data.get("maxLength")
        if (low is not None and len(value) < low) or (high is not None and len(value) > high):
            self.report(where, "BCP036", f"{path}: {value!r} is not {low}..{high} characters long")

    def _check_int(self, node: TypeNode, value: Any, where: str, path: str) -> None:
        if not isinstance(value, int) or isinstance(value, bool):
            self._mismatch(node, value, where, path)
            return
        low, high = node.data.get("minValue"), node.data.get("maxValue")
        if (low is not None and value < low) or (high is not None and value > high):
            self.report(where, "BCP036", f"{path}: {value} is outside {low}..{high}")

    def _check_object(self, node: TypeNode, value: dict[str, Any], where: str, path: str) -> None:
        properties = dict(node.data.get("properties") or {})
        if node.kind == "DiscriminatedObjectType":
            properties = dict(node.data.get("baseProperties") or {})
            tag = value.get(node.data["discriminator"])
            elements = node.data["elements"]
            if not isinstance(tag, Lit) or tag.interpolated:
                return  # the variant is computed: which properties apply is unknown
            if tag not in elements:
                self.report(
                    where, "BCP088", f"{path}.{node.data['discriminator']}: {tag!r} is not one of {sorted(elements)}"
                )
                return
            variant = node.resolve(elements[tag])
            properties.update(variant.data.get("properties") or {})
            node = variant
        additional = node.data.get("additionalProperties")
        lower = {name.lower(): name for name in properties}
        given: set[str] = set()
        for raw_key, item in value.items():
            key = key_name(raw_key)
            child = f"{path}.{key}" if path else key
            name = key if key in properties else lower.get(key.lower())
            if name is None:
                if additional is not None:
                    self.check_value(node.resolve(additional), item, where, child)
                elif "${" not in key:
                    self.report(where, "BCP037", f"{child}: no such property on {node.describe()}")
                continue
            given.add(name)
            spec = properties[name]
            if spec.get("flags", 0) & READ_ONLY:
                self.report(where, "BCP073", f"{child}: read-only; a template cannot set it")
                continue
            self.check_value(node.resolve(spec["type"]), item, where, child)
        missing = sorted(
            name
            for name, spec in properties.items()
            if spec.get("flags", 0) & REQUIRED and not spec.get("flags", 0) & READ_ONLY and name not in given
        )
        if missing:
            self.report(where, "BCP035", f"{path or '<body>'}: missing required properties {missing}")

    def _check_reference(self, node: TypeNode, name: str, where: str, path: str) -> None:
        if name in self.params:
            param = self.params[name]
            python_type = _PARAM_KINDS.get(str(param.get("type")))
            allowed = _allowed(param)
            if allowed is not None:
                for candidate in allowed:
                    self.check_value(node, Lit(candidate) if isinstance(candidate, str) else candidate, where, path)
            elif python_type is not None and node.kind in ("StringType", "IntegerType", "BooleanType"):
                expected = {"StringType": str, "IntegerType": int, "BooleanType": bool}[node.kind]
                if python_type is not expected:
                    self.report(
                        where, "BCP036", f"{path}: expected {node.describe()}, got parameter {name} ({param['type']})"
                    )
        elif name in self.variables and name not in self._following:
            self._following.add(name)
            try:
                self.check_value(node, self.variables[name]["value"], where, f"{path} (variable {name})")
            finally:
                self._following.discard(name)


def _check_module_params(template: Template, by_name: dict[str, Template]) -> list[Finding]:
    findings: list[Finding] = []
    for symbol, module in template.section("modules").items():
        target = by_name.get(
            str(PurePosixPath(template.name).parent / str(module["detail"]["path"])).removeprefix("./")
        )
        if target is None:
            continue
        _, _, body = unwrap(module["config"])
        given = dict(body.get("params") or {})
        declared = target.section("parameters")
        where = f"module {symbol} '{target.name}'"
        for key in sorted(set(given) - set(declared)):
            findings.append(
                Finding(template.name, where, "BCP037", f"params.{key}: {target.name} declares no such parameter")
            )
        for key in sorted(k for k, p in declared.items() if "default" not in p and k not in given):
            findings.append(Finding(template.name, where, "BCP035", f"params: missing required parameter {key}"))
        for key, value in given.items():
            allowed = _allowed(declared.get(key) or {})
            literal = isinstance(value, int) or (isinstance(value, Lit) and not value.interpolated)
            if allowed is not None and literal and value not in allowed:
                findings.append(
                    Finding(template.name, where, "BCP088", f"params.{key}: {value!r} is not one of {allowed}")
                )
    return findings


def check(template: Template, index: TypeIndex, templates: list[Template] | None = None) -> list[Finding]:
    checker = _Checker(template, index)
    checker.check_resources()
    by_name = {t.name: t for t in templates or []}
    return checker.findings + _check_module_params(template, by_name)
