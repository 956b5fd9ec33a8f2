"""Scope identity: how a scope appears in a finding's resource and labels."""

from __future__ import annotations

from core.model import ResourceRef

__all__ = ["scope_labels", "scope_resource"]


def scope_resource(kind: str, value: str) -> ResourceRef:
    if kind == "subscription":
        return ResourceRef.from_id(f"/subscriptions/{value}")
    if kind == "resource_group":
        sub, _, rg = value.partition("/")
        if rg and sub:
            return ResourceRef.from_id(f"/subscriptions/{sub}/resourceGroups/{rg}")
        return ResourceRef(id=f"resourcegroup/{value.lower()}", type="vigil/resourcegroup", name=value.lower())
    if kind == "resource":
        return ResourceRef.from_id(value)
    if kind == "provider":
        return ResourceRef(id=f"provider/{value.lower()}", type="vigil/provider", name=value)
    if kind == "service":
        return ResourceRef(id=f"service/{value.lower()}", type="vigil/service", name=value)
    if kind == "tag":
        return ResourceRef(id=f"tag/{value}", type="vigil/tag", name=value)
    return ResourceRef(id=f"billingaccount/{value or 'all'}", type="vigil/billingaccount", name=value or "all")


def scope_labels(kind: str, value: str) -> dict[str, str]:
    return {"scope_kind": kind, "scope": value or "all"}
