"""Azure's published Bicep type definitions (Azure/bicep-types-az ``generated/``), read from a directory
laid out as ``<namespace>/<apiVersion>/types.json``.

Each ``types.json`` is a list of type nodes that refer to each other by index (``{"$ref": "#/N"}``). A
``ResourceType`` node names a resource (``Microsoft.Web/sites@2024-04-01``) and points at its body.
Property flags: 1 Required, 2 ReadOnly, 4 WriteOnly, 8 DeployTimeConstant, 16 Identifier.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

REQUIRED = 1
READ_ONLY = 2


@dataclass(frozen=True)
class TypeNode:
    """One node of one ``types.json``; ``resolve`` follows a ``$ref`` in the same file."""

    nodes: tuple[dict[str, Any], ...]
    index: int

    @property
    def data(self) -> dict[str, Any]:
        return self.nodes[self.index]

    @property
    def kind(self) -> str:
        return str(self.data["$type"])

    def resolve(self, ref: dict[str, str]) -> TypeNode:
        return TypeNode(self.nodes, int(ref["$ref"].removeprefix("#/")))

    def describe(self) -> str:
        """A short human form: 'Disabled' | 'Enabled' | string, int, object (name) ..."""
        kind = self.kind
        if kind == "StringLiteralType":
            return repr(self.data["value"])
        if kind == "UnionType":
            return " | ".join(self.resolve(e).describe() for e in self.data["elements"])
        if kind == "ArrayType":
            return f"{self.resolve(self.data['itemType']).describe()}[]"
        if kind == "ObjectType":
            return f"object ({self.data.get('name', '')})"
        return {"StringType": "string", "IntegerType": "int", "BooleanType": "bool", "AnyType": "any"}.get(kind, kind)


class TypeIndex:
    """Resource types by ``Type@apiVersion`` (type matched case-insensitively, as ARM does)."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise FileNotFoundError(f"no type definitions at {root}")
        self.root = root

    @cached_property
    def _resources(self) -> dict[tuple[str, str], TypeNode]:
        found: dict[tuple[str, str], TypeNode] = {}
        for path in sorted(self.root.glob("*/*/types.json")):
            nodes = tuple(json.loads(path.read_text(encoding="utf-8")))
            for i, node in enumerate(nodes):
                if node["$type"] == "ResourceType":
                    name, _, version = str(node["name"]).partition("@")
                    found[(name.lower(), version)] = TypeNode(nodes, i)
        return found

    def resource(self, type_name: str, api_version: str) -> TypeNode | None:
        """The body type of ``type_name@api_version``, or None when it is not published."""
        node = self._resources.get((type_name.lower(), api_version))
        return node.resolve(node.data["body"]) if node else None

    def versions(self, type_name: str) -> list[str]:
        return sorted(v for (t, v) in self._resources if t == type_name.lower())
