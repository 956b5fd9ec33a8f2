"""Azure Table Storage state backend: the Function App's store.

Layout: one table (default ``vigilstate``); PartitionKey = encoded namespace;
RowKey = a one-letter kind + encoded key (see :mod:`core.state.keys`):

* ``r<key>``: a record. ``k`` holds the original key, ``n`` the chunk count and
  ``v0..v{n-1}`` the JSON value split into 30,000-character string properties.
* ``l<time-ordered id>``: a ledger entry (same value layout).
* ``i<key>``: the idempotency marker of a keyed ledger entry, created in the same
  entity-group transaction as the entry, so a retried append is ignored atomically.

Keys whose encoding exceeds the 1 KiB key limit are truncated and suffixed with a
SHA-256 of the full key (``~}`` never occurs in an encoded key); prefix queries
still find them because results are filtered and sorted on the stored ``k``.

ETags are the service's. Every record write carries a random token ``w``: when
the SDK retries a write whose first attempt succeeded but whose response was lost
(or answered 5xx), the retry sees 412/409, and the token tells "my own earlier
attempt" from "another writer", so a retried write is not misreported as a lost
race (which would make callers re-apply a read-modify-write twice).

Transport failures and 5xx/408/429 responses surface as
:class:`StateUnavailableError`; a failed ``If-Match`` (412) as :class:`ConcurrencyError`.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.data.tables import TableClient, TableEntity, TableTransactionError, UpdateMode

from core.state._common import dump_value, ledger_id, load_value, ns_name
from core.state.base import ConcurrencyError, Namespace, Record, StateUnavailableError
from core.state.keys import RANGE_END, encode_key

__all__ = ["CLIENT_DEFAULTS", "DEFAULT_TABLE_NAME", "MAX_VALUE_CHARS", "TableStore"]

DEFAULT_TABLE_NAME = "vigilstate"
_CHUNK = 30_000  # characters per string property (limit: 64 KiB of UTF-16 = 32,768)
MAX_VALUE_CHARS = 900_000 // 2 // _CHUNK * _CHUNK  # stays under the 1 MiB entity limit (UTF-16)
_MAX_KEY = 512  # characters of ASCII per key: 1 KiB as UTF-16
_HASHED_HEAD = _MAX_KEY - 2 - 64
_RETRYABLE = frozenset({408, 429})
# Keys per query in get_many. The Table service allows at most 15 comparisons in one filter: the
# partition, the row-key range (which lets the service seek rather than scan) and 12 row keys.
_KEYS_PER_QUERY = 12
# put_many: an entity-group transaction holds at most 100 operations and 4 MiB; values are counted in
# characters of JSON (at most 2 bytes each as UTF-16), so 1.5 M characters stay well inside the limit.
_OPS_PER_BATCH = 100
_CHARS_PER_BATCH = 1_500_000
# Fail within roughly a minute rather than the SDK's default of up to ten retries with two-minute
# back-offs: a Function invocation that cannot reach storage should fail and be retried by the platform.
CLIENT_DEFAULTS: Mapping[str, Any] = {
    "retry_total": 4,
    "retry_backoff_factor": 0.5,
    "retry_backoff_max": 8,
    "connection_timeout": 10,
    "read_timeout": 30,
}

_DEV_STORAGE = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
    "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"
)


def _row_key(kind: str, key: str) -> str:
    encoded = kind + encode_key(key)
    if len(encoded) <= _MAX_KEY:
        return encoded
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return encoded[:_HASHED_HEAD] + "~}" + digest


def _partition_key(namespace: Namespace | str) -> tuple[str, str]:
    name = ns_name(namespace)
    encoded = encode_key(name)
    if len(encoded) > _MAX_KEY:
        raise ValueError(f"state namespace too long for Azure Tables: {name[:60]!r}...")
    return name, encoded


def _write_token() -> str:
    return uuid.uuid4().hex


def _value_properties(value: Mapping[str, Any]) -> dict[str, Any]:
    text = dump_value(value)
    if len(text) > MAX_VALUE_CHARS:
        raise ValueError(
            f"state value is {len(text)} characters of JSON; the Table backend stores at most {MAX_VALUE_CHARS}"
        )
    chunks = [text[i : i + _CHUNK] for i in range(0, len(text), _CHUNK)] or [""]
    props: dict[str, Any] = {"n": len(chunks)}
    props.update({f"v{i}": chunk for i, chunk in enumerate(chunks)})
    return props


def _entity_value(entity: Mapping[str, Any]) -> dict[str, Any]:
    count = int(entity.get("n", 0))
    return load_value("".join(str(entity[f"v{i}"]) for i in range(count)))


def _etag(meta: Mapping[str, Any]) -> str:
    return str(meta["etag"])


@contextmanager
def _translate(what: str) -> Iterator[None]:
    try:
        yield
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise StateUnavailableError(f"Azure Table storage unreachable during {what}: {exc}") from exc
    except HttpResponseError as exc:
        status = exc.status_code
        if status == 412:
            raise ConcurrencyError(f"{what}: ETag no longer matches") from exc
        if status is None or status >= 500 or status in _RETRYABLE:
            raise StateUnavailableError(f"Azure Table storage failed during {what}: {status} {exc.reason}") from exc
        raise


class TableStore:
    """StateStore on one Azure Storage table (created on first use)."""

    def __init__(self, client: TableClient) -> None:
        self._client = client
        self.table_name = client.table_name
        self._ready = False
        self._ready_lock = threading.Lock()

    @classmethod
    def from_connection_string(
        cls, connection_string: str, *, table_name: str = DEFAULT_TABLE_NAME, **client_options: Any
    ) -> TableStore:
        """``client_options`` go to the SDK client: e.g. ``retry_total``, ``connection_timeout``, ``read_timeout``."""
        if connection_string.strip().rstrip(";").lower() == "usedevelopmentstorage=true":
            connection_string = _DEV_STORAGE
        options = {**CLIENT_DEFAULTS, **client_options}
        return cls(TableClient.from_connection_string(connection_string, table_name=table_name, **options))

    @classmethod
    def from_endpoint(
        cls,
        endpoint: str,
        *,
        table_name: str = DEFAULT_TABLE_NAME,
        credential: Any = None,
        client_id: str | None = None,
        **client_options: Any,
    ) -> TableStore:
        """Identity-based connection: ``credential`` or else a managed identity (``client_id``)
        or ``DefaultAzureCredential``. azure.identity is imported only here."""
        if credential is None:
            from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

            credential = ManagedIdentityCredential(client_id=client_id) if client_id else DefaultAzureCredential()
        options = {**CLIENT_DEFAULTS, **client_options}
        return cls(TableClient(endpoint, table_name, credential=credential, **options))

    # -- plumbing ----------------------------------------------------------------------
    def _ensure_table(self) -> None:
        if self._ready:
            return
        with self._ready_lock:
            if self._ready:
                return
            with _translate(f"create table {self.table_name}"), suppress(ResourceExistsError):
                self._client.create_table()
            self._ready = True

    def _records(self, pk: str, low: str, high: str, what: str) -> Iterator[TableEntity]:
        self._ensure_table()
        with _translate(what):
            yield from self._client.query_entities(
                "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                parameters={"pk": pk, "lo": low, "hi": high},
            )

    # -- records -----------------------------------------------------------------------
    def get(self, namespace: Namespace | str, key: str) -> Record | None:
        ns, pk = _partition_key(namespace)
        self._ensure_table()
        with _translate(f"get {ns}/{key}"):
            try:
                entity = self._client.get_entity(pk, _row_key("r", key))
            except ResourceNotFoundError:
                return None
        return Record(ns, key, _entity_value(entity), _etag(entity.metadata))

    def get_many(self, namespace: Namespace | str, keys: Iterable[str]) -> dict[str, Record]:
        """One query per 12 keys (sorted, so each query reads one narrow row-key range), not a
        round trip per key: a group of 4,000 alerts reads in ~330 queries per namespace, not 4,000."""
        ns, pk = _partition_key(namespace)
        wanted = set(keys)
        rows = sorted({_row_key("r", key) for key in wanted})
        found: dict[str, Record] = {}
        self._ensure_table()
        for i in range(0, len(rows), _KEYS_PER_QUERY):
            chunk = rows[i : i + _KEYS_PER_QUERY]
            params: dict[str, Any] = {"pk": pk, "lo": chunk[0], "hi": chunk[-1]}
            params.update({f"k{j}": row for j, row in enumerate(chunk)})
            # (the SDK substitutes @names in space-separated words: hence the spaced parentheses)
            alternatives = " or ".join(f"RowKey eq @k{j}" for j in range(len(chunk)))
            with _translate(f"get {ns}/{len(chunk)} keys"):
                entities = list(
                    self._client.query_entities(
                        f"PartitionKey eq @pk and RowKey ge @lo and RowKey le @hi and ( {alternatives} )",
                        parameters=params,
                    )
                )
            for entity in entities:
                key = str(entity["k"])
                if key in wanted:  # a hashed row key names its full key in ``k``
                    found[key] = Record(ns, key, _entity_value(entity), _etag(entity.metadata))
        return found

    def put(
        self,
        namespace: Namespace | str,
        key: str,
        value: Mapping[str, Any],
        *,
        etag: str | None = None,
    ) -> Record:
        ns, pk = _partition_key(namespace)
        props = _value_properties(value)
        token = _write_token()
        row_key = _row_key("r", key)
        entity = {"PartitionKey": pk, "RowKey": row_key, "k": key, "w": token, **props}
        meta: Mapping[str, Any]
        self._ensure_table()
        with _translate(f"put {ns}/{key}"):
            if etag is None:
                meta = self._client.upsert_entity(entity, mode=UpdateMode.REPLACE)
            else:
                try:
                    meta = self._client.update_entity(
                        entity, mode=UpdateMode.REPLACE, etag=etag, match_condition=MatchConditions.IfNotModified
                    )
                except ResourceNotFoundError as exc:
                    raise ConcurrencyError(f"{ns}/{key}: record vanished since ETag {etag}") from exc
                except HttpResponseError as exc:
                    if exc.status_code != 412:
                        raise
                    mine = self._own_write(pk, row_key, token)
                    if mine is None:
                        raise ConcurrencyError(f"{ns}/{key}: record changed since ETag {etag}") from exc
                    meta = mine.metadata
        return Record(ns, key, _entity_value(props), _etag(meta))

    def put_many(self, namespace: Namespace | str, values: Mapping[str, Mapping[str, Any]]) -> None:
        """Upserts in entity-group transactions of up to 100 records (one namespace is one partition):
        4,000 alerts written in 40 round trips, not 4,000. A retried transaction rewrites the same values."""
        ns, pk = _partition_key(namespace)
        batch: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        chars = 0
        self._ensure_table()
        for key, value in values.items():
            props = _value_properties(value)
            size = sum(len(v) for k, v in props.items() if k != "n")
            if batch and (len(batch) >= _OPS_PER_BATCH or chars + size > _CHARS_PER_BATCH):
                self._submit_upserts(ns, batch)
                batch, chars = [], 0
            entity = {"PartitionKey": pk, "RowKey": _row_key("r", key), "k": key, "w": _write_token(), **props}
            batch.append(("upsert", entity, {"mode": UpdateMode.REPLACE}))
            chars += size
        if batch:
            self._submit_upserts(ns, batch)

    def _submit_upserts(self, ns: str, batch: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> None:
        with _translate(f"put {ns}/{len(batch)} records"):
            self._client.submit_transaction(batch)

    def _own_write(self, pk: str, row_key: str, token: str) -> TableEntity | None:
        """The stored entity if its last write was ours (token match), else None."""
        try:
            entity = self._client.get_entity(pk, row_key)
        except ResourceNotFoundError:
            return None
        return entity if entity.get("w") == token else None

    def add(self, namespace: Namespace | str, key: str, value: Mapping[str, Any]) -> bool:
        ns, pk = _partition_key(namespace)
        token = _write_token()
        row_key = _row_key("r", key)
        entity = {"PartitionKey": pk, "RowKey": row_key, "k": key, "w": token, **_value_properties(value)}
        self._ensure_table()
        with _translate(f"add {ns}/{key}"):
            try:
                self._client.create_entity(entity)
            except ResourceExistsError:
                return self._own_write(pk, row_key, token) is not None
        return True

    def delete(self, namespace: Namespace | str, key: str, *, etag: str | None = None) -> bool:
        ns, pk = _partition_key(namespace)
        statuses: list[int] = []

        def on_response(response: Any) -> None:
            statuses.append(int(response.http_response.status_code))

        conditional: dict[str, Any] = {}
        if etag is not None:
            conditional = {"etag": etag, "match_condition": MatchConditions.IfNotModified}
        self._ensure_table()
        with _translate(f"delete {ns}/{key}"):
            # The SDK swallows 404 on delete; the response hook (run once per attempt) tells
            # "deleted" from "absent". If an attempt's response was lost and the retry saw 404,
            # this reports False although that attempt removed the record: the record is gone
            # either way, which is what callers rely on.
            self._client.delete_entity(pk, _row_key("r", key), raw_response_hook=on_response, **conditional)
        return any(200 <= status < 300 for status in statuses)

    def query(self, namespace: Namespace | str, prefix: str = "") -> Iterator[Record]:
        ns, pk = _partition_key(namespace)
        low = _row_key("r", prefix)[:_HASHED_HEAD]
        found = [
            Record(ns, str(entity["k"]), _entity_value(entity), _etag(entity.metadata))
            for entity in self._records(pk, low, low + RANGE_END, f"query {ns}/{prefix}*")
            if str(entity["k"]).startswith(prefix)
        ]
        found.sort(key=lambda record: record.key)
        return iter(found)

    # -- ledger ------------------------------------------------------------------------
    def append(self, namespace: Namespace | str, entry: Mapping[str, Any], *, key: str | None = None) -> str:
        ns, pk = _partition_key(namespace)
        entry_id = ledger_id()
        entry_key = entry_id if key is None else key
        row = {"PartitionKey": pk, "RowKey": "l" + entry_id, "k": entry_key, **_value_properties(entry)}
        self._ensure_table()
        with _translate(f"append {ns}"):
            if key is None:
                with suppress(ResourceExistsError):  # a retried create whose first attempt landed
                    self._client.create_entity(row)
                return entry_key
            marker = {"PartitionKey": pk, "RowKey": _row_key("i", key), "k": key, "entry": row["RowKey"]}
            try:
                self._client.submit_transaction([("create", marker), ("create", row)])
            except TableTransactionError as exc:
                if exc.status_code != 409:
                    raise
        return entry_key

    def ledger(self, namespace: Namespace | str) -> Iterator[Record]:
        ns, pk = _partition_key(namespace)
        for entity in self._records(pk, "l", "m", f"ledger {ns}"):
            yield Record(ns, str(entity["k"]), _entity_value(entity), _etag(entity.metadata))

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> TableStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"TableStore(table={self.table_name!r}, endpoint={self._client.url!r})"
