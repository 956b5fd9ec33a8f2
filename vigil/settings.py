"""App settings: every environment setting the Function App (and its host) reads.

This model is the single source of truth for setting names. ``local.settings.sample.json``
and the Bicep app settings are kept in step with it (``tests/test_settings_parity.py``);
:func:`describe_settings` lists (name, default, is_secret, description, where) for infra code.

Settings are host configuration, not ``vigil.yaml``: trigger schedules, queue and container
names, the state backend and the identity-based storage connection. Handlers never read the
environment; they ask their :class:`vigil.runtime.Runtime` (``rt.setting(NAME)``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

__all__ = [
    "SettingSpec",
    "Settings",
    "SettingsError",
    "Where",
    "describe_settings",
]

Where = Literal["both", "azure", "local"]
"""Where a setting belongs: everywhere, only in the Azure app settings, or only in local dev."""

_RESOURCE_NAME = re.compile(r"^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")
_NCRONTAB_FIELDS = 6
_STORAGE = "AzureWebJobsStorage"


def _setting(
    default: Any,
    alias: str,
    description: str,
    *,
    secret: bool = False,
    where: Where = "both",
    host: bool = False,
) -> Any:
    """A field whose alias is the setting name; metadata for :func:`describe_settings`."""
    return Field(
        default=default,
        alias=alias,
        description=description,
        json_schema_extra={"secret": secret, "where": where, "host": host},
    )


class SettingsError(ValueError):
    """One or more app settings are invalid. ``str()`` names each setting."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        lines = [f"invalid app settings ({len(errors)} error(s))"]
        lines += [f"  {name}: {msg}" for name, msg in errors]
        super().__init__("\n".join(lines))


class Settings(BaseModel):
    """Typed view of the app settings. Build it with :meth:`Settings.from_env`."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    # Host
    functions_worker_runtime: str = _setting(
        "python",
        "FUNCTIONS_WORKER_RUNTIME",
        "Language worker. On Flex Consumption it is set by the plan's runtime config, not as an app setting.",
        host=True,
    )
    applicationinsights_connection_string: str | None = _setting(
        None,
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "Application Insights connection string: the Functions host sends each invocation and its logs there.",
        host=True,
    )

    # Storage connection (queue triggers, blobs, tables). Identity-based in Azure.
    storage_connection_string: SecretStr | None = _setting(
        None,
        _STORAGE,
        "Storage connection string. Local development only (Azurite: UseDevelopmentStorage=true); "
        "Azure uses the identity-based AzureWebJobsStorage__* settings instead.",
        secret=True,
        where="local",
        host=True,
    )
    storage_blob_service_uri: str | None = _setting(
        None,
        f"{_STORAGE}__blobServiceUri",
        "Blob service endpoint, e.g. https://<account>.blob.core.windows.net (identity-based connection).",
        where="azure",
        host=True,
    )
    storage_queue_service_uri: str | None = _setting(
        None,
        f"{_STORAGE}__queueServiceUri",
        "Queue service endpoint, e.g. https://<account>.queue.core.windows.net (identity-based connection).",
        where="azure",
        host=True,
    )
    storage_table_service_uri: str | None = _setting(
        None,
        f"{_STORAGE}__tableServiceUri",
        "Table service endpoint, e.g. https://<account>.table.core.windows.net (state store).",
        where="azure",
        host=True,
    )
    storage_credential: Literal["managedidentity"] | None = _setting(
        None,
        f"{_STORAGE}__credential",
        "'managedidentity' to authenticate with the app's managed identity.",
        where="azure",
        host=True,
    )
    storage_client_id: str | None = _setting(
        None,
        f"{_STORAGE}__clientId",
        "Client id of the user-assigned managed identity used for storage (omit for system-assigned).",
        where="azure",
        host=True,
    )

    # State store
    state: Literal["sqlite", "table"] = _setting(
        "table", "VIGIL_STATE", "State backend: 'table' (Azure Table Storage) or 'sqlite' (a local file)."
    )
    state_path: str | None = _setting(
        None, "VIGIL_STATE_PATH", "SQLite file when VIGIL_STATE=sqlite (empty: the backend's default)."
    )
    state_table: str = _setting("vigilstate", "VIGIL_STATE_TABLE", "Azure Table name when VIGIL_STATE=table.")
    config_path: str | None = _setting(
        None, "VIGIL_CONFIG", "Path to vigil.yaml, relative to the app root (empty: built-in defaults)."
    )

    tenant_dir: str | None = _setting(
        None,
        "VIGIL_TENANT_DIR",
        "Tenant folder (docs/tenant-layout.md) serving resources, metrics and events offline to the "
        "sweep, metrics and resource-event handlers. Local development and demos only.",
        where="local",
    )

    # Schedules (NCRONTAB, six fields, UTC unless WEBSITE_TIME_ZONE is set)
    metrics_schedule: str = _setting("0 0 * * * *", "METRICS_SCHEDULE", "Idle-compute metrics timer (NCRONTAB).")
    sweep_schedule: str = _setting("0 */30 * * * *", "SWEEP_SCHEDULE", "Resource Graph drift sweep timer (NCRONTAB).")
    digest_schedule: str = _setting("0 0 7 * * 1", "DIGEST_SCHEDULE", "Weekly digest timer (NCRONTAB).")
    activity_schedule: str = _setting(
        "0 */15 * * * *",
        "ACTIVITY_SCHEDULE",
        "Activity-log timer (NCRONTAB): reads sources.activity incrementally, then the control-plane rules.",
    )
    cost_query_schedule: str = _setting(
        "0 0 6 * * *",
        "COST_QUERY_SCHEDULE",
        "Cost Management Query API timer (NCRONTAB): with sources.cost_query_api, daily costs of each "
        "subscription without an export, then overspend.",
    )
    forward_schedule: str = _setting(
        "0 */2 * * * *",
        "FORWARD_SCHEDULE",
        "Forwarding timer (NCRONTAB, every day): re-posts the firing alerts of alertmanager_configs receivers "
        "with endsAt two timer periods ahead, so Alertmanager keeps them active between runs.",
    )

    # Queues
    ingest_queue: str = _setting("vigil-ingest", "INGEST_QUEUE", "Queue of cost-export parts to normalize.")
    detect_queue: str = _setting("vigil-detect", "DETECT_QUEUE", "Queue of completed runs awaiting detection.")
    detect_scope_queue: str = _setting(
        "vigil-detect-scope",
        "DETECT_SCOPE_QUEUE",
        "Queue of overspend detection work: one message per batch of subscriptions, then the tenant step.",
    )
    alerts_queue: str = _setting("vigil-alerts", "ALERTS_QUEUE", "Outbox queue: one notification per message.")
    remediation_queue: str = _setting(
        "vigil-remediation", "REMEDIATION_QUEUE", "Queue of approved remediation actions."
    )

    # Blob containers
    exports_container: str = _setting(
        "cost-exports", "EXPORTS_CONTAINER", "Container Cost Management exports are delivered to."
    )
    costs_container: str = _setting("costs", "COSTS_CONTAINER", "Container of normalized (FOCUS) cost data.")
    deadletter_container: str = _setting(
        "vigil-deadletter", "DEADLETTER_CONTAINER", "Container for quarantined records and malformed messages."
    )

    # Signed links (approve/ack/silence buttons)
    signing_key: SecretStr | None = _setting(
        None,
        "VIGIL_SIGNING_KEY",
        "HMAC key for signed action links. In Azure a Key Vault reference: "
        "@Microsoft.KeyVault(SecretUri=https://<vault>.vault.azure.net/secrets/<name>/).",
        secret=True,
    )
    public_base_url: str | None = _setting(
        None, "VIGIL_PUBLIC_BASE_URL", "Public base URL of the Function App, used to build signed links."
    )
    action_key: SecretStr | None = _setting(
        None,
        "VIGIL_ACTION_KEY",
        "Function key of the card_action function, carried (unsigned) in card links as ?code=. "
        "In Azure a Key Vault reference.",
        secret=True,
    )

    # Identity and telemetry in Azure (read by the host and the Azure SDKs, not by Vigil code)
    applicationinsights_authentication_string: str | None = _setting(
        None,
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
        "Entra authentication for Application Insights (local auth is disabled): "
        "ClientId=<managed identity client id>;Authorization=AAD.",
        where="azure",
        host=True,
    )
    azure_client_id: str | None = _setting(
        None,
        "AZURE_CLIENT_ID",
        "Client id of the user-assigned managed identity, for DefaultAzureCredential.",
        host=True,
    )

    @field_validator(
        "metrics_schedule", "sweep_schedule", "digest_schedule", "activity_schedule", "cost_query_schedule"
    )
    @classmethod
    def _ncrontab(cls, v: str) -> str:
        if len(v.split()) != _NCRONTAB_FIELDS:
            raise ValueError("expected an NCRONTAB expression with 6 fields: 'sec min hour day month day-of-week'")
        return v

    @field_validator("forward_schedule")
    @classmethod
    def _daily(cls, v: str) -> str:
        from vigil.ncrontab import longest_gap

        longest_gap(v)  # ValueError with what is wrong
        return v

    @field_validator(
        "ingest_queue",
        "detect_queue",
        "alerts_queue",
        "remediation_queue",
        "exports_container",
        "costs_container",
        "deadletter_container",
    )
    @classmethod
    def _storage_name(cls, v: str) -> str:
        if not _RESOURCE_NAME.match(v):
            raise ValueError(
                "not a valid queue/container name: 3-63 lowercase letters, digits and single hyphens, "
                "starting and ending with a letter or digit"
            )
        return v

    @field_validator("public_base_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("https://", "http://")):
            raise ValueError("expected an http(s) URL")
        return v.rstrip("/") if v else v

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Reads the settings from ``env`` (default ``os.environ``); empty values count as unset."""
        source = os.environ if env is None else env
        names = set(cls.setting_names())
        data = {k: v for k, v in source.items() if k in names and v.strip() != ""}
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            aliases = {name: field.alias or name for name, field in cls.model_fields.items()}
            errors = []
            for err in exc.errors():
                loc = str(err["loc"][0]) if err["loc"] else "<settings>"
                errors.append((aliases.get(loc, loc), err["msg"]))
            raise SettingsError(errors) from None

    @classmethod
    def setting_names(cls) -> list[str]:
        """Every setting name, in declaration order."""
        return [field.alias or name for name, field in cls.model_fields.items()]

    def value(self, name: str) -> str | None:
        """The value of setting ``name`` as a string (secrets revealed); ``KeyError`` if not modelled."""
        for attr, field in type(self).model_fields.items():
            if (field.alias or attr) == name:
                value = getattr(self, attr)
                if isinstance(value, SecretStr):
                    return value.get_secret_value()
                return None if value is None else str(value)
        raise KeyError(name)

    @property
    def uses_identity(self) -> bool:
        """True when storage is reached through service URIs and an Entra identity."""
        return self.storage_connection_string is None

    def redacted(self) -> dict[str, str | None]:
        """Setting name -> value with secrets masked: safe to log or print."""
        out: dict[str, str | None] = {}
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                out[field.alias or name] = "**********"
            else:
                out[field.alias or name] = None if value is None else str(value)
        return out


@dataclass(frozen=True, slots=True)
class SettingSpec:
    """One app setting, as infra code (Bicep app settings) and docs need it."""

    name: str
    default: str | None
    is_secret: bool
    description: str
    where: Where
    host: bool


def describe_settings() -> list[SettingSpec]:
    """Every setting with its default, secrecy and description, in declaration order."""
    specs = []
    for name, field in Settings.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        default = field.default
        specs.append(
            SettingSpec(
                name=field.alias or name,
                default=None if default is None else str(default),
                is_secret=bool(extra.get("secret", False)),
                description=field.description or "",
                where=extra.get("where", "both"),  # type: ignore[arg-type]
                host=bool(extra.get("host", False)),
            )
        )
    return specs
