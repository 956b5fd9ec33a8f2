"""A tenant folder served as a live tenant: the local HTTPS test server answers ARM, Resource Graph, Azure
Monitor metrics, Azure Policy and both activity-log APIs from the folder's files, and an Azurite with
HTTPS and OAuth holds its cost exports in a blob container, so ``vigil run`` without ``--tenant`` reads
the same data the tenant run reads, through the real SDK clients.

Shapes: Resource Graph rows are what the query projects (``id, name, type, location, kind, tags, identity,
sku, properties``, with ``type`` in lower case, as Resource Graph returns it), filtered by the query's
``type in~ (...)`` and the request's subscriptions, paged with ``$skipToken``; metrics answers keep only
the requested ``metricnames``; lists are ARM ``value``/``nextLink`` pages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.activity import ACTIVITY_API, add_activity_log, add_log_analytics
from tests.support.azure_server import AzureTestServer, Request, Response, arm_error
from tests.support.azurite import Azurite
from vigil.tenant import TenantFolder

__all__ = ["oauth_azurite", "serve_tenant", "tenant_activity", "upload_exports"]

_GRAPH_TYPES = re.compile(r"^(?P<table>\w+)\s*\|\s*where type in~ \((?P<types>[^)]*)\)", re.IGNORECASE)
_GRAPH_COLUMNS = ("id", "name", "type", "location", "kind", "tags", "identity", "sku", "properties")
_METRICS_MARK = "/providers/microsoft.insights/metrics/"


def tenant_activity(root: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The folder's ``activity/`` files as (Activity Log REST records, Log Analytics AzureActivity rows)."""
    rest: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for path in sorted((root / "activity").glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        if "tables" in doc:
            for table in doc["tables"]:
                names = [c["name"] for c in table["columns"]]
                rows += [dict(zip(names, r, strict=True)) for r in table["rows"]]
        else:
            rest += doc["value"]
    return rest, rows


def _sub_of(resource_id: str) -> str:
    parts = resource_id.lower().split("/")
    return parts[2] if len(parts) > 2 and parts[1] == "subscriptions" else ""


def _paged(req: Request, items: list[dict[str, Any]], url: str, page_size: int) -> Response:
    start = int(req.param("$skipToken") or 0)
    body: dict[str, Any] = {"value": items[start : start + page_size]}
    if start + page_size < len(items):
        body["nextLink"] = f"{url}{req.path}?api-version={req.api_version}&$skipToken={start + page_size}"
    return Response(200, body)


def serve_tenant(server: AzureTestServer, tenant: TenantFolder, *, workspace_id: str, page_size: int = 7) -> None:
    """Every API ``vigil run`` reads in Azure, answered from ``tenant`` (``workspace_id``: the Log Analytics
    workspace that receives the folder's AzureActivity answer)."""
    resources = [dict(r) for r in tenant.list()]
    by_id = {str(r["id"]).lower(): r for r in resources}
    for r in resources:
        server.add_resource(r)

    # extension and child lists (diagnostic settings): GET {parent}/providers/{namespace}/{type}
    def related(req: Request, m: re.Match[str]) -> Response:
        prefix = f"{m['parent']}/providers/{m['ns']}/{m['type']}/".lower()
        return _paged(req, [r for i, r in by_id.items() if i.startswith(prefix)], server.url, page_size)

    server.route("GET", r"(?P<parent>/subscriptions/.+)/providers/(?P<ns>[^/]+)/(?P<type>[^/]+)", related)

    # a provider's resource types and api-versions (ArmReader.api_version_for, for types outside its table)
    def provider(req: Request, m: re.Match[str]) -> Response:
        ns = m["ns"].lower()
        types = sorted({str(r["type"]).lower().split("/", 1)[1] for r in resources if r["type"].lower().startswith(ns)})
        return Response(
            200,
            {
                "namespace": m["ns"],
                "resourceTypes": [{"resourceType": t, "apiVersions": ["2024-01-01"]} for t in types],
            },
        )

    server.route("GET", r"/subscriptions/[^/]+/providers/(?P<ns>[^/]+)", provider)

    def graph(req: Request, _m: re.Match[str]) -> Response:
        body = req.json() or {}
        found = _GRAPH_TYPES.match(str(body.get("query") or ""))
        if found is None:
            return arm_error(400, "BadRequest", f"unsupported query {body.get('query')!r}")
        wanted = {t.strip().strip("'").lower() for t in found["types"].split(",")}
        subs = {s.lower() for s in body.get("subscriptions") or []}
        rows = [
            {c: (str(r.get(c)).lower() if c == "type" else r.get(c)) for c in _GRAPH_COLUMNS if c in r}
            for i, r in sorted(by_id.items())
            if str(r["type"]).lower() in wanted and (not subs or _sub_of(i) in subs)
        ]
        if found["table"].lower() != "resources":
            rows = []  # the tenant folder holds no authorizationresources
        options = body.get("options") or {}
        start = int(options.get("$skipToken") or 0)
        size = min(int(options.get("$top") or page_size), page_size)
        page = rows[start : start + size]
        out: dict[str, Any] = {"totalRecords": len(rows), "count": len(page), "resultTruncated": "false", "data": page}
        if start + size < len(rows):
            out["$skipToken"] = str(start + size)
        return Response(200, out)

    server.route(
        "POST",
        r"/providers/Microsoft\.ResourceGraph/resources",
        graph,
        api_versions={"2021-03-01", "2022-10-01", "2024-04-01"},
    )

    # Azure Monitor metrics: the folder's answer for the resource, the requested metric names only
    answers: dict[str, dict[str, Any]] = {}
    for path in sorted((tenant.root / "metrics").rglob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        for v in doc.get("value") or []:
            rid = str(v["id"]).lower().split(_METRICS_MARK, 1)[0]
            answers.setdefault(rid, {**doc, "value": []})["value"].append(v)

    def metrics(req: Request, m: re.Match[str]) -> Response:
        doc = answers.get(m["rid"].lower())
        names = {n.strip().lower() for n in (req.param("metricnames") or "").split(",") if n.strip()}
        if doc is None:
            return Response(200, {"timespan": req.param("timespan") or "", "interval": "PT1H", "value": []})
        keep = [v for v in doc["value"] if not names or str(v["name"]["value"]).lower() in names]
        return Response(200, {**doc, "value": keep})

    server.route("GET", r"(?P<rid>/subscriptions/.+)/providers/Microsoft\.Insights/metrics", metrics)

    # Azure Policy: the folder's assignments, exemptions and definitions
    policy = tenant.root / "policy"

    def load(name: str) -> list[dict[str, Any]]:
        path = policy / f"{name}.json"
        if not path.exists():
            return []
        doc = json.loads(path.read_text(encoding="utf-8"))
        return list(doc["value"] if isinstance(doc, dict) else doc)

    def policy_list(items: list[dict[str, Any]]) -> Any:
        def handler(req: Request, m: re.Match[str]) -> Response:
            return _paged(req, [a for a in items if _sub_of(str(a["id"])) == m["sub"].lower()], server.url, page_size)

        return handler

    auth = r"/subscriptions/(?P<sub>[^/]+)/providers/Microsoft\.Authorization"
    server.route("GET", f"{auth}/policyAssignments", policy_list(load("assignments")), api_versions={"2023-04-01"})
    server.route(
        "GET", f"{auth}/policyExemptions", policy_list(load("exemptions")), api_versions={"2022-07-01-preview"}
    )
    for d in load("definitions"):
        server.add_resource(d, api_versions={"2023-04-01"})

    rest, rows = tenant_activity(tenant.root)
    add_activity_log(server, rest, page_size=3)
    add_log_analytics(server, workspace_id, rows)
    assert ACTIVITY_API  # the Activity Log route checks this api-version


def upload_exports(tenant: TenantFolder, container: Any) -> int:
    """Every file under the folder's ``exports/`` into ``container`` (a ``ContainerClient``) at the same
    path, as Cost Management writes them; returns the number of blobs."""
    container.create_container()
    n = 0
    for path in sorted(p for p in tenant.exports_root.rglob("*") if p.is_file()):
        container.upload_blob(path.relative_to(tenant.exports_root).as_posix(), path.read_bytes())
        n += 1
    return n


@contextmanager
def oauth_azurite(server: AzureTestServer, folder: Path) -> Iterator[Azurite]:
    """An Azurite serving HTTPS (a certificate from ``server``'s CA, so ``server.ca_path`` trusts it) with
    ``--oauth basic``: it takes the bearer token of a ``TokenCredential``, as Azure Storage does."""
    cert, key = server.issue_cert_files(folder / "tls")
    azurite = Azurite(folder / "azurite", tls=(cert, key), oauth=True)
    azurite.start()
    try:
        yield azurite
    finally:
        azurite.stop()
