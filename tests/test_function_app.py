"""The Function App: indexing smoke test, and every function called with real azure.functions objects.

The plumbing tests replace ``vigil.handlers`` with a recording double (so they check the
trigger layer, not the pipeline) but run against a real runtime on Azurite: what a
handler enqueues really lands in an Azurite queue, and malformed messages really land in
the dead-letter container. ``test_*_real_handlers`` run the real handlers end to end.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import types
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest
from azure.functions.queue import QueueMessage as WorkerQueueMessage
from azure.functions.timer import TimerRequest

import function_app
from tests.support.azurite import host_settings
from vigil import runtime_azure
from vigil.runtime_azure import AzureRuntime, get_runtime, reset_runtime

REPO = Path(__file__).resolve().parents[1]
SAMPLE_SETTINGS = REPO / "local.settings.sample.json"

EXPECTED = {
    "resource_events": "eventGridTrigger",
    "cost_manifest": "eventGridTrigger",
    "ingest_part": "queueTrigger",
    "detect": "queueTrigger",
    "dispatch": "queueTrigger",
    "metrics": "timerTrigger",
    "activity": "timerTrigger",
    "sweep": "timerTrigger",
    "digest": "timerTrigger",
    "forward": "timerTrigger",
    "health": "httpTrigger",
    "remediate": "queueTrigger",
    "card_action": "httpTrigger",
    "silences": "httpTrigger",
    "console": "httpTrigger",
}
SETTING_REF = re.compile(r"%([A-Za-z0-9_]+)%")


# get_functions() validates name uniqueness against what it saw before: call it once.
FUNCTIONS = function_app.app.get_functions()


def _functions() -> dict[str, Any]:
    return {str(f.get_function_name()): f for f in FUNCTIONS}


def _trigger(fn: Any) -> dict[str, Any]:
    trigger = fn.get_trigger()
    assert trigger is not None
    return dict(trigger.get_dict_repr())


def _user_function(name: str) -> Callable[..., Any]:
    return _functions()[name].get_user_function()  # type: ignore[no-any-return]


# --- indexing ---------------------------------------------------------------------------


def test_function_names_and_trigger_types() -> None:
    fns = FUNCTIONS
    assert fns
    names = [f.get_function_name() for f in fns]
    assert len(names) == len(set(names)), f"duplicate function names: {names}"
    assert {n: _trigger(f)["type"] for n, f in zip(names, fns, strict=True)} == EXPECTED


def test_every_setting_reference_exists_in_sample_settings() -> None:
    values = json.loads(SAMPLE_SETTINGS.read_text(encoding="utf-8"))["Values"]
    for fn in FUNCTIONS:
        for binding in fn.get_bindings_dict()["bindings"]:
            for value in binding.values():
                for ref in SETTING_REF.findall(str(value)):
                    assert ref in values, f"{fn.get_function_name()}: %{ref}% missing from local.settings.sample.json"


def test_queue_triggers_use_identity_capable_connection() -> None:
    for name, fn in _functions().items():
        trigger = _trigger(fn)
        if trigger["type"] == "queueTrigger":
            assert trigger["connection"] == "AzureWebJobsStorage", name
            assert SETTING_REF.fullmatch(trigger["queueName"]), f"{name}: queue name must come from a setting"


def test_timers_use_schedule_settings_and_retry() -> None:
    for name, fn in _functions().items():
        trigger = _trigger(fn)
        if trigger["type"] == "timerTrigger":
            assert SETTING_REF.fullmatch(trigger["schedule"]), f"{name}: schedule must be an app setting"
            assert trigger["runOnStartup"] is False
            retry = fn.get_settings_dict("retry_policy")
            assert retry is not None, f"{name}: timer without retry policy"
            assert retry["strategy"] == "exponential_backoff"


def test_http_functions_need_a_key() -> None:
    http = [fn for fn in FUNCTIONS if _trigger(fn)["type"] == "httpTrigger"]
    assert http
    for fn in http:
        if fn.get_function_name() == "console":
            # Browsers cannot carry a function key: App Service Authentication fronts it, and the
            # console refuses to serve without it (tests/console/test_function_trigger.py).
            assert str(_trigger(fn)["authLevel"]).upper() == "ANONYMOUS"
            continue
        assert str(_trigger(fn)["authLevel"]).upper() in {"FUNCTION", "ADMIN"}


def test_function_app_only_composes_blueprints() -> None:
    source = (REPO / "function_app.py").read_text(encoding="utf-8")
    assert source.count("app.register_functions(") == 4
    assert "def " not in source


def test_indexing_does_not_import_handlers_or_heavy_modules() -> None:
    import subprocess

    code = (
        "import sys, function_app; "
        "bad = [m for m in ('vigil.handlers', 'vigil.settings', 'pydantic', 'pandas', 'sklearn', 'pyarrow', "
        "'matplotlib', 'azure.storage.queue') "
        "if m in sys.modules]; print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# --- calling the functions -----------------------------------------------------------------


class Recorder:
    """A stand-in for ``vigil.handlers`` that records calls and can enqueue or fail."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.fail: Exception | None = None
        self.enqueue: tuple[str, dict[str, Any]] | None = None
        self.health_result: dict[str, Any] = {"ok": True, "status": "ok"}

    def _call(self, name: str, *args: Any) -> dict[str, Any]:
        self.calls.append((name, args))
        if self.fail is not None:
            raise self.fail
        rt = next(a for a in args if isinstance(a, AzureRuntime))
        if self.enqueue is not None:
            rt.enqueue(*self.enqueue)
        return {"handler": name}

    def module(self) -> types.ModuleType:
        mod = types.ModuleType("vigil.handlers")
        for name in (
            "handle_resource_events",
            "handle_blob_created",
            "handle_ingest_part",
            "handle_detect",
            "run_metrics",
            "run_sweep",
            "run_digest",
            "run_activity",
            "run_forward",
            "dispatch_alert",
        ):
            setattr(mod, name, lambda *a, _n=name: self._call(_n, *a))

        def health(rt: AzureRuntime) -> dict[str, Any]:
            self.calls.append(("health", (rt,)))
            if self.fail is not None:
                raise self.fail
            return self.health_result

        mod.health = health  # type: ignore[attr-defined]
        return mod


@pytest.fixture
def host_env(azurite: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """App settings for a runtime on Azurite, with unique queue/container/table names."""
    env = host_settings(azurite.connection_string)
    for key in list(env):
        monkeypatch.setenv(key, env[key])
    monkeypatch.delenv("VIGIL_CONFIG", raising=False)
    reset_runtime()
    yield env
    reset_runtime()


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch, host_env: dict[str, str]) -> Recorder:
    import vigil

    rec = Recorder()
    mod = rec.module()
    monkeypatch.setitem(sys.modules, "vigil.handlers", mod)
    monkeypatch.setattr(vigil, "handlers", mod, raising=False)
    return rec


def _receive(conn: str, queue: str) -> list[dict[str, Any]]:
    """Reads a queue the way the Functions host does: base64 text holding JSON."""
    from azure.storage.queue import QueueClient

    client = QueueClient.from_connection_string(conn, queue)
    messages = list(client.receive_messages(max_messages=32, visibility_timeout=1))
    return [json.loads(base64.b64decode(m.content)) for m in messages]


def _event_grid_event(event_type: str, subject: str, data: dict[str, Any]) -> func.EventGridEvent:
    return func.EventGridEvent(
        id="4db48cba-50a2-455a-93b4-de41a3b5b7f6",
        data=data,
        topic="/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg",
        subject=subject,
        event_type=event_type,
        event_time=datetime(2026, 11, 27, 4, 0, 0, tzinfo=UTC),
        data_version="2",
    )


WRITE = "Microsoft.Resources.ResourceWriteSuccess"
WS = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg"
    "/providers/Microsoft.MachineLearningServices/workspaces/ws1"
)


def test_resource_event_reaches_handler_as_event_grid_dict(recorder: Recorder) -> None:
    data = {"operationName": "Microsoft.MachineLearningServices/workspaces/write", "resourceUri": WS}
    _user_function("resource_events")(_event_grid_event(WRITE, WS, data))
    [(name, (events, rt))] = recorder.calls
    assert name == "handle_resource_events"
    assert rt is get_runtime()
    assert events == [
        {
            "id": "4db48cba-50a2-455a-93b4-de41a3b5b7f6",
            "topic": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg",
            "subject": WS,
            "eventType": WRITE,
            "eventTime": "2026-11-27T04:00:00Z",
            "data": data,
            "dataVersion": "2",
            "metadataVersion": "1",
        }
    ]


def test_resource_event_in_cloudevents_schema(recorder: Recorder) -> None:
    event = func.CloudEvent(
        id="e1",
        source="/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg",
        type="Microsoft.Resources.ResourceDeleteSuccess",
        specversion="1.0",
        data={"resourceUri": WS},
        time=datetime(2026, 11, 27, 4, 0, 0, tzinfo=UTC),
        subject=WS,
    )
    _user_function("resource_events")(event)
    [(_, (events, _rt))] = recorder.calls
    assert events[0]["specversion"] == "1.0"
    assert events[0]["type"] == "Microsoft.Resources.ResourceDeleteSuccess"
    assert events[0]["time"] == "2026-11-27T04:00:00Z"
    assert events[0]["data"] == {"resourceUri": WS}


def test_other_event_types_are_ignored(recorder: Recorder) -> None:
    _user_function("resource_events")(_event_grid_event("Microsoft.Resources.ResourceWriteFailure", WS, {}))
    _user_function("cost_manifest")(
        _event_grid_event("Microsoft.Storage.BlobCreated", "/blobServices/default/containers/c/blobs/x/part0.csv", {})
    )
    assert recorder.calls == []


def test_handler_output_lands_in_azurite_queue(recorder: Recorder, host_env: dict[str, str]) -> None:
    part = {"run_id": "r1", "part": "exports/x/part0.csv"}
    recorder.enqueue = (host_env["INGEST_QUEUE"], part)
    subject = "/blobServices/default/containers/cost-exports/blobs/exports/x/run1/manifest.json"
    _user_function("cost_manifest")(_event_grid_event("Microsoft.Storage.BlobCreated", subject, {"url": "u"}))
    assert [c[0] for c in recorder.calls] == ["handle_blob_created"]
    # The message carries the event's operation id (vigil.telemetry); ingest_part's invocation takes it over.
    operation = {"_vigil_operation": "4db48cba-50a2-455a-93b4-de41a3b5b7f6"}
    assert _receive(host_env["AzureWebJobsStorage"], host_env["INGEST_QUEUE"]) == [part | operation]


@pytest.mark.parametrize(
    ("function", "handler"),
    [("ingest_part", "handle_ingest_part"), ("detect", "handle_detect"), ("dispatch", "dispatch_alert")],
)
def test_queue_functions_pass_the_json_body(recorder: Recorder, function: str, handler: str) -> None:
    msg = WorkerQueueMessage(id="m1", body=json.dumps({"k": "v", "n": 1}).encode(), dequeue_count=1)  # type: ignore[no-untyped-call]
    _user_function(function)(msg)
    [(name, (message, rt))] = recorder.calls
    assert (name, message) == (handler, {"k": "v", "n": 1})
    assert isinstance(rt, AzureRuntime)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "body is not valid JSON"),
        (b"[1, 2]", "expected a JSON object, got list"),
        (b"", "body is empty"),
        (b"\xff\xfe", "body is not UTF-8"),
    ],
)
def test_malformed_queue_message_is_quarantined_not_retried(
    recorder: Recorder, host_env: dict[str, str], body: bytes, reason: str
) -> None:
    msg = func.QueueMessage(id="bad-1", body=body)
    _user_function("ingest_part")(msg)  # does not raise: retrying cannot fix it
    assert recorder.calls == []
    dead = get_runtime().blobs(host_env["DEADLETTER_CONTAINER"])
    path = f"queues/{host_env['INGEST_QUEUE']}/bad-1.json"
    record = json.loads(dead.read(path))
    assert reason in record["reason"]
    assert host_env["INGEST_QUEUE"] in record["reason"]
    assert "bad-1" in record["reason"]
    kept = record["body"].get("text")
    if kept is None:
        kept = base64.b64decode(record["body"]["base64"]).decode("latin-1")
        assert kept.encode("latin-1") == body
    else:
        assert kept.encode() == body


def test_handler_errors_propagate_for_platform_retry(recorder: Recorder) -> None:
    recorder.fail = ConnectionError("table unavailable")
    msg = func.QueueMessage(id="m2", body=b'{"run_id": "r"}')
    with pytest.raises(ConnectionError):
        _user_function("detect")(msg)
    with pytest.raises(ConnectionError):
        _user_function("resource_events")(_event_grid_event(WRITE, WS, {}))
    with pytest.raises(ConnectionError):
        _user_function("sweep")(TimerRequest())


@pytest.mark.parametrize(
    ("function", "handler"),
    [
        ("metrics", "run_metrics"),
        ("sweep", "run_sweep"),
        ("digest", "run_digest"),
        ("activity", "run_activity"),
        ("forward", "run_forward"),
    ],
)
def test_timer_functions_pass_runtime_and_aware_now(recorder: Recorder, function: str, handler: str) -> None:
    before = datetime.now(UTC)
    _user_function(function)(TimerRequest(past_due=True, schedule_status={}, schedule={}))
    [(name, (rt, now))] = recorder.calls
    assert name == handler
    assert rt is get_runtime()
    assert now.tzinfo is not None
    assert before <= now <= datetime.now(UTC)


def test_decorated_functions_are_directly_callable(recorder: Recorder) -> None:
    from vigil.functions import metrics

    metrics(TimerRequest())
    assert [c[0] for c in recorder.calls] == ["run_metrics"]


def _get(path: str = "/api/health") -> func.HttpRequest:
    return func.HttpRequest(method="GET", url=f"http://localhost:7071{path}", body=b"", params={})


def test_health_ok(recorder: Recorder) -> None:
    resp = _user_function("health")(_get())
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    assert json.loads(resp.get_body()) == {"ok": True, "status": "ok"}


def test_health_unhealthy_and_failing(recorder: Recorder) -> None:
    recorder.health_result = {"ok": False, "checks": {"state": "unreachable"}}
    assert _user_function("health")(_get()).status_code == 503
    recorder.fail = RuntimeError("boom with secret details")
    resp = _user_function("health")(_get())
    assert resp.status_code == 503
    body = json.loads(resp.get_body())
    assert body == {"ok": False, "error": "RuntimeError"}


def test_runtime_is_cached_per_process(host_env: dict[str, str]) -> None:
    first = get_runtime()
    assert get_runtime() is first
    assert first.settings.ingest_queue == host_env["INGEST_QUEUE"]
    reset_runtime()
    assert runtime_azure._RUNTIME is None
    assert get_runtime() is not first


# --- the real handlers, end to end through Azurite ------------------------------------------
#
# A simulated tenant (vigil.simulate) provides the resources, events and cost exports. Events
# are decoded by the worker's own converter and queue messages are read back from Azurite and
# handed to the next function exactly as the host would (base64 -> bytes -> QueueMessage).


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vigil.simulate import simulate

    root = tmp_path_factory.mktemp("tenant") / "t"
    simulate(root)
    return root


@pytest.fixture
def real_env(host_env: dict[str, str], tenant: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("VIGIL_TENANT_DIR", str(tenant))
    reset_runtime()
    return {**host_env, "VIGIL_TENANT_DIR": str(tenant)}


def _decode_event(body: dict[str, Any]) -> Any:
    """What the Python worker hands the function for one Event Grid delivery."""
    from azure.functions import meta
    from azure.functions.eventgrid import EventGridEventInConverter

    return EventGridEventInConverter.decode(meta.Datum(type="json", value=json.dumps(body)), trigger_metadata={})


def _take(conn: str, queue: str) -> list[WorkerQueueMessage]:
    """Receives and deletes the visible messages of ``queue``, as the host's queue listener does."""
    from azure.core.exceptions import ResourceNotFoundError
    from azure.storage.queue import QueueClient

    client = QueueClient.from_connection_string(conn, queue)
    out = []
    try:
        received = list(client.receive_messages(max_messages=32, visibility_timeout=30))
    except ResourceNotFoundError:
        return []
    for m in received:
        out.append(
            WorkerQueueMessage(  # type: ignore[no-untyped-call]
                id=m.id, body=base64.b64decode(m.content), dequeue_count=m.dequeue_count
            )
        )
        client.delete_message(m)
    return out


def test_cost_export_flows_through_real_handlers_and_queues(real_env: dict[str, str], tenant: Path) -> None:
    conn = real_env["AzureWebJobsStorage"]
    exports = get_runtime().blobs(real_env["EXPORTS_CONTAINER"])
    root = tenant / "exports"
    manifests = sorted(p for p in root.rglob("manifest.json"))
    manifest = manifests[0]
    for file in manifest.parent.iterdir():
        exports.write(file.relative_to(root).as_posix(), file.read_bytes())
    path = manifest.relative_to(root).as_posix()
    listed = json.loads(manifest.read_bytes().decode("utf-8-sig"))["blobs"]
    event = {
        "id": "blob-created-1",
        "topic": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct",
        "subject": f"/blobServices/default/containers/{real_env['EXPORTS_CONTAINER']}/blobs/{path}",
        "eventType": "Microsoft.Storage.BlobCreated",
        "eventTime": "2026-11-25T01:00:00.0000000Z",
        "data": {"api": "PutBlob", "url": f"https://acct.blob.core.windows.net/x/{path}"},
        "dataVersion": "",
        "metadataVersion": "1",
    }

    _user_function("cost_manifest")(_decode_event(event))
    parts = _take(conn, real_env["INGEST_QUEUE"])
    assert len(parts) == len(listed) >= 1

    _user_function("cost_manifest")(_decode_event(event))  # Event Grid redelivers: nothing new
    assert _take(conn, real_env["INGEST_QUEUE"]) == []

    for msg in parts:
        _user_function("ingest_part")(msg)
    detect = _take(conn, real_env["DETECT_QUEUE"])
    assert len(detect) == 1, "the part that completes the run enqueues detection exactly once"
    detect_body = json.loads(detect[0].get_body())
    assert detect_body["type"] == "cost-run"
    assert detect_body["days"]
    assert list(get_runtime().blobs(real_env["COSTS_CONTAINER"]).list()), "normalized costs were written"

    _user_function("ingest_part")(parts[-1])  # the queue redelivers a part: no second detect
    assert _take(conn, real_env["DETECT_QUEUE"]) == []

    _user_function("detect")(detect[0])


def test_resource_events_through_real_handlers(real_env: dict[str, str], tenant: Path) -> None:
    from core.state.base import Namespace

    events = json.loads((tenant / "events").glob("*.json").__next__().read_text(encoding="utf-8"))
    assert events
    for _ in range(2):  # Event Grid delivers at least once
        for body in events:
            _user_function("resource_events")(_decode_event(body))
    processed = list(get_runtime().store.query(Namespace.EVENTS))
    assert processed, "processed event ids are recorded in the Azure Table state store"


def test_resource_event_reads_arm_with_the_runtime_credential(
    host_env: dict[str, str], tenant: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No tenant folder: the handler reads the resource with ARM GET, using AzureRuntime's credential
    and client options (here the shared local HTTPS Azure server), and records the verdict."""
    from core.state.base import Namespace
    from tests.support.azure_server import AzureTestServer
    from vigil.tenant import TenantFolder

    folder = TenantFolder(tenant)
    planted = json.loads((tenant / "tenant.json").read_text(encoding="utf-8"))["planted"]
    ws = folder.get(planted["drift_workspace"])
    assert ws is not None
    events = [e for e in folder.events() if e["subject"] == ws["id"]]
    assert events
    with AzureTestServer() as server:
        server.add_resource(ws, api_versions={"2024-10-01"})
        diag = [r for r in folder.list(["Microsoft.Insights/diagnosticSettings"]) if r["id"].startswith(ws["id"])]
        server.add_list("GET", re.escape(ws["id"]) + r"/providers/Microsoft\.Insights/diagnosticSettings", diag)
        rt = AzureRuntime.from_env(credential=server.credential(), azure_client_kwargs=server.client_kwargs())
        monkeypatch.setattr(runtime_azure, "_RUNTIME", rt)
        for body in events:
            _user_function("resource_events")(_decode_event(body))
        gets = server.requests_to(re.escape(ws["id"]) + "$", "GET")
    assert len(gets) == 1
    assert gets[0].headers["Authorization"].startswith("Bearer ")
    verdicts = {v.value["rule"]: v.value for v in rt.store.query(Namespace.VERDICTS)}
    assert verdicts["ml_workspace_public_network_access"]["compliant"] is False  # stored in the Azure Table


def test_health_with_real_handler_on_azurite(host_env: dict[str, str]) -> None:
    resp = _user_function("health")(_get())
    body = json.loads(resp.get_body())
    assert resp.status_code == 200, body
    assert body["checks"]["state"] == "ok"
    assert host_env["INGEST_QUEUE"] in body["checks"]["queues"]


def test_timers_with_real_handlers(real_env: dict[str, str]) -> None:
    for name in ("metrics", "sweep", "digest", "activity", "forward"):
        _user_function(name)(TimerRequest())


def test_handling_a_resource_event_loads_no_heavy_module(tenant: Path, tmp_path: Path) -> None:
    """The drift event path (index the app, handle a resource event) never imports pandas & co."""
    import subprocess

    code = f"""
import json, sys
from pathlib import Path
import function_app
from vigil import handlers
from vigil.config import VigilConfig
from vigil.runtime_local import LocalRuntime
from core.state import open_store
events = json.loads(next(Path({str(tenant / "events")!r}).glob("*.json")).read_text())
rt = LocalRuntime(VigilConfig(), open_store("sqlite", path={str(tmp_path / "s.db")!r}), Path({str(tmp_path)!r}),
                  settings={{"VIGIL_TENANT_DIR": {str(tenant)!r}}})
out = handlers.handle_resource_events(events, rt)
assert out["drift"]["processed"] >= 1, out
print(",".join(m for m in ("pandas", "sklearn", "pyarrow", "matplotlib", "scipy") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_host_json() -> None:
    host = json.loads((REPO / "host.json").read_text(encoding="utf-8"))
    assert host["version"] == "2.0"
    assert host["extensionBundle"] == {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)"}
    # Default telemetry mode: the host records every invocation (Event Grid, queue and timer included) as an
    # Application Insights request. OpenTelemetry mode would not: "only HTTP, Service Bus and Event Hubs
    # triggers are supported with OpenTelemetry outputs" (Considerations in
    # https://learn.microsoft.com/azure/azure-functions/opentelemetry-howto), and Vigil has none of those.
    assert "telemetryMode" not in host
    logging_config = host["logging"]
    assert logging_config["logLevel"]["Host.Results"] == "Information"  # the invocation (request) rows
    assert logging_config["logLevel"]["Function"] == "Information"  # the worker's log records (traces)
    # Sampling never drops an invocation, an exception or a log line (they carry the operation id).
    excluded = set(logging_config["applicationInsights"]["samplingSettings"]["excludedTypes"].split(";"))
    assert {"Request", "Exception", "Trace"} <= excluded
    hours, minutes, seconds = (int(x) for x in host["functionTimeout"].split(":"))
    assert 5 * 60 <= hours * 3600 + minutes * 60 + seconds <= 30 * 60  # long enough for one export part
    queues = host["extensions"]["queues"]
    assert queues["messageEncoding"] == "base64"  # what AzureRuntime.enqueue writes
    assert queues["maxDequeueCount"] == 5  # what LocalRuntime mirrors
    from vigil.runtime_local import MAX_DEQUEUE_COUNT

    assert queues["maxDequeueCount"] == MAX_DEQUEUE_COUNT


def test_funcignore_keeps_the_app_and_drops_dev_files() -> None:
    ignored = {
        line.strip()
        for line in (REPO / ".funcignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {"tests", "bench", ".venv", "node_modules", "out", "infra", "local.settings.json"} <= ignored
    assert not ignored & {
        "core",
        "vigil",
        "ingest",
        "detectors",
        "alerts",
        "function_app.py",
        "host.json",
        "requirements.txt",
    }


# --- alerts HTTP endpoints and the remediation queue, with the real handlers on Azurite -------------

SIGNING_KEY = "test-signing-key-0123456789"
SUB0 = "00000000-0000-0000-0000-000000000000"
VM0 = f"/subscriptions/{SUB0}/resourcegroups/rg/providers/microsoft.compute/virtualmachines/idle-vm"


def _http(  # type: ignore[no-untyped-def]
    method: str,
    route: str,
    *,
    params: dict[str, str] | None = None,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    **route_params: str,
):
    return func.HttpRequest(
        method=method,
        url=f"https://vigil.example/api/{route}",
        params=params or {},
        route_params=route_params,
        body=body,
        headers={"content-type": "application/json", **(headers or {})},
    )


def _seed_alert() -> str:
    """Puts one firing idle-VM alert into the runtime's store; returns its fingerprint."""
    from core.model import Finding, ResourceRef, Severity, Status
    from vigil.handlers._common import raise_alerts

    rt = get_runtime()
    finding = Finding(
        detector="idle",
        rule="vm_shutdown_candidate",
        status=Status.FIRING,
        severity=Severity.MEDIUM,
        resource=ResourceRef.from_id(VM0),
        observed_at=datetime(2026, 11, 27, tzinfo=UTC),
    )
    raise_alerts([finding], rt, finding.observed_at)  # as every handler raises alerts
    return finding.fingerprint


APPROVE_CONFIG = f"""
route: {{receiver: ops}}
receivers: [{{name: ops}}]
remediation: {{mode: approve, allowed_subscriptions: ["{SUB0}"]}}
"""


def test_card_approval_queues_a_remediation_request(
    host_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """GET shows a confirmation page (nothing acts); the page's POST, as the signed-in user, queues
    a signed request naming that user."""
    from datetime import timedelta
    from urllib.parse import parse_qsl, urlsplit

    from alerts.signing import derive_nonce, sign_link

    (tmp_path / "vigil.yaml").write_text(APPROVE_CONFIG, encoding="utf-8")
    monkeypatch.setenv("VIGIL_CONFIG", str(tmp_path / "vigil.yaml"))
    monkeypatch.setenv("VIGIL_SIGNING_KEY", SIGNING_KEY)
    reset_runtime()
    fp = _seed_alert()
    key = SIGNING_KEY.encode()
    link = sign_link(
        "https://vigil.example?code=function-key",
        "approve",
        {"fp": fp},
        key=key,
        issued_at=datetime.now(UTC),
        ttl=timedelta(hours=1),
        nonce=derive_nonce(key, "t", fp),
    )
    query = dict(parse_qsl(urlsplit(link).query))
    assert query["code"] == "function-key"  # the host checks it; the signature does not cover it
    who = {"x-ms-client-principal-name": "alice@example.com"}
    page = _user_function("card_action")(_http("GET", "alerts/action", params=query, headers=who))
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    csrf = re.search(r"name='csrf' value='([0-9a-f]{64})'", page.get_body().decode())
    assert csrf
    form = f"csrf={csrf.group(1)}".encode()
    resp = _user_function("card_action")(_http("POST", "alerts/action", params=query, body=form, headers=who))
    body = json.loads(resp.get_body())
    assert resp.status_code == 200, body
    assert body["remediation"].startswith("queued deallocate_vm on " + VM0)
    [request] = _receive(host_env["AzureWebJobsStorage"], host_env["REMEDIATION_QUEUE"])
    assert request["kind"] == "remediation-approved"
    assert request["fingerprint"] == fp
    assert request["approved_by"] == "alice@example.com"
    assert len(request["sig"]) == 64
    again = _user_function("card_action")(_http("POST", "alerts/action", params=query, body=form, headers=who))
    assert again.status_code == 410
    tampered = _user_function("card_action")(
        _http("POST", "alerts/action", params={**query, "fp": "0" * 16}, body=form, headers=who)
    )
    assert tampered.status_code == 403


def test_remediate_rejects_outside_allowed_scope_without_retry(host_env: dict[str, str]) -> None:
    msg = {
        "kind": "remediation-approved",
        "fingerprint": "f",
        "resource_id": VM0,
        "rule": "vm_shutdown_candidate",
        "action": "deallocate_vm",
        "nonce": "n",
        "approved_by": "someone",
    }
    qm = func.QueueMessage(id="m1", body=json.dumps(msg).encode())
    from vigil import handlers

    result = handlers.handle_remediation(msg, get_runtime())
    # A forged (unsigned) request is refused before anything else (tests/security/test_remediation_queue.py).
    assert result["ok"] is False
    assert "VIGIL_SIGNING_KEY" in result["rejected"] or "not signed" in result["rejected"]
    _user_function("remediate")(qm)  # same path through the trigger: no exception, nothing retried


def test_silences_api_create_list_expire_and_limits(host_env: dict[str, str]) -> None:
    create = {"matchers": ['alertname="vm_shutdown_candidate"'], "duration": "2h", "comment": "x", "createdBy": "ops"}
    resp = _user_function("silences")(_http("POST", "alerts/silences", body=json.dumps(create).encode()))
    created = json.loads(resp.get_body())
    assert resp.status_code == 201, created
    listed = json.loads(_user_function("silences")(_http("GET", "alerts/silences")).get_body())
    assert [s["id"] for s in listed] == [created["id"]]
    gone = _user_function("silences")(_http("DELETE", "alerts/silences/x", silence_id=created["id"]))
    assert gone.status_code == 200
    big = _user_function("silences")(_http("POST", "alerts/silences", body=b"{" + b" " * (70 * 1024) + b"}"))
    assert big.status_code == 413
    bad = _user_function("silences")(_http("POST", "alerts/silences", body=b"not json"))
    assert bad.status_code == 400
    assert "not JSON" in json.loads(bad.get_body())["error"]
