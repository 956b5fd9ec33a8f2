"""Wire-form config for routing and receivers, in Alertmanager's shape.

``route``, ``receivers``, ``inhibit_rules`` and ``time_intervals`` are top-level
keys of vigil.yaml, exactly where alertmanager.yml puts them, with
Alertmanager's field names, so an alertmanager.yml routing block that uses only
supported fields loads unchanged. This module holds the *wire form* only (field
checks that need no context); :mod:`alerts.routing` compiles it into a route
tree and :func:`check_routing` runs the cross-checks (default receiver,
undefined receivers and time intervals) that need the whole document.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from alerts.amconfig import (
    UNDELIVERED_TYPES,
    AlertmanagerForwardConfig,
    GlobalConfig,
    HTTPClientConfig,
    OpsgenieConfig,
    PagerDutyConfig,
    SlackConfig,
    TLSConfig,
)
from alerts.durations import parse_duration
from alerts.matchers import MatcherError, is_classic_label_name, parse_matchers
from alerts.money import DisplayConfig
from alerts.regex import RegexError, compile_anchored
from alerts.remediation.config import RemediationConfig, RemediationReceiverConfig
from alerts.silences import SilencePolicy
from core.strict import StrictModel

__all__ = [
    "UNDELIVERED_TYPES",
    "AlertmanagerForwardConfig",
    "DigestConfig",
    "EmailConfig",
    "GlobalConfig",
    "InhibitRule",
    "MSTeamsConfig",
    "OpsgenieConfig",
    "PagerDutyConfig",
    "ReceiverConfig",
    "RemediationConfig",
    "RouteConfig",
    "SlackConfig",
    "TimeIntervalConfig",
    "TimeIntervalSpec",
    "TimeRange",
    "WebhookConfig",
    "check_routing",
    "with_global_smtp",
]

DEFAULT_GROUP_WAIT = "30s"
DEFAULT_GROUP_INTERVAL = "5m"
DEFAULT_REPEAT_INTERVAL = "4h"


def _check_matcher_text(text: str) -> str:
    try:
        parse_matchers(text)
    except MatcherError as exc:
        raise ValueError(f"{text!r}: {exc}") from None
    return text


def _go_quote(s: str) -> str:
    """Go's %q for the common case (a double-quoted, backslash-escaped string)."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check_label_name(name: str) -> str:
    if not is_classic_label_name(name):
        raise ValueError(f"invalid label name {_go_quote(name)}")
    return name


def _check_equal_name(name: str) -> str:
    if not is_classic_label_name(name):
        raise ValueError(f"{_go_quote(name)} is not a valid label name")
    return name


def _check_regex(pattern: str) -> str:
    try:
        compile_anchored(pattern)
    except RegexError as exc:
        raise ValueError(str(exc)) from None
    return pattern


# Validated per item, so an error's key path names the list index or the label (``match_re.severity``).
MatcherText = Annotated[str, AfterValidator(_check_matcher_text)]
LabelName = Annotated[str, AfterValidator(_check_label_name)]
Regex = Annotated[str, AfterValidator(_check_regex)]


def _check_duration(v: str | None) -> str | None:
    if v is not None:
        parse_duration(v)
    return v


def _check_url(v: str | None, info: ValidationInfo) -> str | None:
    """An absolute http(s) URL with a host (a Go template is checked when rendered, not here)."""
    if v is None or "{{" in v:
        return v
    from urllib.parse import urlsplit

    parts = urlsplit(v.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URL (e.g. https://contoso.webhook.office.com/...)")
    return v


def _check_addresses(v: str | None, info: ValidationInfo) -> str | None:
    """Comma-separated e-mail addresses (``a@b.com``, ``Name <a@b.com>``); templates are left alone."""
    if v is None or "{{" in v:
        return v
    from email.utils import getaddresses

    for raw, (_, addr) in zip(v.split(","), getaddresses([v]), strict=False):
        local, at, domain = addr.partition("@")
        if not (local and at and "." in domain and " " not in addr):
            raise ValueError(f"not an e-mail address: {raw.strip()!r} (e.g. finops@contoso.com)")
    return v


class _Notifier(StrictModel):
    send_resolved: bool = Field(default=True, description="Also notify when alerts resolve.")


class MSTeamsConfig(_Notifier):
    """A Teams Workflows webhook ("Post to a channel when a webhook request is received")."""

    webhook_url: str | None = Field(default=None, description="Workflows webhook URL (a secret).")
    webhook_url_file: str | None = Field(default=None, description="File holding the webhook URL.")
    http_config: HTTPClientConfig | None = None
    title: str | None = Field(default=None, description="Card title; default names the alert and status.")
    summary: str | None = None
    text: str | None = None
    runbook_url: str | None = Field(default=None, description="Runbook link when the alert has no runbook_url.")
    action_base_url: str | None = Field(
        default=None,
        description="Base URL of the Function App (https://app.azurewebsites.net); enables signed action buttons.",
    )
    console_base_url: str | None = Field(
        default=None,
        description="Base URL of the triage console (https://app.azurewebsites.net/api/console); when set, the "
        "Acknowledge, Silence and Approve buttons open its confirmation pages instead of signed action links.",
    )
    link_ttl: str = Field(default="24h", description="How long signed action links stay valid.")
    max_card_bytes: int = Field(default=28_000, ge=4_000, le=28_672, description="Split cards above this size.")
    max_cards: int = Field(default=10, ge=1, description="Cards per notification; the rest is '+N more'.")
    timeout: str = "10s"
    max_retries: int = Field(default=3, ge=0, description="In-call retries on 429/5xx before the outbox retries.")
    max_retry_wait: str = Field(default="30s", description="Longest Retry-After honoured inside one call.")

    _urls = field_validator("webhook_url", "runbook_url", "action_base_url")(_check_url)

    @model_validator(mode="after")
    def _one_url(self) -> MSTeamsConfig:
        if self.webhook_url and self.webhook_url_file:
            raise ValueError("at most one of webhook_url and webhook_url_file must be configured")
        for name in ("link_ttl", "timeout", "max_retry_wait"):
            parse_duration(getattr(self, name))
        return self


class EmailConfig(_Notifier):
    """Email through SMTP (STARTTLS + auth) or Azure Communication Services Email."""

    send_resolved: bool = False
    to: str = Field(description="Comma-separated recipient addresses.")
    from_: str | None = Field(default=None, alias="from")
    smarthost: str | None = Field(default=None, description="host:port of the SMTP server.")
    hello: str | None = None
    auth_username: str | None = None
    auth_password: str | None = None
    auth_password_file: str | None = None
    auth_identity: str | None = None
    require_tls: bool = True
    tls_config: TLSConfig | None = None
    threading: dict[str, Any] | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    html: str | None = None
    text: str | None = None
    transport: Literal["smtp", "acs"] = Field(default="smtp", description="smtp, or acs (Azure Communication).")
    acs_endpoint: str | None = Field(default=None, description="https://<resource>.communication.azure.com")
    timeout: str = "15s"

    _addresses = field_validator("to", "from_")(_check_addresses)
    _urls = field_validator("acs_endpoint")(_check_url)

    @model_validator(mode="after")
    def _transport(self) -> EmailConfig:
        if self.transport == "acs" and not self.acs_endpoint:
            raise ValueError("acs_endpoint is required when transport is 'acs'")
        if self.auth_password and self.auth_password_file:
            raise ValueError("at most one of auth_password and auth_password_file must be configured")
        parse_duration(self.timeout)
        return self


def with_global_smtp(cfg: EmailConfig, g: GlobalConfig) -> EmailConfig:
    """Fill an email config's unset SMTP fields from ``global`` (smtp_from, smtp_smarthost, ...)."""
    update: dict[str, object] = {}
    for own, glob in (
        ("from_", "smtp_from"),
        ("smarthost", "smtp_smarthost"),
        ("hello", "smtp_hello"),
        ("auth_username", "smtp_auth_username"),
        ("auth_password", "smtp_auth_password"),
        ("auth_password_file", "smtp_auth_password_file"),
        ("auth_identity", "smtp_auth_identity"),
    ):
        if getattr(cfg, own) is None and getattr(g, glob) is not None:
            update[own] = getattr(g, glob)
    if update.get("auth_password") and cfg.auth_password_file:
        update.pop("auth_password")
    if update.get("auth_password_file") and (cfg.auth_password or update.get("auth_password")):
        update.pop("auth_password_file")
    if "require_tls" not in cfg.model_fields_set:
        update["require_tls"] = g.smtp_require_tls
    return cfg.model_copy(update=update) if update else cfg


class WebhookConfig(_Notifier):
    """A JSON POST in Alertmanager's webhook format, signed with HMAC-SHA256."""

    url: str | None = None
    url_file: str | None = None
    http_config: HTTPClientConfig | None = None
    max_alerts: int = Field(default=0, ge=0, description="0 = all alerts in the payload.")
    timeout: str = "10s"
    hmac_secret_file: str | None = Field(default=None, description="File holding the HMAC key.")
    signature_header: str = "X-Vigil-Signature"
    max_retries: int = Field(default=3, ge=0)
    max_retry_wait: str = "30s"

    _urls = field_validator("url")(_check_url)

    @model_validator(mode="after")
    def _one_url(self) -> WebhookConfig:
        if bool(self.url) == bool(self.url_file):
            raise ValueError("one of url or url_file must be configured")
        parse_duration(self.timeout)
        parse_duration(self.max_retry_wait)
        return self


class ReceiverConfig(StrictModel):
    name: str = Field(min_length=1)
    msteams_configs: list[MSTeamsConfig] = Field(default_factory=list)
    msteamsv2_configs: list[MSTeamsConfig] = Field(default_factory=list)
    email_configs: list[EmailConfig] = Field(default_factory=list)
    webhook_configs: list[WebhookConfig] = Field(default_factory=list)
    slack_configs: list[SlackConfig] = Field(default_factory=list)
    pagerduty_configs: list[PagerDutyConfig] = Field(default_factory=list)
    opsgenie_configs: list[OpsgenieConfig] = Field(default_factory=list)
    # Vigil's own integrations: forward to an existing Alertmanager; remediate alerts routed here.
    alertmanager_configs: list[AlertmanagerForwardConfig] = Field(default_factory=list)
    remediation_configs: list[RemediationReceiverConfig] = Field(default_factory=list)
    # Alertmanager receiver types Vigil loads but does not deliver to (a warning; failed notifications).
    victorops_configs: list[dict[str, Any]] = Field(default_factory=list)
    sns_configs: list[dict[str, Any]] = Field(default_factory=list)
    telegram_configs: list[dict[str, Any]] = Field(default_factory=list)
    pushover_configs: list[dict[str, Any]] = Field(default_factory=list)
    wechat_configs: list[dict[str, Any]] = Field(default_factory=list)
    discord_configs: list[dict[str, Any]] = Field(default_factory=list)
    webex_configs: list[dict[str, Any]] = Field(default_factory=list)
    jira_configs: list[dict[str, Any]] = Field(default_factory=list)
    rocketchat_configs: list[dict[str, Any]] = Field(default_factory=list)
    incidentio_configs: list[dict[str, Any]] = Field(default_factory=list)
    jsm_configs: list[dict[str, Any]] = Field(default_factory=list)
    signl4_configs: list[dict[str, Any]] = Field(default_factory=list)
    mattermost_configs: list[dict[str, Any]] = Field(default_factory=list)


class RouteConfig(StrictModel):
    receiver: str | None = None
    group_by: list[str] | None = None
    continue_: bool = Field(default=False, alias="continue")
    matchers: list[MatcherText] = Field(default_factory=list)
    match: dict[LabelName, str] = Field(default_factory=dict)
    match_re: dict[LabelName, Regex] = Field(default_factory=dict)
    group_wait: str | None = None
    group_interval: str | None = None
    repeat_interval: str | None = None
    mute_time_intervals: list[str] = Field(default_factory=list)
    active_time_intervals: list[str] = Field(default_factory=list)
    routes: list[RouteConfig] = Field(default_factory=list)

    _d = field_validator("group_wait", "group_interval", "repeat_interval")(_check_duration)

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        if len(set(v)) != len(v):
            raise ValueError("duplicated label in group_by")
        if "..." in v and len(v) > 1:
            raise ValueError("cannot have wildcard group_by (`...`) and other labels at the same time")
        for name in v:
            if name != "..." and not is_classic_label_name(name):
                raise ValueError(f"invalid label name {_go_quote(name)} in group_by list")
        return v

    @model_validator(mode="after")
    def _positive(self) -> RouteConfig:
        if self.group_interval is not None and parse_duration(self.group_interval).total_seconds() == 0:
            raise ValueError("group_interval cannot be zero")
        if self.repeat_interval is not None and parse_duration(self.repeat_interval).total_seconds() == 0:
            raise ValueError("repeat_interval cannot be zero")
        return self


class InhibitRule(StrictModel):
    source_matchers: list[MatcherText] = Field(default_factory=list)
    target_matchers: list[MatcherText] = Field(default_factory=list)
    source_match: dict[LabelName, str] = Field(default_factory=dict)
    source_match_re: dict[LabelName, Regex] = Field(default_factory=dict)
    target_match: dict[LabelName, str] = Field(default_factory=dict)
    target_match_re: dict[LabelName, Regex] = Field(default_factory=dict)
    equal: list[Annotated[str, AfterValidator(_check_equal_name)]] = Field(default_factory=list)


class TimeRange(StrictModel):
    start_time: str = Field(pattern=r"^([01]\d|2[0-4]):[0-5]\d$")
    end_time: str = Field(pattern=r"^([01]\d|2[0-4]):[0-5]\d$")

    @model_validator(mode="after")
    def _order(self) -> TimeRange:
        if self.start_time >= self.end_time:
            raise ValueError("start_time must be before end_time")
        return self


class TimeIntervalSpec(StrictModel):
    times: list[TimeRange] = Field(default_factory=list)
    weekdays: list[str] = Field(default_factory=list)
    days_of_month: list[str] = Field(default_factory=list)
    months: list[str] = Field(default_factory=list)
    years: list[str] = Field(default_factory=list)
    location: str | None = None

    @model_validator(mode="after")
    def _ranges(self) -> TimeIntervalSpec:
        from alerts.timeintervals import compile_spec

        compile_spec(self)  # raises ValueError naming the bad range
        return self


class TimeIntervalConfig(StrictModel):
    name: str = Field(min_length=1)
    time_intervals: list[TimeIntervalSpec] = Field(default_factory=list)


def check_routing(
    route: RouteConfig,
    receivers: list[ReceiverConfig],
    time_intervals: list[TimeIntervalConfig],
    mute_time_intervals: list[TimeIntervalConfig] | None = None,
) -> list[tuple[str, str]]:
    """Cross-checks Alertmanager runs on the whole document; returns (path, message) pairs.

    ``mute_time_intervals`` (the older top-level key) shares one namespace with ``time_intervals``.
    """
    errors: list[tuple[str, str]] = []
    names: set[str] = set()
    for i, r in enumerate(receivers):
        if r.name in names:
            errors.append((f"receivers[{i}].name", f"notification config name {r.name!r} is not unique"))
        names.add(r.name)
    ti_names: set[str] = set()
    for key, items in (("mute_time_intervals", mute_time_intervals or []), ("time_intervals", time_intervals)):
        for i, t in enumerate(items):
            if t.name in ti_names:
                errors.append((f"{key}[{i}].name", f"time interval {t.name!r} is not unique"))
            ti_names.add(t.name)
    if not route.receiver:
        errors.append(("route.receiver", "root route must specify a default receiver"))
    if route.matchers or route.match or route.match_re:
        errors.append(("route", "root route must not have any matchers"))
    if route.continue_:
        errors.append(("route.continue", "cannot have continue in root route"))
    if route.mute_time_intervals:
        errors.append(("route.mute_time_intervals", "root route must not have any mute time intervals"))
    if route.active_time_intervals:
        errors.append(("route.active_time_intervals", "root route must not have any active time intervals"))

    def walk(r: RouteConfig, path: str) -> None:
        if r.receiver and r.receiver not in names:
            errors.append((f"{path}.receiver", f"undefined receiver {r.receiver!r} used in route"))
        for field_name in ("mute_time_intervals", "active_time_intervals"):
            for j, n in enumerate(getattr(r, field_name)):
                if n not in ti_names:
                    errors.append((f"{path}.{field_name}[{j}]", f"undefined time interval {n!r} used in route"))
        for i, child in enumerate(r.routes):
            walk(child, f"{path}.routes[{i}]")

    walk(route, "route")
    return errors


class DigestConfig(StrictModel):
    name: str
    scopes: list[str] = Field(default_factory=list)
    recipients: list[str] = Field(default_factory=list)
    currency: str = "USD"
    timezone: str = "UTC"


# The remediation section's model lives with the remediation code.


def _default_route() -> RouteConfig:
    return RouteConfig(receiver="default")


def _default_receivers() -> list[ReceiverConfig]:
    return [ReceiverConfig(name="default")]


class AlertingConfig(StrictModel):
    """The alerting keys of vigil.yaml: Alertmanager's top-level keys plus remediation.

    ``alerts`` depends on this model only; the app's ``VigilConfig`` extends it with the other packages'
    sections, so the keys stay at the top level of the file as in an alertmanager.yml.
    """

    global_: GlobalConfig = Field(default_factory=GlobalConfig, alias="global")
    templates: list[str] = Field(default_factory=list, description="Go text/template files (globs).")
    route: RouteConfig = Field(default_factory=_default_route)
    receivers: list[ReceiverConfig] = Field(default_factory=_default_receivers)
    inhibit_rules: list[InhibitRule] = Field(default_factory=list)
    time_intervals: list[TimeIntervalConfig] = Field(default_factory=list)
    mute_time_intervals: list[TimeIntervalConfig] = Field(
        default_factory=list, description="Alertmanager's older name for time_intervals; both may be used."
    )
    remediation: RemediationConfig = Field(default_factory=RemediationConfig)
    silences: SilencePolicy = Field(default_factory=SilencePolicy)
    display: DisplayConfig = Field(
        default_factory=DisplayConfig, description="A display currency shown beside billing amounts."
    )

    @field_validator("templates")
    @classmethod
    def _template_paths(cls, v: list[str], info: ValidationInfo) -> list[str]:
        """Relative ``templates:`` globs are relative to the config file, as in Alertmanager."""
        base = (info.context or {}).get("base_dir")
        if base is None:
            return v
        return [p if Path(p).is_absolute() else str(Path(base) / p) for p in v]

    @property
    def all_time_intervals(self) -> list[TimeIntervalConfig]:
        """``mute_time_intervals`` (the older top-level key) and ``time_intervals``: one namespace."""
        return [*self.mute_time_intervals, *self.time_intervals]

    @model_validator(mode="after")
    def _routing(self) -> AlertingConfig:
        # Alertmanager's whole-document checks (check_routing), each with its key path.
        errors = check_routing(
            self.route, list(self.receivers), list(self.time_intervals), list(self.mute_time_intervals)
        )
        errors += self._global_checks()
        if errors:
            raise ValueError("; ".join(f"{path}: {msg}" for path, msg in errors))
        return self

    def _global_checks(self) -> list[tuple[str, str]]:
        """Alertmanager's load-time checks of receivers against ``global`` (same messages)."""
        g = self.global_
        out: list[tuple[str, str]] = []
        for i, r in enumerate(self.receivers):
            for j, sc in enumerate(r.slack_configs):
                if not (sc.api_url or sc.api_url_file or sc.app_token or sc.app_token_file) and not (
                    g.slack_api_url or g.slack_api_url_file or g.slack_app_token or g.slack_app_token_file
                ):
                    out.append(
                        (f"receivers[{i}].slack_configs[{j}]", "no global Slack API URL set either inline or in a file")
                    )
            for j, oc in enumerate(r.opsgenie_configs):
                if not (oc.api_key or oc.api_key_file or g.opsgenie_api_key or g.opsgenie_api_key_file):
                    out.append((f"receivers[{i}].opsgenie_configs[{j}]", "no global OpsGenie API Key set"))
        return out
