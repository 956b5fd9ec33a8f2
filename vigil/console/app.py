"""The triage console: one Starlette app, served by the Function App and by ``vigil serve``.

Server-rendered Jinja pages (autoescaped), a stylesheet and one small script (the live
silence preview and confirm prompts); no front-end build. Every page needs an identity
(``vigil.console.auth``); every state change is a POST with a CSRF token and a role
check, and every response carries a strict Content-Security-Policy.
"""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from alerts.remediation.config import RemediationConfig
from alerts.routing import Route as AlertRoute
from core.state.base import StateStore
from vigil.console import actions, data
from vigil.console.auth import (
    APPROVER,
    SESSION_COOKIE,
    TRIAGER,
    Authenticator,
    AuthError,
    Identity,
    LocalTokenAuth,
    csrf_token,
    verify_csrf,
)
from vigil.console.costs import CostSeries, CostSeriesReader

__all__ = ["CSP", "ConsoleConfig", "create_app"]

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}
MAX_FORM_BYTES = 64 * 1024  # as vigil.functions.MAX_BODY_BYTES, which the Function trigger checks first
PER_PAGE = 50


@dataclass
class ConsoleConfig:
    store: StateStore
    auth: Authenticator
    secret: bytes  # CSRF tokens are HMACs under it
    clock: Callable[[], datetime]
    remediation: RemediationConfig = field(default_factory=RemediationConfig)
    rule_actions: Mapping[str, str] = field(default_factory=dict)
    enqueue_remediation: Callable[[dict[str, str]], None] | None = None
    base: str = ""  # the path the app is served under ("/api/console" in the Function App)
    # The drift timeline's extras, where the host can read them: the resource's current ARM JSON
    # (by id; None when absent) and its Activity Log entries.
    resource_reader: Callable[[str], Mapping[str, Any] | None] | None = None
    activity: Callable[[str], list[Mapping[str, Any]]] | None = None
    # The cost drill-down's series (scope kind, scope, now) from the cost store; None: not read here.
    cost_series: CostSeriesReader | None = None
    route: AlertRoute | None = None  # the routing tree, for "group as routed"
    index_ttl: float = 30.0  # seconds before the alert index is refreshed (in the background)


class _SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.decode().lower() not in SECURITY_HEADERS]
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every value is escaped; nothing in the templates is marked safe but the SVG chart
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["qs"] = lambda d: urlencode({k: v for k, v in d.items() if v not in (None, "")})
    env.filters["short"] = lambda s, n=80: s if len(s) <= n else s[: n - 1] + "…"
    return env


class Console:
    def __init__(self, cfg: ConsoleConfig) -> None:
        self.cfg = cfg
        self.env = _templates()
        self.index = data.AlertIndex(cfg.store, ttl=cfg.index_ttl)

    # -- plumbing -------------------------------------------------------------------------------
    def identify(self, request: Request) -> Identity:
        ident = self.cfg.auth.identify(request.headers, request.cookies)
        if not ident.can_read:
            raise AuthError(403, f"{ident.name} has none of the Vigil.Reader, Vigil.Triager or Vigil.Approver roles")
        return ident

    def render(self, request: Request, ident: Identity, name: str, code: int = 200, **ctx: Any) -> HTMLResponse:
        page = self.env.get_template(name).render(
            base=self.cfg.base,
            me=ident,
            csrf=csrf_token(self.cfg.secret, ident),
            can_triage=ident.can(TRIAGER),
            can_approve=ident.can(APPROVER),
            path=request.url.path,
            **ctx,
        )
        return HTMLResponse(page, status_code=code)

    def error(self, status: int, message: str) -> HTMLResponse:
        page = self.env.get_template("error.html").render(base=self.cfg.base, status=status, message=message)
        return HTMLResponse(page, status_code=status)

    async def form(self, request: Request, ident: Identity) -> dict[str, str]:
        """The POST's urlencoded form, after the CSRF and same-origin checks."""
        origin = request.headers.get("origin")
        if origin and origin != "null":
            host = request.headers.get("x-forwarded-host") or request.headers.get("host", "")
            if origin.split("://", 1)[-1] != host:
                raise AuthError(403, f"cross-origin POST from {origin} refused")
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            raise AuthError(413, "form too large")
        fields = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        verify_csrf(self.cfg.secret, ident, fields.get("csrf", ""))
        return fields

    def url(self, path: str, query: Mapping[str, str] | None = None) -> str:
        q = urlencode({k: v for k, v in (query or {}).items() if v})
        return f"{self.cfg.base}{path}" + (f"?{q}" if q else "")

    def see_other(self, path: str, query: Mapping[str, str] | None = None) -> RedirectResponse:
        return RedirectResponse(self.url(path, query), status_code=303)

    # -- pages ----------------------------------------------------------------------------------
    def alerts_page(self, request: Request, ident: Identity) -> Response:
        q = request.query_params
        flt = data.AlertFilter(**{k: q.get(k, "").strip() for k in data.AlertFilter.__dataclass_fields__})
        try:
            page_no = int(q.get("page", "1") or 1)
        except ValueError:
            page_no = 1
        try:
            page = self.index.page(flt, now=self.cfg.clock(), page=page_no, per_page=PER_PAGE)
            problem = ""
        except ValueError as exc:  # a bad matcher or regex: show it next to the field
            page = self.index.page(data.AlertFilter(), now=self.cfg.clock(), page=1, per_page=PER_PAGE)
            page.rows, page.total, page.pages = [], 0, 1
            problem = str(exc)
        grouped = q.get("group") == "1" and self.cfg.route is not None and not problem
        groups: list[data.Group] = []
        group_total = group_pages = 0
        if grouped:
            assert self.cfg.route is not None
            groups, group_total, group_pages = self.index.groups(
                flt, self.cfg.route, now=self.cfg.clock(), page=page_no, per_page=PER_PAGE
            )
        return self.render(
            request,
            ident,
            "alerts.html",
            flt=flt,
            page=page,
            problem=problem,
            statuses=data.STATUSES,
            grouped=grouped,
            can_group=self.cfg.route is not None,
            groups=groups,
            group_total=group_total,
            group_pages=group_pages,
            page_no=page_no,
        )

    def alert_page(self, request: Request, ident: Identity) -> Response:
        fp = request.path_params["fp"]
        store = self.cfg.store
        alert = data.load_alert(store, fp)
        if alert is None:
            return self.error(404, f"no alert with fingerprint {fp}")
        now = self.cfg.clock()
        status, muted_by, ack = data.alert_status(store, alert, now)
        view = actions.remediation_view(alert, config=self.cfg.remediation, rule_actions=self.cfg.rule_actions)
        rid = alert.labels.get("resource_id", "")
        verdict = None
        if alert.labels.get("detector") == "drift" and rid:
            verdict = next(
                (v for v in data.drift_verdicts(store, rid) if v.get("rule") == alert.labels.get("alertname")), None
            )
        from alerts.remediation.execute import outcome_for

        return self.render(
            request,
            ident,
            "alert.html",
            alert=alert,
            status=status,
            muted_by=muted_by,
            ack=ack,
            notifications=self.index.notifications(fp),
            ledger=data.audit_entries(store, fingerprint=fp),
            outcome=outcome_for(store, fp),
            view=view,
            verdict=verdict,
            silence_query={"matchers": "\n".join(actions.silence_matchers_for(alert)), "from": fp},
            approval_key=uuid.uuid4().hex,
        )

    async def ack_post(self, request: Request, ident: Identity) -> Response:
        ident.require(TRIAGER, "acknowledge alerts")
        form = await self.form(request, ident)
        fp = request.path_params["fp"]
        try:
            await run_in_threadpool(
                actions.ack, self.cfg.store, fp, by=ident.name, comment=form.get("comment", ""), now=self.cfg.clock()
            )
        except KeyError:
            return self.error(404, f"no alert with fingerprint {fp}")
        self.index.note_ack(fp)
        log.info("console: %s acknowledged %s", ident.name, fp, extra={"fingerprint": fp, "by": ident.name})
        return self.see_other(f"/alerts/{fp}")

    async def approve_post(self, request: Request, ident: Identity) -> Response:
        ident.require(APPROVER, "approve remediation")
        form = await self.form(request, ident)
        fp = request.path_params["fp"]
        alert = data.load_alert(self.cfg.store, fp)
        if alert is None:
            return self.error(404, f"no alert with fingerprint {fp}")
        try:
            await run_in_threadpool(
                lambda: actions.approve(
                    self.cfg.store,
                    alert,
                    by=ident.name,
                    idempotency_key=form.get("key", ""),
                    config=self.cfg.remediation,
                    rule_actions=self.cfg.rule_actions,
                    enqueue=self.cfg.enqueue_remediation,
                    now=self.cfg.clock(),
                )
            )
        except actions.ApprovalError as exc:
            return self.error(409, str(exc))
        log.info("console: %s approved remediation of %s", ident.name, fp, extra={"fingerprint": fp, "by": ident.name})
        return self.see_other(f"/alerts/{fp}")

    def silences_page(self, request: Request, ident: Identity) -> Response:
        from alerts.silences import list_silences

        now = self.cfg.clock()
        silences = sorted(list_silences(self.cfg.store, now=now), key=lambda s: s.created_at, reverse=True)
        return self.render(request, ident, "silences.html", silences=silences, now=now)

    def _preview(self, text: str) -> dict[str, Any]:
        from alerts.matchers import parse_matchers

        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        if not lines:
            return {"error": "", "rows": [], "total": 0, "empty": True}
        try:
            matchers = [m for ln in lines for m in parse_matchers(ln)]
        except ValueError as exc:
            return {"error": str(exc), "rows": [], "total": 0, "empty": False}
        rows, total = self.index.matching(matchers, now=self.cfg.clock())
        return {"error": "", "rows": rows, "total": total, "empty": False}

    def silence_new_page(self, request: Request, ident: Identity) -> Response:
        q = request.query_params
        text = q.get("matchers", "")
        if not text and q.get("from"):  # a card's Silence button: pre-fill from the alert, as the detail page does
            alert = data.load_alert(self.cfg.store, q["from"])
            if alert is not None:
                text = "\n".join(actions.silence_matchers_for(alert))
        form = {
            "matchers": text,
            "duration": q.get("duration", "2h"),
            "comment": q.get("comment", ""),
            "from": q.get("from", ""),
            "key": uuid.uuid4().hex,  # the silence's id: a double submit creates one silence
        }
        return self.render(request, ident, "silence_new.html", form=form, preview=self._preview(text), problem="")

    async def silence_preview_post(self, request: Request, ident: Identity) -> Response:
        """The editor's Preview button without script: a POST, so the CSRF token stays out of URLs."""
        form = await self.form(request, ident)
        text = form.get("matchers", "")
        preview = await run_in_threadpool(self._preview, text)
        return self.render(request, ident, "silence_new.html", form=form, preview=preview, problem="")

    def silence_preview(self, request: Request, ident: Identity) -> Response:
        return self.render(
            request, ident, "_preview.html", preview=self._preview(request.query_params.get("matchers", ""))
        )

    async def silence_post(self, request: Request, ident: Identity) -> Response:
        ident.require(TRIAGER, "create silences")
        form = await self.form(request, ident)
        from alerts.durations import parse_duration
        from alerts.silences import SilenceError, create_silence

        text = form.get("matchers", "")
        try:
            duration = parse_duration(form.get("duration", ""))
            silence = await run_in_threadpool(
                lambda: create_silence(
                    self.cfg.store,
                    matchers=[ln for ln in text.splitlines() if ln.strip()],
                    duration=duration,
                    created_by=ident.name,
                    comment=form.get("comment", ""),
                    now=self.cfg.clock(),
                    silence_id=form.get("key") or None,
                )
            )
        except (SilenceError, ValueError, OverflowError) as exc:
            return self.render(
                request, ident, "silence_new.html", 400, form=form, preview=self._preview(text), problem=str(exc)
            )
        log.info("console: %s created silence %s", ident.name, silence.id, extra={"silence_id": silence.id})
        back = form.get("from", "")
        return self.see_other(f"/alerts/{back}" if back else "/silences")

    async def silence_expire_post(self, request: Request, ident: Identity) -> Response:
        ident.require(TRIAGER, "expire silences")
        await self.form(request, ident)
        from alerts.silences import SilenceError, expire_silence

        sid = request.path_params["sid"]
        try:
            await run_in_threadpool(lambda: expire_silence(self.cfg.store, sid, now=self.cfg.clock()))
        except SilenceError as exc:
            return self.error(404, str(exc))
        log.info("console: %s expired silence %s", ident.name, sid, extra={"silence_id": sid})
        return self.see_other("/silences")

    def resources_page(self, request: Request, ident: Identity) -> Response:
        q = request.query_params
        needle = q.get("q", "").strip().lower()
        only_failing = q.get("failing") == "1"
        try:
            page_no = max(1, int(q.get("page", "1") or 1))
        except ValueError:
            page_no = 1
        rows, total = [], 0
        start = (page_no - 1) * PER_PAGE
        for r in self.index.resources():
            if needle and needle not in r.resource_id.lower():
                continue
            if only_failing and not r.failing:
                continue
            if start <= total < start + PER_PAGE:
                rows.append(r)
            total += 1
        pages = max(1, -(-total // PER_PAGE))
        return self.render(
            request,
            ident,
            "resources.html",
            rows=rows,
            total=total,
            page=page_no,
            pages=pages,
            q=q.get("q", ""),
            failing=only_failing,
        )

    def resource_page(self, request: Request, ident: Identity) -> Response:
        rid = request.query_params.get("id", "").strip()
        if not rid:
            return self.see_other("/resources")
        store = self.cfg.store
        verdicts = data.drift_verdicts(store, rid)
        rows = self.index.for_resource(rid)
        alerts = [a for a in (data.load_alert(store, r.fingerprint) for r in rows) if a is not None]
        events = self.index.events(rid)
        if not verdicts and not alerts and not events:
            return self.error(404, f"Vigil has recorded nothing about {rid}")
        latest = max(alerts, key=lambda a: a.starts_at) if alerts else None
        problems: list[str] = []
        activity = _remote("The Activity Log", self.cfg.activity, rid, problems) or []
        arm_problems = len(problems)
        current = _remote("The resource (ARM)", self.cfg.resource_reader, rid, problems)
        arm_failed = len(problems) > arm_problems
        history = data.attribute(data.verdict_history(store, rid), activity)
        failing = [a for a in alerts if a.ends_at is None and a.labels.get("detector") == "drift"]
        return self.render(
            request,
            ident,
            "resource.html",
            rid=rid,
            verdicts=verdicts,
            history=history,
            alerts=alerts,
            latest=latest,
            timeline=data.timeline(alerts, verdicts, events, activity, history),
            arm=data.arm_lines(current, failing) if current is not None else None,
            arm_known=self.cfg.resource_reader is not None and not arm_failed,
            problems=problems,
        )

    def cost_page(self, request: Request, ident: Identity) -> Response:
        from vigil.console.chart import band_chart

        scope = request.query_params.get("scope", "").strip()
        rows = [r for r in self.index.rows() if r.alertname == "overspend_cost_anomaly"]
        scopes = sorted({(r.labels.get("scope_kind", ""), r.scope) for r in rows})
        chosen = [r for r in rows if r.scope == scope] if scope else []
        records = [a for a in (data.load_alert(self.cfg.store, r.fingerprint) for r in chosen) if a is not None]
        records.sort(key=lambda a: str(a.evidence.get("day", "")))
        # Narrower scopes under the chosen one (subscription -> resource groups -> resources).
        children = sorted(
            {r.scope for r in rows if scope and r.scope != scope and scope.lower() in r.resource_id.lower()}
        )
        series = CostSeries(problem="This host does not read the cost store.")
        if scope and chosen and self.cfg.cost_series is not None:
            kind = chosen[0].labels.get("scope_kind", "")
            series = self.cfg.cost_series(kind, scope, _series_end(records, self.cfg.clock()))
        currency = series.currency or (str(records[0].evidence.get("currency", "")) if records else "")
        chart = band_chart(
            series.points, title=f"Daily cost of {scope}: actual against the expected band", currency=currency
        )
        return self.render(
            request,
            ident,
            "cost.html",
            scopes=scopes,
            scope=scope,
            records=records,
            chart=chart,
            series=series,
            children=children,
            currency=currency,
        )

    def ledger_page(self, request: Request, ident: Identity) -> Response:
        entries = list(reversed(data.audit_entries(self.cfg.store)))
        try:
            page_no = max(1, int(request.query_params.get("page", "1") or 1))
        except ValueError:
            page_no = 1
        pages = max(1, -(-len(entries) // PER_PAGE))
        shown = entries[(page_no - 1) * PER_PAGE : page_no * PER_PAGE]
        return self.render(request, ident, "ledger.html", entries=shown, page=page_no, pages=pages, total=len(entries))

    def login(self, request: Request) -> Response:
        auth = self.cfg.auth
        token = request.query_params.get("token", "")
        if not isinstance(auth, LocalTokenAuth) or not token or not auth.check_token(token):
            return self.error(401, "bad or missing token: open the URL `vigil serve` printed")
        resp = RedirectResponse(self.url("/alerts"), status_code=303)
        resp.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", path=self.cfg.base or "/")
        return resp


def _remote(what: str, read: Callable[[str], Any] | None, rid: str, problems: list[str]) -> Any:
    """``read(rid)``, or None when the host has no such reader; ARM and the Activity Log are remote
    in Azure, so a failed read is added to ``problems`` (said on the page), not a 500."""
    if read is None:
        return None
    try:
        return read(rid)
    except Exception as exc:
        log.warning("console: %s of %s unreadable: %s", what, rid, exc, extra={"resource_id": rid})
        problems.append(f"{what} could not be read: {type(exc).__name__}: {exc}")
        return None


def _series_end(records: list[Any], now: datetime) -> datetime:
    """The ``now`` detection had when it flagged the scope's newest anomaly day (the day after it,
    as ``vigil.handlers.handle_detect`` sets it), so the chart shows what the detector saw; the
    clock when no alert names a day."""
    from datetime import UTC, timedelta

    days = [str(a.evidence.get("day", ""))[:10] for a in records if a.evidence.get("day")]
    try:
        newest = max(datetime.fromisoformat(d).replace(tzinfo=UTC) for d in days) if days else None
    except ValueError:
        newest = None
    return min(now, newest + timedelta(days=1)) if newest is not None else now


Handler = Callable[[Console, Request, Identity], Response | Awaitable[Response]]


def _guarded(console: Console, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            ident = console.identify(request)
            if inspect.iscoroutinefunction(handler):
                result: Response = await handler(console, request, ident)
                return result
            # Page handlers read the state store synchronously: off the event loop.
            return cast(Response, await run_in_threadpool(handler, console, request, ident))
        except AuthError as exc:
            log.info(
                "console: %s %s refused (%s): %s",
                request.method,
                request.url.path,
                exc.status,
                exc,
                extra={"status": exc.status, "path": request.url.path},
            )
            return console.error(exc.status, str(exc))

    return endpoint


def create_app(cfg: ConsoleConfig) -> Starlette:
    console = Console(cfg)
    c = Console

    def page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        return _guarded(console, handler)

    async def root(request: Request) -> Response:
        return console.see_other("/alerts")

    async def login(request: Request) -> Response:
        return console.login(request)

    routes = [
        Route("/", root),
        Route("/login", login),
        Route("/alerts", page(c.alerts_page)),
        Route("/alerts/{fp}", page(c.alert_page)),
        Route("/alerts/{fp}/ack", page(c.ack_post), methods=["POST"]),
        Route("/alerts/{fp}/approve", page(c.approve_post), methods=["POST"]),
        Route("/silences", page(c.silences_page)),
        Route("/silences", page(c.silence_post), methods=["POST"]),
        Route("/silences/new", page(c.silence_new_page)),
        Route("/silences/new", page(c.silence_preview_post), methods=["POST"]),
        Route("/silences/preview", page(c.silence_preview)),
        Route("/silences/{sid}/expire", page(c.silence_expire_post), methods=["POST"]),
        Route("/resources", page(c.resources_page)),
        Route("/resource", page(c.resource_page)),
        Route("/cost", page(c.cost_page)),
        Route("/ledger", page(c.ledger_page)),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=[Mount(cfg.base, routes=routes)] if cfg.base else routes)
    app.add_middleware(_SecurityHeaders)
    app.state.console = console
    return app
