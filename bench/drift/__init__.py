"""Drift benchmark: the event path end to end, and rule evaluation alone.

1. ``drift_events``: 10,000 Event Grid events (60 % irrelevant types, 10 % duplicate
   deliveries, 30 % relevant writes/deletes on rule-pack resources) go one by one
   (as the Function trigger delivers them) through ``vigil.drift_path.handle_events``
   with the real ``ArmReader`` (azure-mgmt-resource) against the local HTTPS ARM
   test server and a SQLite state store. Reports p50/p99 latency per relevant
   event and events/s. Baseline: a bare SDK ARM GET against the same server
   (p50/p99), the floor a relevant event cannot beat.
2. ``drift_eval``: resource evaluations per second for rule evaluation alone
   (every built-in rule that applies to each resource). Goal >= 20,000/s.
   Baseline: ``json.dumps`` of the same resource per evaluation, a machine-speed
   reference measured in the same run.
3. ``drift_eval_builtins``: the same over every loadable Azure built-in definition
   (``../shared/azure-policy``, 4,780 of 5,009; parameters without a default get
   ``detectors.drift.corpus.sample_parameters``), on the rule-pack resources plus the
   REST-spec ARM shapes of ``tests/detectors/drift/fixtures/arm`` (a VM meets ~600
   built-ins). Goal >= 20,000/s, same baseline. Skipped when ``../shared`` is absent.
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

EVAL_GOAL = 20_000.0
LATENCY_GOAL_MS = 1000.0  # p99 per relevant event: "alert within seconds"
SUB = "00000000-0000-0000-0000-00000000be00"
ROLE_DEFS = f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions"


def _scale() -> float:
    try:
        return min(max(float(os.environ.get("VIGIL_BENCH_SCALE", "1")), 0.01), 1.0)
    except ValueError:
        return 1.0


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- fixtures


def _resources(rng: random.Random, n: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    rg = f"/subscriptions/{SUB}/resourceGroups/bench"
    for i in range(n):
        kind = i % 7
        if kind == 0:
            out.append(
                {
                    "id": f"{rg}/providers/Microsoft.MachineLearningServices/workspaces/ws{i}",
                    "name": f"ws{i}",
                    "type": "Microsoft.MachineLearningServices/workspaces",
                    "location": "westeurope",
                    "identity": {"type": "SystemAssigned"},
                    "properties": {
                        "publicNetworkAccess": rng.choice(["Enabled", "Disabled"]),
                        "encryption": {"status": "Enabled"},
                        "managedNetwork": {"isolationMode": rng.choice(["AllowOnlyApprovedOutbound", "Disabled"])},
                        "privateEndpointConnections": [
                            {
                                "properties": {
                                    "privateLinkServiceConnectionState": {"status": rng.choice(["Approved", "Pending"])}
                                }
                            }
                        ],
                    },
                }
            )
        elif kind == 1:
            out.append(
                {
                    "id": f"{rg}/providers/Microsoft.MachineLearningServices/workspaces/ws{i}/computes/c{i}",
                    "name": f"c{i}",
                    "type": "Microsoft.MachineLearningServices/workspaces/computes",
                    "location": "westeurope",
                    "properties": {
                        "computeType": "ComputeInstance",
                        "disableLocalAuth": rng.random() < 0.5,
                        "properties": {
                            "vmSize": "STANDARD_DS3_V2",
                            "idleTimeBeforeShutdown": rng.choice(["PT30M", None]),
                        },
                    },
                }
            )
        elif kind == 2:
            out.append(
                {
                    "id": f"{rg}/providers/Microsoft.Storage/storageAccounts/sa{i}",
                    "name": f"sa{i}",
                    "type": "Microsoft.Storage/storageAccounts",
                    "location": "westeurope",
                    "kind": "StorageV2",
                    "properties": {
                        "allowBlobPublicAccess": rng.random() < 0.3,
                        "allowSharedKeyAccess": False,
                        "minimumTlsVersion": rng.choice(["TLS1_0", "TLS1_2"]),
                        "supportsHttpsTrafficOnly": True,
                    },
                }
            )
        elif kind == 3:
            out.append(
                {
                    "id": f"{rg}/providers/Microsoft.KeyVault/vaults/kv{i}",
                    "name": f"kv{i}",
                    "type": "Microsoft.KeyVault/vaults",
                    "location": "westeurope",
                    "properties": {"enablePurgeProtection": rng.random() < 0.5, "publicNetworkAccess": "Disabled"},
                }
            )
        elif kind == 4:
            out.append(
                {
                    "id": f"{rg}/providers/Microsoft.ContainerRegistry/registries/acr{i}",
                    "name": f"acr{i}",
                    "type": "Microsoft.ContainerRegistry/registries",
                    "location": "westeurope",
                    "properties": {"adminUserEnabled": rng.random() < 0.3},
                }
            )
        elif kind == 5:
            rules = [
                {
                    "name": f"r{j}",
                    "properties": {
                        "direction": "Inbound",
                        "access": "Allow",
                        "sourceAddressPrefix": rng.choice(["*", "10.0.0.0/8"]),
                        "destinationPortRange": rng.choice(["22", "443", "3389"]),
                    },
                }
                for j in range(4)
            ]
            out.append(
                {
                    "id": f"{rg}/providers/Microsoft.Network/networkSecurityGroups/nsg{i}",
                    "name": f"nsg{i}",
                    "type": "Microsoft.Network/networkSecurityGroups",
                    "location": "westeurope",
                    "properties": {"securityRules": rules},
                }
            )
        else:
            role = rng.choice(["8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "acdd72a7-3385-48ef-bd42-f606fba81ae7"])
            scope = rng.choice([f"/subscriptions/{SUB}", rg])
            out.append(
                {
                    "id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/ra{i}",
                    "name": f"ra{i}",
                    "type": "Microsoft.Authorization/roleAssignments",
                    "properties": {
                        "scope": scope,
                        "principalId": "p",
                        "roleDefinitionId": f"{ROLE_DEFS}/{role}",
                    },
                }
            )
    return out


def _event(eid: str, etype: str, subject: str, when: datetime) -> dict[str, Any]:
    return {
        "id": eid,
        "subject": subject,
        "eventType": etype,
        "eventTime": when.isoformat().replace("+00:00", "Z"),
        "dataVersion": "2",
        "metadataVersion": "1",
        "topic": f"/subscriptions/{SUB}",
        "data": {
            "resourceUri": subject,
            "correlationId": eid,
            "status": "Succeeded",
            "claims": {"name": "Bench", "upn": "bench@contoso.com"},
            "subscriptionId": SUB,
        },
    }


def _events(
    rng: random.Random, resources: list[dict[str, Any]], total: int, t0: datetime
) -> tuple[list[dict[str, Any]], int]:
    n_irrelevant = round(total * 0.6)
    n_dup = round(total * 0.1)
    n_relevant = total - n_irrelevant - n_dup
    rg = f"/subscriptions/{SUB}/resourceGroups/bench"
    unique: list[tuple[str, dict[str, Any]]] = []
    for i in range(n_relevant):
        res = rng.choice(resources)
        kind = (
            "Microsoft.Resources.ResourceDeleteSuccess"
            if rng.random() < 0.05
            else "Microsoft.Resources.ResourceWriteSuccess"
        )
        unique.append(("relevant", _event(f"rel-{i}", kind, res["id"], t0 + timedelta(milliseconds=i))))
    for i in range(n_irrelevant):
        when = t0 + timedelta(milliseconds=i)
        if i % 2:
            ev = _event(
                f"irr-{i}", "Microsoft.Storage.BlobCreated", f"/blobServices/default/containers/c/blobs/b{i}", when
            )
        else:  # a resource event for a type no rule covers
            ev = _event(
                f"irr-{i}",
                "Microsoft.Resources.ResourceWriteSuccess",
                f"{rg}/providers/Microsoft.Web/sites/app{i % 50}",
                when,
            )
        unique.append(("irrelevant", ev))
    rng.shuffle(unique)
    stream = [ev for _, ev in unique]
    for _ in range(n_dup):  # at-least-once redeliveries of relevant events already seen
        pos = rng.randrange(len(stream) // 2, len(stream))
        earlier = [ev for ev in stream[:pos] if ev["id"].startswith("rel-")]
        stream.insert(pos + 1, dict(rng.choice(earlier)))
    return stream, n_relevant


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


# --------------------------------------------------------------------------- measurements


def bench_eval(resources: list[dict[str, Any]], rounds: int) -> dict[str, Any]:
    from detectors.drift.engine import evaluate_all
    from detectors.drift.loader import RuleSet, builtin_rules

    ruleset = RuleSet(builtin_rules())
    per_type = {r["type"]: [x.policy for x in ruleset.for_type(r["type"])] for r in resources}

    def related(_resource: Any, _type: str) -> list[dict[str, Any]]:
        return []  # auditIfNotExists rules see "no settings"

    evaluations = 0
    t0 = time.perf_counter()
    for _ in range(rounds):
        for r in resources:
            evaluations += len(evaluate_all(per_type[r["type"]], r, related=related))
    elapsed = time.perf_counter() - t0
    rate = evaluations / elapsed
    # baseline: one json.dumps of the resource per evaluation
    t1 = time.perf_counter()
    dumps = 0
    for _ in range(rounds):
        for r in resources:
            for _p in per_type[r["type"]]:
                json.dumps(r)
                dumps += 1
    base = dumps / (time.perf_counter() - t1)
    return {
        "name": "drift_eval",
        "unit": "resource evaluations/s",
        "value": round(rate, 1),
        "baseline": round(base, 1),
        "ratio": round(rate / base, 3),
        "goal": EVAL_GOAL,
        "pass": rate >= EVAL_GOAL,
        "evaluations": evaluations,
        "rules": len(ruleset),
        "description": "rule evaluation alone; baseline = json.dumps of the resource per evaluation",
    }


def bench_eval_builtins(resources: list[dict[str, Any]], rounds: int) -> dict[str, Any]:
    from datetime import UTC, datetime

    from detectors.drift.corpus import iter_definitions, sample_parameters
    from detectors.drift.engine import EvalEnv, PolicyLoadError, compile_policy, evaluate_all
    from detectors.drift.loader import RuleSet, rules_from_policies

    tarball = REPO / ".." / "shared" / "azure-policy" / "builtin-policy-definitions.tar.gz"
    if not tarball.exists():
        return {"name": "drift_eval_builtins", "skipped": f"{tarball} not present (the shared Azure Policy corpus)"}
    policies = []
    for name, definition in iter_definitions(tarball):
        try:
            policies.append(compile_policy(definition, source=name, parameters=sample_parameters(definition)))
        except PolicyLoadError:
            continue  # data-plane modes and the one AuditAction definition
    shapes = sorted((REPO / "tests" / "detectors" / "drift" / "fixtures" / "arm").glob("*.json"))
    resources = resources + [json.loads(p.read_text()) for p in shapes] * max(1, len(resources) // 70)
    ruleset = RuleSet(rules_from_policies(policies))
    per_type = {r["type"]: [x.policy for x in ruleset.for_type(r["type"])] for r in resources}
    env = EvalEnv(now=datetime(2026, 11, 27, 9, 0, tzinfo=UTC))

    def related(_resource: Any, _type: str) -> list[dict[str, Any]]:
        return []

    evaluations = 0
    t0 = time.perf_counter()
    for _ in range(rounds):
        for r in resources:
            evaluations += len(evaluate_all(per_type[r["type"]], r, related=related, env=env))
    rate = evaluations / (time.perf_counter() - t0)
    t1 = time.perf_counter()
    dumps = 0
    for _ in range(rounds):
        for r in resources:
            for _p in per_type[r["type"]]:
                json.dumps(r)
                dumps += 1
    base = dumps / (time.perf_counter() - t1)
    return {
        "name": "drift_eval_builtins",
        "unit": "resource evaluations/s",
        "value": round(rate, 1),
        "baseline": round(base, 1),
        "ratio": round(rate / base, 3),
        "goal": EVAL_GOAL,
        "pass": rate >= EVAL_GOAL,
        "evaluations": evaluations,
        "rules": len(policies),
        "rules_per_type": {t: len(v) for t, v in sorted(per_type.items())},
        "description": "every loadable Azure built-in; baseline = json.dumps of the resource per evaluation",
    }


def bench_events(resources: list[dict[str, Any]], total: int, rng: random.Random) -> dict[str, Any]:
    from core.state.sqlite import SQLiteStore
    from detectors.drift.loader import RuleSet, builtin_rules
    from ingest.arm import ArmReader
    from tests.support.azure_server import AzureTestServer, Request, Response
    from vigil.drift_path import handle_events

    t0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    events, n_relevant = _events(rng, resources, total, t0)
    ruleset = RuleSet(builtin_rules())
    diag = {
        "type": "Microsoft.Insights/diagnosticSettings",
        "name": "d",
        "properties": {"logs": [{"categoryGroup": "allLogs", "enabled": True}]},
    }
    with AzureTestServer() as server, tempfile.TemporaryDirectory() as tmp:
        for r in resources:
            server.add_resource(r)

        def diag_list(req: Request, m: Any) -> Response:
            return Response(
                200,
                {"value": [dict(diag, id=m.group("parent") + "/providers/Microsoft.Insights/diagnosticSettings/d")]},
            )

        server.route(
            "GET",
            r"(?P<parent>/.+)/providers/Microsoft\.Insights/diagnosticSettings",
            diag_list,
            api_versions={"2021-05-01-preview"},
        )
        reader = ArmReader(server.credential(), SUB, **server.client_kwargs())
        # warm the SDK connection pool and caches, then baseline: bare ARM GETs
        for r in resources[:20]:
            reader.get(r["id"])
        base_lat: list[float] = []
        for r in resources[: min(300, len(resources))]:
            s = time.perf_counter()
            reader.get(r["id"])
            base_lat.append((time.perf_counter() - s) * 1000)
        store = SQLiteStore(Path(tmp) / "state.db")
        latencies: list[float] = []
        counts = {"processed": 0, "duplicates": 0, "irrelevant": 0, "quarantined": 0, "firing": 0, "resolved": 0}
        start = time.perf_counter()
        for i, ev in enumerate(events):
            s = time.perf_counter()
            result = handle_events([ev], store=store, reader=reader, rules=ruleset, now=t0)
            dt = (time.perf_counter() - s) * 1000
            if result.processed:
                latencies.append(dt)
            for k, v in result.counts().items():
                if k in counts:
                    counts[k] += v
            if (i + 1) % 2000 == 0:
                _log(f"bench.drift: {i + 1}/{len(events)} events")
        elapsed = time.perf_counter() - start
        store.close()
        reader.close()
    p50, p99 = _pct(latencies, 0.5), _pct(latencies, 0.99)
    b50, b99 = _pct(base_lat, 0.5), _pct(base_lat, 0.99)
    return {
        "name": "drift_events",
        "unit": "ms p99 per relevant event",
        "value": round(p99, 3),
        "baseline": round(b99, 3),
        "ratio": round(p99 / b99, 3) if b99 else None,
        "goal": LATENCY_GOAL_MS,
        "pass": p99 <= LATENCY_GOAL_MS and counts["duplicates"] == len(events) - len({e["id"] for e in events}),
        "p50_ms": round(p50, 3),
        "p99_ms": round(p99, 3),
        "baseline_arm_get_p50_ms": round(b50, 3),
        "baseline_arm_get_p99_ms": round(b99, 3),
        "events": len(events),
        "events_per_s": round(len(events) / elapsed, 1),
        "relevant_unique_events": n_relevant,
        "elapsed_s": round(elapsed, 2),
        **{f"count_{k}": v for k, v in counts.items()},
        "description": "per-event handle_events over HTTPS ARM (real SDK) + SQLite; baseline = bare SDK ARM GET",
    }


def main() -> list[dict[str, Any]]:
    scale = _scale()
    rng = random.Random(20261127)
    resources = _resources(rng, max(70, round(700 * scale)))
    _log(f"bench.drift: {len(resources)} resources")
    evals = bench_eval(resources, rounds=max(2, round(30 * scale)))
    _log(f"bench.drift: evaluation {evals['value']}/s")
    builtins = bench_eval_builtins(resources, rounds=max(1, round(3 * scale)))
    _log(f"bench.drift: evaluation over the built-ins {builtins.get('value', builtins.get('skipped'))}/s")
    events = bench_events(resources, total=max(500, round(10_000 * scale)), rng=rng)
    return [events, evals, builtins]
