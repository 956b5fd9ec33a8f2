"""Storage outage: Azurite is stopped in the middle of a Function invocation and restarted.

The Function App's own entry points (``vigil.functions.resource_events`` and
``vigil.functions_alerts.dispatch``) run over :class:`vigil.runtime_azure.AzureRuntime` on Azurite
(Table state store, Storage queues), with the simulated tenant (``vigil.simulate``) as the
resource source and a webhook receiver (a real local HTTP server).

A *cut* is a state-store call number: when the invocation reaches that call, Azurite is
stopped (a real outage: the process is terminated, its port closes) and the call goes
ahead against the dead endpoint. The invocation must then raise (so the platform retries);
Azurite is restarted and the same invocation is delivered again, as Event Grid / the queue
would, followed by the rest of the run. The notifications the receiver gets must be exactly
those of an undisturbed run (same alerts, same statuses), each delivered once.

Storage SDK retries are turned off (``retry_total=0``) so an outage fails fast instead of
backing off for minutes; that changes timing only, not which calls fail.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from bench.faults.harness import Receiver, hook_config

__all__ = ["CutOutcome", "FaultStore", "OutageRun", "ingest_with_outage", "run_with_outage"]


class FaultStore:
    """A StateStore proxy that calls ``trigger()`` once, just before call number ``cut``."""

    METHODS = ("get", "get_many", "put", "put_many", "add", "delete", "query", "append", "ledger")

    def __init__(self, inner: Any, *, cut: int | None, trigger: Callable[[], None]) -> None:
        self._inner = inner
        self.cut = cut
        self.calls = 0
        self.log: list[str] = []  # "method:namespace" of each call, in order
        self.fired = False
        self._trigger = trigger

    def _tick(self) -> None:
        self.calls += 1
        if self.cut is not None and not self.fired and self.calls >= self.cut:
            self.fired = True
            self._trigger()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in self.METHODS:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            ns = args[0] if args else kwargs.get("namespace", "")
            self.log.append(f"{name}:{getattr(ns, 'value', ns)}")
            self._tick()
            result = attr(*args, **kwargs)
            if name in ("query", "ledger"):
                return iter(list(result))  # fail inside the call, not later in the caller's loop
            return result

        return call


@dataclass
class CutOutcome:
    cut: int | None
    phase: str
    failed_invocations: int = 0
    raised: list[str] = field(default_factory=list)
    silent_successes_during_outage: int = 0
    delivered: list[tuple[str, str]] = field(default_factory=list)
    duplicate_deliveries: int = 0
    observed: list[Any] = field(default_factory=list)  # what readers saw between a failure and its retry


@contextmanager
def _no_storage_retries() -> Iterator[None]:
    """Storage queue/blob clients built in this block fail at once instead of retrying for minutes."""
    from azure.storage.blob import BlobServiceClient
    from azure.storage.queue import QueueClient

    saved = {
        (QueueClient, "from_connection_string"): QueueClient.__dict__["from_connection_string"],
        (BlobServiceClient, "from_connection_string"): BlobServiceClient.__dict__["from_connection_string"],
    }

    def wrap(original: Any) -> Any:
        func = original.__func__

        def from_connection_string(cls: Any, *args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("retry_total", 0)
            kwargs.setdefault("connection_timeout", 2)
            return func(cls, *args, **kwargs)

        return classmethod(from_connection_string)

    for (cls, name), original in saved.items():
        setattr(cls, name, wrap(original))
    try:
        yield
    finally:
        for (cls, name), original in saved.items():
            setattr(cls, name, original)


class OutageRun:
    """One end-to-end run (events, then dispatch of the alerts queue) on fresh storage names."""

    def __init__(self, azurite: Any, tenant: Path, workdir: Path, receiver: Receiver, tag: str) -> None:
        from tests.support.azurite import host_settings

        self.azurite = azurite
        self.tenant = tenant
        self.receiver = receiver
        self.phase_calls: dict[str, int] = {}
        self.phase_log: dict[str, list[str]] = {}
        config = workdir / f"vigil-{tag}.yaml"
        config.write_text(
            json.dumps(hook_config(receiver.url)),
            encoding="utf-8",
        )
        self.env = {
            **host_settings(azurite.connection_string),
            "VIGIL_TENANT_DIR": str(tenant),
            "VIGIL_CONFIG": str(config),
        }

    def events(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for path in sorted((self.tenant / "events").glob("*.json")):
            out.extend(json.loads(path.read_text(encoding="utf-8")))
        return out

    @contextmanager
    def runtime(self, cut: int | None, phase: str) -> Iterator[FaultStore]:
        from core.state import open_store
        from vigil import runtime_azure
        from vigil.runtime_azure import AzureRuntime

        saved_env = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        inner = open_store(
            "table",
            connection=self.azurite.connection_string,
            table_name=self.env["VIGIL_STATE_TABLE"],
            client_options={"retry_total": 0, "connection_timeout": 2},
        )
        store = FaultStore(inner, cut=cut, trigger=self.azurite.stop)
        rt = AzureRuntime.from_env(store=store)
        previous = runtime_azure._RUNTIME
        runtime_azure._RUNTIME = rt
        try:
            with _no_storage_retries():
                yield store
        finally:
            runtime_azure._RUNTIME = previous
            for k, v in saved_env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def _take(self, queue: str = "ALERTS_QUEUE") -> list[Any]:
        from azure.functions.queue import QueueMessage
        from azure.storage.queue import QueueClient

        client = QueueClient.from_connection_string(self.azurite.connection_string, self.env[queue])
        out = []
        for m in client.receive_messages(max_messages=32, visibility_timeout=5):
            out.append(QueueMessage(id=m.id, body=base64.b64decode(m.content), dequeue_count=m.dequeue_count))  # type: ignore[no-untyped-call]
            client.delete_message(m)
        return out

    def invoke(
        self,
        fn: Callable[[], None],
        outcome: CutOutcome,
        store: FaultStore,
        label: str,
        observe: Callable[[], Any] | None = None,
    ) -> None:
        """Run ``fn``; when it fails, bring storage back and deliver it again (the platform's retry).

        ``observe`` runs between a failure and its retry, once storage is back: what a reader
        (the CLI, the digest, another invocation) would see of the failed invocation's work.
        """
        for _attempt in range(5):
            fired_before = store.fired
            try:
                fn()
            except Exception as exc:  # the invocation failed: the platform retries it
                outcome.failed_invocations += 1
                outcome.raised.append(f"{label}: {type(exc).__name__}: {str(exc)[:160]}")
                self.azurite.start()
                if observe is not None:
                    outcome.observed.append(observe())
                continue
            if store.fired and not fired_before and not self.azurite.running:
                outcome.silent_successes_during_outage += 1  # storage died, yet the invocation "succeeded"
                self.azurite.start()
            return
        raise RuntimeError(f"{label}: still failing after storage came back")

    def run(self, cut: int | None = None, phase: str = "events") -> CutOutcome:
        """All tenant events through ``resource_events``, then the alerts queue through ``dispatch``."""
        from azure.functions import meta
        from azure.functions.eventgrid import EventGridEventInConverter

        from vigil.functions import resource_events
        from vigil.functions_alerts import dispatch

        outcome = CutOutcome(cut, phase)
        start = len(self.receiver.requests)
        with self.runtime(cut if phase == "events" else None, phase) as store:
            for body in self.events():
                event = EventGridEventInConverter.decode(
                    meta.Datum(type="json", value=json.dumps(body)), trigger_metadata={}
                )
                self.invoke(partial(resource_events, event), outcome, store, f"event {body['id']}")
            self.phase_calls["events"] = store.calls
            self.phase_log["events"] = list(store.log)
        with self.runtime(cut if phase == "dispatch" else None, phase) as store:
            for _round in range(10):
                messages = self._try_take()
                if not messages:
                    break
                for msg in messages:
                    self.invoke(partial(dispatch, msg), outcome, store, f"dispatch {msg.id}")
            self.phase_calls["dispatch"] = store.calls
            self.phase_log["dispatch"] = list(store.log)
        got = [r for r in self.receiver.requests[start:] if r.delivered]
        outcome.delivered = sorted((rid, status) for r in got for _fp, rid, status in r.alerts())
        keys = [r.key for r in got]
        outcome.duplicate_deliveries = len(keys) - len(set(keys))
        return outcome

    def _try_take(self, queue: str = "ALERTS_QUEUE") -> list[Any]:
        for _ in range(50):
            try:
                return self._take(queue)
            except Exception:  # storage restarting
                self.azurite.start()
                time.sleep(0.1)
        return []


def _cut_index(log: list[str], where: float | str) -> int:
    """A fraction of the phase's store calls, or ``"method:namespace"``: the first such call
    (``"method:namespace@last"``: the last one)."""
    if isinstance(where, float):
        return max(1, round(len(log) * where))
    spec, _, which = where.partition("@")
    hits = [i + 1 for i, entry in enumerate(log) if entry == spec]
    if not hits:
        raise ValueError(f"no store call {spec!r} in this phase: {sorted(set(log))}")
    return hits[-1] if which == "last" else hits[0]


def run_with_outage(
    azurite: Any, tenant: Path, workdir: Path, *, cuts: list[tuple[str, float | str]]
) -> dict[str, Any]:
    """Baseline run, then one run per cut: (phase, fraction of its store calls or "method:namespace")."""
    with Receiver() as receiver:
        base = OutageRun(azurite, tenant, workdir, receiver, "base")
        baseline = base.run()
        counts = dict(base.phase_calls)
        results = []
        for i, (phase, where) in enumerate(cuts):
            cut = _cut_index(base.phase_log[phase], where)
            run = OutageRun(azurite, tenant, workdir, receiver, f"cut{i}")
            outcome = run.run(cut, phase)
            azurite.start()
            missing = sorted(set(baseline.delivered) - set(outcome.delivered))
            extra = sorted(set(outcome.delivered) - set(baseline.delivered))
            results.append(
                {
                    "phase": phase,
                    "where": where,
                    "cut": cut,
                    "call": base.phase_log[phase][cut - 1],
                    "of_calls": counts[phase],
                    "failed_invocations": outcome.failed_invocations,
                    "raised": outcome.raised[:3],
                    "silent_successes_during_outage": outcome.silent_successes_during_outage,
                    "delivered": len(outcome.delivered),
                    "lost": len(missing),
                    "missing": missing[:5],
                    "extra": extra[:5],
                    "duplicate_deliveries": outcome.duplicate_deliveries,
                }
            )
    return {"baseline_delivered": len(baseline.delivered), "baseline": baseline.delivered, "cuts": results}


def _split_parts(manifest: Path, parts: int) -> dict[str, bytes]:
    """The export run's files with its one CSV part split into ``parts`` parts (header on each),
    and the manifest rewritten to list them, as Cost Management does for large exports."""
    import gzip

    doc = json.loads(manifest.read_text(encoding="utf-8"))
    (blob,) = doc["blobs"]
    name = blob["blobName"]
    lines = gzip.decompress((manifest.parent / name.rsplit("/", 1)[-1]).read_bytes()).decode("utf-8-sig").splitlines()
    header, rows = lines[0], lines[1:]
    size = -(-len(rows) // parts)
    out: dict[str, bytes] = {}
    blobs = []
    for i in range(parts):
        chunk = rows[i * size : (i + 1) * size]
        data = gzip.compress(("\n".join([header, *chunk]) + "\n").encode("utf-8"))
        part_name = name.replace("part_0_0001", f"part_0_{i + 1:04d}")
        out[part_name] = data
        blobs.append({"blobName": part_name, "byteCount": len(data), "dataRowCount": len(chunk)})
    doc.update(blobs=blobs, blobCount=parts, byteCount=sum(b["byteCount"] for b in blobs))
    out[name.rsplit("/", 1)[0] + "/manifest.json"] = json.dumps(doc, indent=2).encode()
    return out


INGEST_PARTS = 3  # the ingest scenario splits the export run into this many parts


def _upload_export(run: OutageRun, parts: int = INGEST_PARTS) -> dict[str, Any]:
    """Copies the tenant's first export run (split into ``parts`` parts) into the exports
    container; returns its BlobCreated event."""
    from azure.storage.blob import BlobServiceClient

    root = run.tenant / "exports"
    manifest = sorted(root.rglob("manifest.json"))[0]
    service = BlobServiceClient.from_connection_string(run.azurite.connection_string)
    container = service.get_container_client(run.env["EXPORTS_CONTAINER"])
    container.create_container()
    files = _split_parts(manifest, parts)
    for name, data in files.items():
        container.upload_blob(name, data, overwrite=True)
    path = manifest.relative_to(root).as_posix()
    return {
        "id": "blob-created-" + run.env["EXPORTS_CONTAINER"],
        "topic": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct",
        "subject": f"/blobServices/default/containers/{run.env['EXPORTS_CONTAINER']}/blobs/{path}",
        "eventType": "Microsoft.Storage.BlobCreated",
        "eventTime": "2026-11-25T01:00:00.0000000Z",
        "data": {"api": "PutBlob", "url": f"https://acct.blob.core.windows.net/x/{path}"},
        "dataVersion": "",
        "metadataVersion": "1",
    }


def _visible_costs(run: OutageRun) -> tuple[int, str]:
    """Rows and total of the normalized costs a reader sees now."""
    from ingest.cost import load_costs
    from vigil.runtime_azure import get_runtime

    costs = load_costs(get_runtime().blobs(run.env["COSTS_CONTAINER"]))
    return len(costs), (f"{costs['BilledCost'].sum():.6f}" if len(costs) else "0")


def _ingest_run(run: OutageRun, cut: int | None) -> dict[str, Any]:
    """cost_manifest -> ingest_part (every part) through the Function entry points; totals after."""
    from azure.functions import meta
    from azure.functions.eventgrid import EventGridEventInConverter

    from vigil.functions_ingest import cost_manifest, ingest_part

    body = _upload_export(run)
    outcome = CutOutcome(cut, "ingest")
    with run.runtime(cut, "ingest") as store:
        event = EventGridEventInConverter.decode(meta.Datum(type="json", value=json.dumps(body)), trigger_metadata={})
        observe = partial(_visible_costs, run)
        run.invoke(partial(cost_manifest, event), outcome, store, "cost_manifest", observe)
        for _round in range(10):
            messages = run._try_take("INGEST_QUEUE")
            if not messages:
                break
            for msg in messages:
                run.invoke(partial(ingest_part, msg), outcome, store, f"ingest_part {msg.id}", observe)
        calls, log = store.calls, list(store.log)
    detect = run._try_take("DETECT_QUEUE")
    with run.runtime(None, "ingest"):
        rows, total = _visible_costs(run)
    return {
        "rows": rows,
        "total": total,
        "parts": INGEST_PARTS,
        "seen_between_failure_and_retry": [list(o) for o in outcome.observed],
        "detect_messages": len(detect),
        "failed_invocations": outcome.failed_invocations,
        "silent_successes_during_outage": outcome.silent_successes_during_outage,
        "raised": outcome.raised[:3],
        "calls": calls,
        "log": log,
    }


def ingest_with_outage(azurite: Any, tenant: Path, workdir: Path, *, cuts: list[float | str]) -> dict[str, Any]:
    """Cost ingestion through the Functions, Azurite stopped at each cut; totals must match the baseline."""
    with Receiver() as receiver:
        base = _ingest_run(OutageRun(azurite, tenant, workdir, receiver, "ingest-base"), None)
        results = []
        for i, where in enumerate(cuts):
            cut = _cut_index(base["log"], where)
            r = _ingest_run(OutageRun(azurite, tenant, workdir, receiver, f"ingest-cut{i}"), cut)
            azurite.start()
            r.pop("log")
            results.append({"where": where, "cut": cut, "call": base["log"][cut - 1], **r})
    base.pop("log")
    return {"baseline": base, "cuts": results}
