"""Guards that decide whether an action may run, each with a stated reason."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from alerts.remediation.config import Mode, RemediationConfig
from core.model import ResourceRef

__all__ = ["Verdict", "check_scope", "effective_mode", "exemption", "normalise_resource_id"]


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    reason: str


def exemption(tags: Mapping[str, Any] | None, tag_name: str, now: datetime) -> str | None:
    """The reason a resource is exempt, or None. ``true`` exempts for good; a
    date (YYYY-MM-DD) exempts until the end of that day; anything else is
    reported as not exempting, so a typo never silently protects a resource."""
    if not tags:
        return None
    value = next((str(v) for k, v in tags.items() if k.lower() == tag_name.lower()), None)
    if value is None:
        return None
    text = value.strip().lower()
    if text in ("true", "yes", "1"):
        return f"exempt: tag {tag_name}={value}"
    try:
        until = date.fromisoformat(text[:10])
    except ValueError:
        return None
    if now.date() <= until:
        return f"exempt until {until.isoformat()}: tag {tag_name}={value}"
    return None


def normalise_resource_id(resource_id: str) -> str:
    """The canonical form of an ARM resource id for every scope check and every ARM call:
    case-folded, with no trailing slash. Raises ``ValueError`` for anything an attacker could
    use to make a check and the call disagree: ``.``/``..`` segments, empty segments (``//``),
    percent-encoding, backslashes, control characters, a query or fragment, or an id that does
    not start ``/subscriptions/<id>``."""
    rid = resource_id.strip()
    if not rid.startswith("/"):
        raise ValueError(f"resource id {rid[:200]!r} does not start with /subscriptions/")
    if any(ch in rid for ch in "\\%?#") or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in rid):
        raise ValueError(f"resource id {rid[:200]!r} holds a backslash, %, ?, # or a control character")
    segments = rid.rstrip("/").split("/")[1:]
    if any(seg in ("", ".", "..") for seg in segments):
        raise ValueError(f"resource id {rid[:200]!r} has an empty, '.' or '..' segment")
    if len(segments) < 2 or segments[0].lower() != "subscriptions":
        raise ValueError(f"resource id {rid[:200]!r} does not start with /subscriptions/<id>")
    return "/" + "/".join(seg.lower() for seg in segments)


def check_scope(resource: ResourceRef, cfg: RemediationConfig) -> Verdict:
    if resource.subscription_id not in cfg.allowed_subscriptions:
        return Verdict(False, f"subscription {resource.subscription_id or '?'} is not in allowed_subscriptions")
    if cfg.allowed_resource_groups:
        rg = resource.resource_group
        qualified = f"{resource.subscription_id}/{rg}"
        if rg not in cfg.allowed_resource_groups and qualified not in cfg.allowed_resource_groups:
            return Verdict(False, f"resource group {rg or '?'} is not in allowed_resource_groups")
    return Verdict(True, "in allowed scope")


def _auto_granted(rule: str, resource: ResourceRef, cfg: RemediationConfig) -> bool:
    for grant in cfg.auto_allow:
        if rule not in grant.rules or resource.subscription_id not in grant.subscriptions:
            continue
        if grant.resource_groups and resource.resource_group not in grant.resource_groups:
            continue
        return True
    return False


def effective_mode(requested: Mode, rule: str, resource: ResourceRef, cfg: RemediationConfig) -> tuple[Mode, str]:
    """``auto`` only where an ``auto_allow`` grant covers the rule and the scope;
    otherwise it falls back to ``approve``, and the reason says so."""
    if requested != "auto":
        return requested, f"mode {requested}"
    if _auto_granted(rule, resource, cfg):
        return "auto", "auto: granted by auto_allow"
    return "approve", f"auto not granted for rule {rule} in {resource.subscription_id}: approval required"
