"""Overspend detection fanned out by subscription: one queue message per batch of subscriptions, then
one tenant step that merges.

:func:`vigil.handlers.handle_detect` (a completed cost run) calls :func:`fan_out`: it lists the
subscriptions (AWS accounts, Google Cloud projects) that have costs in the detector's window and
enqueues one ``%DETECT_SCOPE_QUEUE%`` message per batch of at most :data:`SUBSCRIPTIONS_PER_MESSAGE`.
:func:`handle_detect_scopes` then runs, per message:

* ``"subscriptions"``: ``load_costs(scopes=batch)`` (the batch is pushed into the Parquet scan) and
  ``detect(part="subscriptions")``: the anomalies of each subscription and its resource groups. The
  findings are written to ``_detect/<key>/<version>/<batch>.json`` in the costs container; a
  redelivered message finds its result there and recomputes nothing. The message that finds every
  batch's result written enqueues the tenant step.
* ``"tenant"``: the whole window's aggregate and ``detect(part="tenant")`` (billing account, provider,
  service, the tenant's top resources, recurring charges, budgets), merged with every batch's findings
  (``merge_parts``), collapsed to one alert per cost event (``collapse_nested``: it sees the
  subscription, resource group, service and resource findings of one event together, whichever batch
  found them) and raised once. The detection marker (``cost._detection_marker``) is written after the
  alerts were raised: a redelivered or duplicated tenant message is skipped, a failed one redetects
  (raising the same findings again is idempotent in the alert state).

Every batch and the tenant step carry the marker's key and version (the live cost runs and config
when detection was asked for), so results of an older store version are never merged into a newer one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from vigil.handlers._common import COSTS_CONTAINER, DETECT_SCOPE_QUEUE, RetryableError, cost_history, setting

if TYPE_CHECKING:
    from core.runtime import BlobStore
    from vigil.runtime import Runtime

__all__ = ["RESULTS_PREFIX", "SUBSCRIPTIONS_PER_MESSAGE", "fan_out", "handle_detect_scopes"]

log = logging.getLogger(__name__)

# A batch's message stays far below the queue limit (50 ids of at most 128 characters is 7 KiB of the
# 48 KiB, checked by _batches) and its 100-day aggregate is a sixth of a 300-subscription tenant's.
SUBSCRIPTIONS_PER_MESSAGE = 50
_BATCH_BYTES = 16 * 1024
RESULTS_PREFIX = "_detect/"  # in the costs container; CostStore reads only partition pointers


def _batches(accounts: list[str]) -> list[list[str]]:
    """Batches of at most SUBSCRIPTIONS_PER_MESSAGE subscriptions (and _BATCH_BYTES of ids). Detection
    compares subscription ids in lower case, so the spellings of one id always share a batch."""
    spellings: dict[str, list[str]] = {}
    for a in accounts:
        spellings.setdefault(a.lower(), []).append(a)
    out: list[list[str]] = []
    count = size = 0
    for key in sorted(spellings):
        ids = spellings[key]
        need = sum(len(a.encode("utf-8")) + 4 for a in ids)
        if not out or count >= SUBSCRIPTIONS_PER_MESSAGE or size + need > _BATCH_BYTES:
            out.append([])
            count = size = 0
        out[-1].extend(ids)
        count += 1
        size += need
    return out


def fan_out(rt: Runtime, *, key: str, version: str, now: datetime, days: list[date], run_id: Any) -> dict[str, Any]:
    """One ``subscriptions`` message per batch of the window's subscriptions (or the tenant step at once
    when there are none). Re-running it enqueues the same messages, which are idempotent."""
    from ingest.cost import cost_accounts

    costs = rt.blobs(setting(rt, COSTS_CONTAINER))
    accounts = cost_accounts(costs, start=now - cost_history(rt.config.detectors.overspend), end=now)
    batches = _batches(accounts)
    base = _base(key=key, version=version, now=now, days=days, run_id=run_id, batches=len(batches))
    queue = setting(rt, DETECT_SCOPE_QUEUE)
    for i, batch in enumerate(batches):
        rt.enqueue(queue, {**base, "type": "subscriptions", "batch": i, "subscriptions": batch})
    if not batches:
        rt.enqueue(queue, {**base, "type": "tenant"})
    return {"fanned_out": len(batches), "subscriptions": len(accounts)}


class _Message:
    """A detect-scope message, validated: a field that is missing or of the wrong type is named."""

    def __init__(self, m: Mapping[str, Any]) -> None:
        from core.timeutil import parse_utc

        def need(name: str, kind: type) -> Any:
            value = m.get(name)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ValueError(f"detect-scope message field {name!r}: expected {kind.__name__}, got {value!r}")
            return value

        self.type = need("type", str)
        self.key = need("key", str)
        self.version = need("version", str)
        self.now = parse_utc(need("now", str))
        self.days = [date.fromisoformat(str(d)) for d in need("days", list)]
        self.batches = need("batches", int)
        self.run_id = m.get("run_id")
        self.batch = need("batch", int) if self.type == "subscriptions" else -1
        subs = need("subscriptions", list) if self.type == "subscriptions" else []
        if not all(isinstance(s, str) and s for s in subs):
            raise ValueError("detect-scope message field 'subscriptions': expected non-empty strings")
        self.subscriptions: list[str] = subs
        in_range = 0 <= self.batch < self.batches if self.type == "subscriptions" else self.batches >= 0
        if self.type not in ("subscriptions", "tenant") or not in_range:
            raise ValueError(f"detect-scope message: type {self.type!r}, batch {self.batch} of {self.batches}")

    def base(self) -> dict[str, Any]:
        return _base(
            key=self.key, version=self.version, now=self.now, days=self.days, run_id=self.run_id, batches=self.batches
        )

    @property
    def folder(self) -> str:
        # the version is a sha256 hex digest: its first 32 characters name the store version
        return f"{RESULTS_PREFIX}{self.key.replace('|', '-')}/{self.version[:32]}/"


def _detected(rt: Runtime, msg: _Message) -> bool:
    from core.state.base import Namespace

    done = rt.store.get(Namespace.CHECKPOINTS, msg.key)
    return done is not None and done.value.get("version") == msg.version


def _results(blobs: BlobStore, msg: _Message) -> list[str]:
    return [p for p in blobs.list(msg.folder) if p.endswith(".json")]


def handle_detect_scopes(message: dict[str, Any], rt: Runtime) -> dict[str, Any]:
    """One detect-scope message (see the module docstring). Idempotent; raises to be retried."""
    try:
        msg = _Message(message)
    except ValueError as exc:  # final: a retry reads the same message
        log.error("detect-scope message refused: %s", exc, extra={"run_id": message.get("run_id")})
        return {"refused": str(exc)}
    if _detected(rt, msg):
        return {"skipped": "already detected over the same cost runs", "run_id": msg.run_id}
    if msg.type == "subscriptions":
        return _subscriptions(msg, rt)
    return _tenant(msg, rt)


def _subscriptions(msg: _Message, rt: Runtime) -> dict[str, Any]:
    from detectors.overspend import detect
    from ingest.cost import load_costs

    blobs = rt.blobs(setting(rt, COSTS_CONTAINER))
    path = f"{msg.folder}{msg.batch:05d}.json"
    out: dict[str, Any] = {"batch": msg.batch, "batches": msg.batches}
    if blobs.exists(path):
        out["duplicate"] = True  # a redelivery: the result is written, only the completion check is left
    else:
        start = msg.now - cost_history(rt.config.detectors.overspend)
        costs = load_costs(blobs, start=start, end=msg.now, scopes=msg.subscriptions, aggregate=True, categorical=True)
        found = detect(
            costs, config=rt.config.detectors.overspend, now=msg.now, days=msg.days or None, part="subscriptions"
        )
        record = {"batch": msg.batch, "subscriptions": msg.subscriptions, "findings": [f.to_dict() for f in found]}
        blobs.write(path, json.dumps(record, separators=(",", ":"), default=str).encode("utf-8"))
        out.update(cost_rows=len(costs), scope_findings=len(found))
    if len(_results(blobs, msg)) >= msg.batches:  # every batch is in: the tenant step (a duplicate is skipped)
        rt.enqueue(setting(rt, DETECT_SCOPE_QUEUE), {**msg.base(), "type": "tenant"})
        out["tenant_step"] = True
    return out


def _base(*, key: str, version: str, now: datetime, days: list[date], run_id: Any, batches: int) -> dict[str, Any]:
    """The fields every detect-scope message of one detection carries."""
    return {
        "key": key,
        "version": version,
        "now": now.isoformat(),
        "days": [d.isoformat() for d in days],
        "run_id": run_id,
        "batches": batches,
    }


def _tenant(msg: _Message, rt: Runtime) -> dict[str, Any]:
    from core.model import Finding
    from core.state.base import Namespace
    from detectors.overspend import detect, merge_parts
    from detectors.overspend.anomalies import RULE_ID
    from detectors.overspend.collapse import collapse_nested
    from ingest.cost import load_costs
    from vigil.handlers._common import raise_alerts
    from vigil.handlers.cost import with_subscription_names

    blobs = rt.blobs(setting(rt, COSTS_CONTAINER))
    paths = sorted(_results(blobs, msg))
    if len(paths) < msg.batches:  # only when a batch's result was removed after it announced completion
        raise RetryableError(f"detect-scope tenant step: {len(paths)} of {msg.batches} batch results written")
    batches = [[Finding.from_dict(d) for d in json.loads(blobs.read(p))["findings"]] for p in paths]
    config = rt.config.detectors.overspend
    costs = load_costs(blobs, start=msg.now - cost_history(config), end=msg.now, aggregate=True, categorical=True)
    tenant = detect(costs, config=config, now=msg.now, days=msg.days or None, part="tenant")
    findings = collapse_nested(merge_parts(tenant, batches), rule=RULE_ID)  # one event: one alert, any batch
    findings = with_subscription_names(findings, costs)
    alerts = raise_alerts(findings, rt, msg.now)
    rt.store.put(Namespace.CHECKPOINTS, msg.key, {"version": msg.version, "at": rt.now().isoformat()})
    for p in paths:  # done: a late redelivered batch finds the marker and stops
        try:
            blobs.delete(p)
        except Exception:  # best effort: the marker, not the results, says what was detected
            log.warning("could not delete a detect-scope result", extra={"path": p})
    return {"cost_rows": len(costs), "findings": len(findings), "alerts": alerts, "batches": msg.batches}
