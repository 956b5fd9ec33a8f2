"""The rest of alertmanager.yml: ``global``, ``http_config``, and the receiver types beyond Teams/email/webhook.

Field names and defaults are Alertmanager's (docs/configuration.md, config/notifiers.go). Receivers Vigil
delivers to have strict models (unknown keys are errors): Slack (incoming webhook and
``chat.postMessage``), PagerDuty (Events API v2), Opsgenie, and Vigil's own ``alertmanager_configs``
(forward to an existing Alertmanager). The other Alertmanager receiver types (:data:`UNDELIVERED_TYPES`)
load unchanged so an existing file validates; ``vigil config validate`` names them as warnings and their
notifications are recorded as failed with that reason.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from alerts.durations import parse_duration
from core.strict import StrictModel

__all__ = [
    "UNDELIVERED_TYPES",
    "AlertmanagerForwardConfig",
    "BasicAuth",
    "GlobalConfig",
    "HTTPAuthorization",
    "HTTPClientConfig",
    "OpsgenieConfig",
    "OpsgenieResponder",
    "PagerDutyConfig",
    "SlackConfig",
    "TLSConfig",
]

# Alertmanager receiver types that load but that Vigil does not deliver to.
UNDELIVERED_TYPES = (
    "victorops_configs",
    "sns_configs",
    "telegram_configs",
    "pushover_configs",
    "wechat_configs",
    "discord_configs",
    "webex_configs",
    "jira_configs",
    "rocketchat_configs",
    "incidentio_configs",
    "jsm_configs",
    "signl4_configs",
    "mattermost_configs",
)


def _duration(v: str | None) -> None:
    if v is not None:
        parse_duration(v)


def _one_of(obj: object, a: str, b: str) -> None:
    if getattr(obj, a) and getattr(obj, b):
        raise ValueError(f"at most one of {a} and {b} must be configured")


class BasicAuth(StrictModel):
    username: str | None = None
    username_file: str | None = None
    password: str | None = None
    password_file: str | None = None


class HTTPAuthorization(StrictModel):
    type: str = "Bearer"
    credentials: str | None = None
    credentials_file: str | None = None


class TLSConfig(StrictModel):
    ca: str | None = None
    ca_file: str | None = None
    cert: str | None = None
    cert_file: str | None = None
    key: str | None = None
    key_file: str | None = None
    server_name: str | None = None
    insecure_skip_verify: bool = False
    min_version: str | None = None
    max_version: str | None = None


class OAuth2(StrictModel):
    client_id: str
    client_secret: str | None = None
    client_secret_file: str | None = None
    scopes: list[str] = Field(default_factory=list)
    token_url: str
    endpoint_params: dict[str, str] = Field(default_factory=dict)
    tls_config: TLSConfig | None = None
    proxy_url: str | None = None


class HTTPClientConfig(StrictModel):
    """Prometheus' common HTTP client config (``http_config``)."""

    basic_auth: BasicAuth | None = None
    authorization: HTTPAuthorization | None = None
    bearer_token: str | None = None
    bearer_token_file: str | None = None
    oauth2: OAuth2 | None = None
    tls_config: TLSConfig | None = None
    proxy_url: str | None = None
    no_proxy: str | None = None
    proxy_from_environment: bool = False
    proxy_connect_header: dict[str, list[str]] = Field(default_factory=dict)
    follow_redirects: bool = True
    enable_http2: bool = True

    @model_validator(mode="after")
    def _auth(self) -> HTTPClientConfig:
        n = sum(x is not None for x in (self.basic_auth, self.authorization, self.oauth2)) + bool(
            self.bearer_token or self.bearer_token_file
        )
        if n > 1:
            raise ValueError("at most one of basic_auth, oauth2, bearer_token & bearer_token_file, authorization")
        return self


class GlobalConfig(StrictModel):
    """``global``: defaults the receivers inherit (Alertmanager's GlobalConfig)."""

    resolve_timeout: str = "5m"
    http_config: HTTPClientConfig | None = None
    smtp_from: str | None = None
    smtp_hello: str = "localhost"
    smtp_smarthost: str | None = None
    smtp_auth_username: str | None = None
    smtp_auth_password: str | None = None
    smtp_auth_password_file: str | None = None
    smtp_auth_secret: str | None = None
    smtp_auth_identity: str | None = None
    smtp_require_tls: bool = True
    smtp_tls_config: TLSConfig | None = None
    smtp_force_implicit_tls: bool | None = None
    slack_api_url: str | None = None
    slack_api_url_file: str | None = None
    slack_app_token: str | None = None
    slack_app_token_file: str | None = None
    slack_app_url: str | None = None
    pagerduty_url: str = "https://events.pagerduty.com/v2/enqueue"
    opsgenie_api_url: str = "https://api.opsgenie.com/"
    opsgenie_api_key: str | None = None
    opsgenie_api_key_file: str | None = None
    victorops_api_url: str | None = None
    victorops_api_key: str | None = None
    victorops_api_key_file: str | None = None
    wechat_api_url: str | None = None
    wechat_api_secret: str | None = None
    wechat_api_secret_file: str | None = None
    wechat_api_corp_id: str | None = None
    telegram_api_url: str | None = None
    telegram_bot_token: str | None = None
    telegram_bot_token_file: str | None = None
    webex_api_url: str | None = None
    jira_api_url: str | None = None
    rocketchat_api_url: str | None = None
    rocketchat_token: str | None = None
    rocketchat_token_file: str | None = None
    rocketchat_token_id: str | None = None
    rocketchat_token_id_file: str | None = None
    jsm_api_key: str | None = None
    jsm_api_key_file: str | None = None
    jsm_api_url: str | None = None
    mattermost_webhook_url: str | None = None
    mattermost_webhook_url_file: str | None = None

    @model_validator(mode="after")
    def _check(self) -> GlobalConfig:
        _duration(self.resolve_timeout)
        _one_of(self, "slack_api_url", "slack_api_url_file")
        _one_of(self, "opsgenie_api_key", "opsgenie_api_key_file")
        _one_of(self, "smtp_auth_password", "smtp_auth_password_file")
        return self


class _HTTPNotifier(StrictModel):
    send_resolved: bool = True
    http_config: HTTPClientConfig | None = None
    timeout: str | None = Field(default=None, description="Per-request timeout; default 10s.")
    max_retries: int = Field(default=3, ge=0, description="In-call retries on 429/5xx (Vigil).")

    @model_validator(mode="after")
    def _timeout(self) -> _HTTPNotifier:
        _duration(self.timeout)
        return self


class SlackField(StrictModel):
    title: str
    value: str
    short: bool | None = None


class SlackConfirmationField(StrictModel):
    text: str
    title: str | None = None
    ok_text: str | None = None
    dismiss_text: str | None = None


class SlackAction(StrictModel):
    type: str
    text: str
    url: str | None = None
    style: str | None = None
    name: str | None = None
    value: str | None = None
    confirm: SlackConfirmationField | None = None


class SlackConfig(_HTTPNotifier):
    """Slack: an incoming webhook URL, or ``chat.postMessage`` with a bot token."""

    send_resolved: bool = False
    api_url: str | None = None
    api_url_file: str | None = None
    app_token: str | None = None
    app_token_file: str | None = None
    app_url: str | None = None
    channel: str | None = None
    username: str = '{{ template "slack.default.username" . }}'
    color: str = '{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}'
    title: str = '{{ template "slack.default.title" . }}'
    title_link: str = '{{ template "slack.default.titlelink" . }}'
    pretext: str = '{{ template "slack.default.pretext" . }}'
    text: str = '{{ template "slack.default.text" . }}'
    fields: list[SlackField] = Field(default_factory=list)
    short_fields: bool = False
    footer: str = '{{ template "slack.default.footer" . }}'
    fallback: str = '{{ template "slack.default.fallback" . }}'
    callback_id: str = '{{ template "slack.default.callbackid" . }}'
    icon_emoji: str = '{{ template "slack.default.iconemoji" . }}'
    icon_url: str = '{{ template "slack.default.iconurl" . }}'
    image_url: str | None = None
    thumb_url: str | None = None
    link_names: bool = False
    mrkdwn_in: list[str] = Field(default_factory=lambda: ["fallback", "pretext", "text"])
    actions: list[SlackAction] = Field(default_factory=list)
    update_message: bool = False
    message_text: str | None = None

    @model_validator(mode="after")
    def _urls(self) -> SlackConfig:
        _one_of(self, "api_url", "api_url_file")
        _one_of(self, "app_token", "app_token_file")
        return self


class PagerDutyLink(StrictModel):
    href: str
    text: str | None = None


class PagerDutyImage(StrictModel):
    src: str
    alt: str | None = None
    href: str | None = None


class PagerDutyConfig(_HTTPNotifier):
    """PagerDuty Events API v2 (``routing_key``); the v1 ``service_key`` loads but is not delivered."""

    routing_key: str | None = None
    routing_key_file: str | None = None
    service_key: str | None = None
    service_key_file: str | None = None
    url: str | None = None
    client: str = '{{ template "pagerduty.default.client" . }}'
    client_url: str = '{{ template "pagerduty.default.clientURL" . }}'
    description: str = '{{ template "pagerduty.default.description" .}}'
    details: dict[str, str] = Field(default_factory=dict)
    images: list[PagerDutyImage] = Field(default_factory=list)
    links: list[PagerDutyLink] = Field(default_factory=list)
    source: str | None = None
    severity: str = "error"
    class_: str | None = Field(default=None, alias="class")
    component: str | None = None
    group: str | None = None

    @model_validator(mode="after")
    def _key(self) -> PagerDutyConfig:
        keys = [self.routing_key, self.routing_key_file, self.service_key, self.service_key_file]
        if sum(bool(k) for k in keys) == 0:
            raise ValueError("missing service or routing key in PagerDuty config")
        _one_of(self, "routing_key", "routing_key_file")
        _one_of(self, "service_key", "service_key_file")
        return self


class OpsgenieResponder(StrictModel):
    id: str | None = None
    name: str | None = None
    username: str | None = None
    type: str

    @model_validator(mode="after")
    def _one(self) -> OpsgenieResponder:
        if not (self.id or self.name or self.username):
            raise ValueError("opsgenie responder must have at least an id, a name or a username defined")
        return self


class OpsgenieConfig(_HTTPNotifier):
    """Opsgenie Alert API v2: create on firing, close on resolved."""

    api_key: str | None = None
    api_key_file: str | None = None
    api_url: str | None = None
    message: str = '{{ template "opsgenie.default.message" . }}'
    description: str = '{{ template "opsgenie.default.description" . }}'
    source: str = '{{ template "opsgenie.default.source" . }}'
    details: dict[str, str] = Field(default_factory=dict)
    entity: str | None = None
    responders: list[OpsgenieResponder] = Field(default_factory=list)
    actions: str | None = None
    tags: str | None = None
    note: str | None = None
    priority: str | None = None
    update_alerts: bool = False

    @model_validator(mode="after")
    def _key(self) -> OpsgenieConfig:
        _one_of(self, "api_key", "api_key_file")
        return self


class AlertmanagerForwardConfig(_HTTPNotifier):
    """Vigil's own receiver: forward alerts to an existing Alertmanager's ``POST /api/v2/alerts``."""

    url: str = Field(description="Base URL of the Alertmanager, e.g. http://alertmanager:9093")
    resolve_timeout: str | None = Field(
        default=None,
        description="Alertmanager's resolve_timeout; firing alerts are re-posted before it. Default: global.",
    )
    generator_url: Literal["azure_portal", "none"] = "azure_portal"

    @model_validator(mode="after")
    def _rt(self) -> AlertmanagerForwardConfig:
        _duration(self.resolve_timeout)
        return self
