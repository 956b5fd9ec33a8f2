"""Normalize one batch of raw export rows (all strings) to the cost frame.

Output is an Arrow table with the core/costframe.py columns, costs as
``decimal128(38, 18)`` (exact; :func:`ingest.cost.store.load_costs` hands them
out as float64), plus three partition helper columns (``_scope``, ``_month``,
``_day``) that the writer drops. Rows with an unparseable date or cost, or no
currency, are returned as rejects with the column and reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from core.model import ResourceRef
from ingest.cost import values
from ingest.cost.arrow_util import (
    bool_const,
    const_dictionary,
    const_str,
    dictionary_of,
    duration_scalar,
    lower,
    only_bytes,
    redictionary,
    reindex,
    single_value,
    str_scalar,
    to_arrow,
)
from ingest.cost.columns import Detected

__all__ = ["COST_TYPE", "FRAME_SCHEMA", "USED_FIELDS", "Normalizer", "Reject", "conform"]

COST_TYPE = pa.decimal128(38, 18)
_TS = pa.timestamp("us", tz="UTC")
_Q = Decimal(1).scaleb(-18)
_EMPTY = str_scalar("")
_SEP = str_scalar("\x1f")
_LBRACE = str_scalar("{")
_RBRACE = str_scalar("}")
_UNKNOWN = str_scalar("unknown")
_NULL_STR = str_scalar(None)
_EMPTY_TAGS = to_arrow(["", "{}", "null", "NULL"], pa.string())
_ONE_DAY = duration_scalar(86_400_000_000)
_CONSTANT_BATCHES = True  # Normalizer._map's fast path for a batch of one value (tests turn it off to compare)
# ResourceId, what is mapped from it, Tags, the mapped stored columns and the file's constants reach the Parquet
# writer dictionary-encoded (tests turn it off to compare): each distinct id or tag text is mapped once per
# batch instead of once per row, and the writer takes the dictionary as it is instead of hashing every row again.
_DICTIONARY = True
MICROSOFT = "Microsoft"  # ProviderName / InvoiceIssuerName of EA and MCA cost details (they name no provider)

FRAME_SCHEMA = pa.schema(
    [
        ("ChargePeriodStart", _TS),
        ("ChargePeriodEnd", _TS),
        ("BilledCost", COST_TYPE),
        ("EffectiveCost", COST_TYPE),
        ("BillingCurrency", pa.string()),
        ("SubAccountId", pa.string()),
        ("SubAccountName", pa.string()),
        ("x_ResourceGroupName", pa.string()),
        ("ResourceId", pa.string()),
        ("ResourceName", pa.string()),
        ("ResourceType", pa.string()),
        ("ServiceName", pa.string()),
        ("ServiceCategory", pa.string()),
        ("RegionId", pa.string()),
        ("ChargeCategory", pa.string()),
        ("ChargeFrequency", pa.string()),
        ("PricingCategory", pa.string()),
        ("ConsumedQuantity", pa.float64()),
        ("ConsumedUnit", pa.string()),
        ("Tags", pa.string()),
        ("CommitmentDiscountId", pa.string()),
        ("ProviderName", pa.string()),
        ("ServiceProviderName", pa.string()),
        ("InvoiceIssuerName", pa.string()),
        ("x_SourceRunId", pa.string()),
        ("x_SourceFile", pa.string()),
    ]
)


# The logical fields the normalizer reads (columns.py maps more, e.g. BillingProfileId, ConsumedService,
# FOCUS ResourceType): only these are parsed. ``_col`` refuses any other, so the list cannot fall behind.
USED_FIELDS = frozenset(
    {
        "arm_type", "benefit_id", "billed", "billing_account", "billing_period_start", "charge_category",
        "charge_frequency", "charge_type", "commitment_id", "cost", "currency", "date", "effective", "end",
        "invoice_issuer", "meter_category", "pricing_category", "pricing_model", "provider", "quantity", "region",
        "reseller", "resource_id", "resource_name", "rg", "service_category", "service_family", "service_name",
        "service_provider", "start", "sub_id", "sub_name", "tags", "unit",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Reject:
    row: int  # index within the batch
    column: str
    reason: str


@dataclass
class Normalizer:
    """Per-file normalizer; caches per-distinct-value conversions across batches."""

    detected: Detected
    run_id: str
    source_file: str
    default_scope: str | None = None
    _caches: dict[str, dict[Any, Any]] = field(default_factory=dict)
    _consts: dict[str, pa.Array] = field(default_factory=dict)
    _const_maps: dict[str, dict[Any, Any]] = field(default_factory=dict)

    # -- helpers -------------------------------------------------------------------------------------------------
    def _const_column(self, value: str, n: int) -> pa.Array:
        """``n`` copies of ``value`` for a stored column: dictionary-encoded (one entry), else plain."""
        return const_dictionary(value, n) if _DICTIONARY else self._const(value, n)

    def _const(self, value: str, n: int) -> pa.Array:
        """``n`` copies of ``value``: built once per file (at the largest batch size seen), then sliced."""
        arr = self._consts.get(value)
        if arr is None or len(arr) < n:
            arr = self._consts[value] = const_str(value, n)
        return arr if len(arr) == n else arr.slice(0, n)

    def _map(
        self, name: str, arr: pa.Array, fn: Callable[[Any], Any], typ: pa.DataType, *, column: bool = False
    ) -> pa.Array:
        """Apply ``fn`` per distinct value: known values are looked up in C++ (index_in); only values
        never seen before in this file go through Python. A dictionary-encoded ``arr`` is mapped through its
        dictionary (a string result stays dictionary-encoded). ``column``: a string result is a stored column
        (or decoded where used, see ``_plain``), so it comes back dictionary-encoded: the cached values'
        indices, without the gather of their text, which the Parquet writer would hash again."""
        if pa.types.is_dictionary(arr.type):
            mapped = self._map(name, dictionary_of(arr), fn, typ)
            if pa.types.is_string(typ):
                return redictionary(arr, mapped)
            chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
            return pa.chunked_array([mapped.take(c.indices) for c in chunks], typ)
        # One value in the whole batch (a monthly export's billing period and account, often its charge type):
        # a string compare per row instead of a hash lookup and a gather; the output is the file's constant array.
        first = single_value(arr) if _CONSTANT_BATCHES and pa.types.is_string(typ) and len(arr) > 1 else None
        if first is not None:
            consts = self._const_maps.setdefault(name, {})
            key = first.as_py()
            if key not in consts:
                consts[key] = fn(key)
            value = consts[key]
            if value is None:
                return self._null(len(arr))
            return self._const_column(str(value), len(arr)) if column else self._const(str(value), len(arr))
        state = self._caches.get(name)
        if state is None or len(state["keys"]) > 500_000:
            state = self._caches[name] = {"keys": pa.nulls(0, arr.type), "vals": pa.nulls(0, typ)}
        idx = pc.index_in(arr, value_set=state["keys"])
        if idx.null_count != arr.null_count:  # a present value not in the cache (the keys hold no null)
            missing = pc.and_(pc.is_null(idx), pc.is_valid(arr))
            new = pc.unique(arr.filter(missing))
            mapped = to_arrow([fn(v) for v in new.to_pylist()], typ)
            state["keys"] = pa.concat_arrays([state["keys"], new])
            state["vals"] = pa.concat_arrays([state["vals"], mapped])
            idx = pc.index_in(arr, value_set=state["keys"])
        if column and _DICTIONARY and pa.types.is_string(typ):
            return self._indexed(state, idx)
        return state["vals"].take(idx)

    def _indexed(self, state: dict[str, Any], idx: pa.Array) -> pa.Array:
        """``state["vals"].take(idx)`` dictionary-encoded: the cached values are encoded once (until the cache
        grows; several keys may map to one value, or to none) and ``idx`` is remapped through them."""
        enc = state.get("encoded")
        if enc is None or len(enc) != len(state["vals"]):
            enc = state["encoded"] = pc.dictionary_encode(state["vals"])
        return reindex(idx, enc)

    def columns(self) -> list[str]:
        """The header names to parse: the detected columns of the fields the normalizer reads."""
        return sorted({h for k, h in self.detected.columns.items() if k in USED_FIELDS})

    def _col(self, batch: pa.RecordBatch, key: str) -> pa.Array | None:
        if key not in USED_FIELDS:
            raise KeyError(f"normalizer reads {key!r}, which is not in USED_FIELDS (it would not be parsed)")
        header = self.detected.columns.get(key)
        if header is None:
            return None
        arr = batch.column(header)
        if not pa.types.is_string(arr.type) and not pa.types.is_large_string(arr.type):
            arr = pc.cast(arr, pa.string())
        return arr

    def _null(self, n: int, typ: pa.DataType = pa.string()) -> pa.Array:
        return pa.nulls(n, type=typ)

    def _str(self, batch: pa.RecordBatch, key: str) -> pa.Array:
        arr = self._col(batch, key)
        return self._null(batch.num_rows) if arr is None else arr

    def _lower(self, batch: pa.RecordBatch, key: str) -> pa.Array:
        arr = self._col(batch, key)
        return self._null(batch.num_rows) if arr is None else lower(arr)

    def _dates(
        self, batch: pa.RecordBatch, key: str, rejects: list[Reject], required: bool
    ) -> tuple[pa.Array, pa.Array]:
        """Parsed timestamps and a validity mask; bad values become rejects."""
        arr = self._col(batch, key)
        if arr is None:
            return self._null(batch.num_rows, _TS), bool_const(not required, batch.num_rows)
        ts = self._map("date:" + key, arr, values.parse_date, _TS)
        ok = pc.is_valid(ts) if required else pc.or_(pc.is_valid(ts), pc.is_null(arr))
        if not pc.all(ok).as_py():
            header = self.detected.columns[key]
            for i in pc.indices_nonzero(pc.invert(ok)).to_pylist():
                raw = arr[i].as_py()
                reason = f"missing date in {header}" if raw is None else f"unparseable date {raw!r} in {header}"
                rejects.append(Reject(i, header, reason))
        return ts, ok

    def _costs(self, batch: pa.RecordBatch, key: str, rejects: list[Reject]) -> tuple[pa.Array, pa.Array]:
        arr = self._col(batch, key)
        if arr is None:
            return self._null(batch.num_rows, COST_TYPE), bool_const(True, batch.num_rows)
        header = self.detected.columns[key]
        dec = _strict_decimals(arr)
        if dec is None:  # the slow way; either way a missing value is a reject with its reason below
            trimmed = pc.utf8_trim_whitespace(arr)
            trimmed = pc.if_else(pc.match_substring_regex(trimmed, values.DECIMAL_PATTERN), trimmed, _NULL_STR)
            try:
                dec = pc.cast(trimmed, COST_TYPE)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                parsed: list[Decimal | None] = []
                for raw in trimmed.to_pylist():
                    try:
                        d = Decimal(raw) if raw is not None else None
                        if d is not None and not d.is_finite():
                            raise InvalidOperation
                        parsed.append(d.quantize(_Q) if d is not None else None)
                    except (InvalidOperation, ValueError):
                        parsed.append(None)
                dec = pa.array(parsed, type=COST_TYPE)
        ok = pc.is_valid(dec)
        if not pc.all(ok).as_py():
            for i in pc.indices_nonzero(pc.invert(ok)).to_pylist():
                raw = arr[i].as_py()
                reason = f"missing cost in {header}" if raw is None else f"unparseable cost {raw!r} in {header}"
                rejects.append(Reject(i, header, reason))
        return dec, ok

    def _tags(self, batch: pa.RecordBatch) -> pa.Array:
        """Tags as a JSON object string: EA/MCA tags get their missing outer braces back (vectorized)."""
        arr = self._col(batch, "tags")
        if arr is None:
            return self._null(batch.num_rows)
        if _DICTIONARY:  # each distinct text once (exports repeat a resource's tags on each of its rows)
            encoded = pc.dictionary_encode(arr)
            return redictionary(encoded, _json_objects(dictionary_of(encoded)))
        return _json_objects(arr)

    def _quantity(self, batch: pa.RecordBatch, key: str, rejects: list[Reject]) -> tuple[pa.Array, pa.Array]:
        """Quantities and a validity mask: a present quantity must be a strict number
        (``values.QUANTITY_PATTERN``); anything else (NaN, inf, 1_000, other scripts' digits) rejects the row."""
        arr = self._col(batch, key)
        if arr is None:
            return self._null(batch.num_rows, pa.float64()), bool_const(True, batch.num_rows)
        plain = _plain_floats(arr)
        if plain is not None:
            return plain, bool_const(True, batch.num_rows)
        trimmed = pc.utf8_trim_whitespace(arr)
        strict = pc.match_substring_regex(trimmed, values.QUANTITY_PATTERN)  # null where the quantity is absent
        ok = pc.or_kleene(pc.is_null(trimmed), strict)
        if not pc.all(ok).as_py():
            header = self.detected.columns[key]
            for i in pc.indices_nonzero(pc.invert(ok)).to_pylist():
                raw = str(arr[i].as_py())[:40]
                rejects.append(Reject(i, header, f"invalid quantity {raw!r} in {header}: not a plain decimal number"))
        try:
            qty = pc.cast(pc.if_else(strict, trimmed, _NULL_STR), pa.float64())
        except pa.ArrowInvalid:
            qty = self._map("qty", pc.if_else(strict, trimmed, _NULL_STR), _float_or_none, pa.float64())
        return qty, ok

    # -- entry point -----------------------------------------------------------------------------------------------
    def normalize(self, batch: pa.RecordBatch) -> tuple[pa.Table, list[Reject]]:
        rejects: list[Reject] = []
        n = batch.num_rows
        d = self.detected
        if d.dataset == "focus":
            start, ok_start = self._dates(batch, "start", rejects, True)
            end, ok_end = self._dates(batch, "end", rejects, False)
            end = pc.if_else(pc.is_valid(end), end, pc.add(start, _ONE_DAY))
            billed, ok_b = self._costs(batch, "billed", rejects)
            effective, ok_e = self._costs(batch, "effective", rejects)
            ok_cost = pc.and_(ok_b, ok_e)
            arm_type = self._col(batch, "arm_type")
            sub_id = self._map("sub", self._str(batch, "sub_id"), values.subscription_id, pa.string(), column=True)
            service_name = self._str(batch, "service_name")
            service_category = self._str(batch, "service_category")
            charge_category = self._str(batch, "charge_category")
            frequency = self._map(
                "cf", self._str(batch, "charge_frequency"), values.charge_frequency, pa.string(), column=True
            )
            pricing_category = self._str(batch, "pricing_category")
            commitment = self._str(batch, "commitment_id")
            region = self._lower(batch, "region")
            provider = self._str(batch, "provider")
            sp = self._col(batch, "service_provider")  # FOCUS 1.3 name; before it, ProviderName says the same
            service_provider = provider if sp is None else pc.if_else(pc.is_valid(sp), sp, provider)
            if sp is not None:  # FOCUS 1.3 deprecates ProviderName: a file without it names the cloud here
                provider = pc.if_else(pc.is_valid(provider), provider, sp)
            issuer = self._str(batch, "invoice_issuer")
        else:
            start, ok_start = self._dates(batch, "date", rejects, True)
            end = pc.add(start, _ONE_DAY)
            ok_end = bool_const(True, n)
            cost, ok_cost = self._costs(batch, "cost", rejects)
            null_cost = self._null(n, COST_TYPE)
            billed, effective = (cost, null_cost) if d.dataset == "actual" else (null_cost, cost)
            arm_type = None
            sub_id = self._map("sub", self._str(batch, "sub_id"), values.subscription_id, pa.string(), column=True)
            service_name = self._str(batch, "meter_category")
            fam = self._col(batch, "service_family")
            if fam is None:
                service_category = self._map("svccat", service_name, values.service_category, pa.string(), column=True)
            else:
                service_category = self._map(
                    "svccat_m", service_name, values.meter_service_category, pa.string(), column=True
                )
            if fam is not None and service_category.null_count:  # ServiceFamily decides for unknown meters
                pair = pc.binary_join_element_wise(
                    pc.fill_null(service_name, _EMPTY), pc.fill_null(fam, _EMPTY), _SEP, null_handling="replace"
                )
                service_category = self._map(
                    "svccat2", pair, lambda s: values.service_category(*s.split("\x1f", 1)), pa.string(), column=True
                )
            charge_category = self._map(
                "cc", self._str(batch, "charge_type"), values.charge_category, pa.string(), column=True
            )
            frequency = self._map(
                "cf", self._str(batch, "charge_frequency"), values.charge_frequency, pa.string(), column=True
            )
            pricing_category = self._map(
                "pc", self._str(batch, "pricing_model"), values.pricing_category, pa.string(), column=True
            )
            commitment = self._str(batch, "benefit_id")
            region = self._lower(batch, "region")
            reseller = self._col(batch, "reseller")  # MCA through a partner: the partner issues the invoice
            if reseller is None:
                provider = service_provider = issuer = self._const_column(MICROSOFT, n)
            else:
                provider = service_provider = self._const(MICROSOFT, n)
                issuer = pc.if_else(pc.is_valid(reseller), reseller, provider)

        currency = self._str(batch, "currency")
        ok_cur = pc.is_valid(currency)
        if not pc.all(ok_cur).as_py():
            header = d.columns.get("currency", "BillingCurrency")
            for i in pc.indices_nonzero(pc.invert(ok_cur)).to_pylist():
                rejects.append(Reject(i, header, f"missing billing currency in {header}"))

        rid_raw = self._col(batch, "resource_id")
        resource_id = self._lower(batch, "resource_id")
        if rid_raw is not None and _DICTIONARY:  # each distinct id is mapped once a batch, and stored so
            resource_id = pc.dictionary_encode(resource_id)
        if arm_type is not None:
            rtype = lower(arm_type)
            rtype = pc.if_else(
                pc.is_valid(rtype), rtype, _plain(self._map("rtype", resource_id, values.resource_type, pa.string()))
            )
        else:
            rtype = self._map("rtype", resource_id, values.resource_type, pa.string())
        if d.dataset != "focus":  # EA/MCA: the FOCUS ServiceName of the resource type, else MeterCategory
            focus_service = _plain(self._map("svc", rtype, values.focus_service_name, pa.string()))
            service_name = pc.if_else(pc.is_valid(focus_service), focus_service, service_name)
        rname = self._col(batch, "resource_name")
        if rid_raw is None:
            rname = self._null(n) if rname is None else rname
        elif rname is None:
            rname = self._map("rname", rid_raw, values.resource_name, pa.string())
        elif rname.null_count > 0:
            # derive names only where the export left ResourceName empty but has a resource id
            need = pc.and_(pc.is_null(rname), pc.is_valid(rid_raw))
            if pc.any(need).as_py():
                derived = _plain(self._map("rname", rid_raw, values.resource_name, pa.string()))
                rname = pc.if_else(need, derived, rname)

        rg = self._lower(batch, "rg")
        if rg.null_count and resource_id.null_count < n:
            # an Azure row whose export left the resource group out: take it from the ARM id. Other clouds
            # have no resource groups (AWS ARNs, Google Cloud resource names): theirs stays null on purpose.
            from_id = _plain(self._map("rg", resource_id, _resource_group_of, pa.string()))
            rg = pc.if_else(pc.is_valid(rg), rg, from_id)

        tags = self._tags(batch)
        qty, ok_qty = self._quantity(batch, "quantity", rejects)

        # partition helpers: scope = the export's own scope (from its manifest), else the billing account,
        # else the subscription; month = billing period start, else charge date. The export's scope wins:
        # two subscription-scoped exports of one enrollment each rewrite only their own month.
        if self.default_scope is not None:
            scope = self._const(self.default_scope, n)
        else:
            scope_src = self._col(batch, "billing_account")
            if scope_src is not None:
                scope_src = self._map("scope", scope_src, values.scope_id, pa.string())
            if scope_src is None:
                scope = _plain(sub_id)
            elif scope_src.null_count:
                scope = pc.if_else(pc.is_valid(scope_src), scope_src, _plain(sub_id))
            else:
                scope = scope_src
            if scope.null_count:
                scope = pc.fill_null(scope, _UNKNOWN)
        start_key = "start" if d.dataset == "focus" else "date"
        day = self._map("day", self._str(batch, start_key), _day_of, pa.string())
        bps_raw = self._col(batch, "billing_period_start")
        bps_month = None if bps_raw is None else self._map("bpmonth", bps_raw, _month_of, pa.string())
        if bps_month is None:
            month = pc.utf8_slice_codeunits(day, 0, 7)
        elif bps_month.null_count:  # the charge date's month where the billing period is missing
            month = pc.if_else(pc.is_valid(bps_month), bps_month, pc.utf8_slice_codeunits(day, 0, 7))
        else:
            month = bps_month

        columns = [
            start,
            end,
            billed,
            effective,
            currency,
            sub_id,
            self._str(batch, "sub_name"),
            rg,
            resource_id,
            rname,
            rtype,
            service_name,
            service_category,
            region,
            charge_category,
            frequency,
            pricing_category,
            qty,
            self._str(batch, "unit"),
            tags,
            commitment,
            provider,
            service_provider,
            issuer,
            self._const_column(self.run_id, n),
            self._const_column(self.source_file, n),
            scope,
            month,
            day,
        ]
        table = pa.Table.from_arrays(columns, schema=_schema_of(columns))
        ok = pc.and_(pc.and_(pc.and_(ok_start, ok_end), pc.and_(ok_cost, ok_cur)), ok_qty)
        if rejects:
            table = table.filter(ok)
        return table, rejects


_HELPERS = FRAME_SCHEMA.append(pa.field("_scope", pa.string())).append(pa.field("_month", pa.string()))
_HELPERS = _HELPERS.append(pa.field("_day", pa.string()))


def _schema_of(columns: list[pa.Array]) -> pa.Schema:
    """The frame's schema (and the helper columns'), except that a text column may be dictionary-encoded."""
    return pa.schema(
        [
            pa.field(f.name, col.type) if pa.types.is_dictionary(col.type) and col.type.value_type == f.type else f
            for f, col in zip(_HELPERS, columns, strict=True)
        ]
    )


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` (normalized, ``schema``'s columns) with ``schema``'s types: a text column dictionary-encoded
    or decoded to match (a file's batches may differ, e.g. a batch of one value; the values are unchanged)."""
    if table.schema.equals(schema):
        return table
    columns = []
    for f in schema:
        col = table[f.name]
        if col.type != f.type:
            col = pc.dictionary_encode(col) if pa.types.is_dictionary(f.type) else col.cast(f.type)
        columns.append(col)
    return pa.Table.from_arrays(columns, schema=schema)


def _plain(arr: pa.Array) -> pa.Array:
    """A dictionary-encoded array as plain values (a column mixed with plain ones by ``if_else``)."""
    return arr.cast(arr.type.value_type) if pa.types.is_dictionary(arr.type) else arr


_FLOAT_BYTES = b"0123456789.+-"


def _plain_floats(arr: pa.Array) -> pa.Array | None:
    """The values as float64 when every text is made of digits, signs and points only and Arrow's float
    parser takes each whole, else None (then the strict pattern decides, row by row).

    A fast path for the strict number check: such a text that parses is a ``values.QUANTITY_PATTERN``
    number without exponent (the parser wants a digit, at most one point, a sign only in front), and it
    parses to the float the slow path's cast gives it. Whitespace, exponents, NaN, inf, ``1_000`` and other
    scripts' digits all contain another byte: they go the slow way, which names the rejected values.
    """
    if not only_bytes(arr, _FLOAT_BYTES):
        return None
    try:
        return pc.cast(arr, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _strict_decimals(arr: pa.Array) -> pa.Array | None:
    """The values as ``COST_TYPE`` when Arrow's decimal parser takes every one of them, else None.

    A fast path for the strict number check: Arrow's decimal cast accepts exactly the texts that match
    ``values.DECIMAL_PATTERN`` and fit the type, except exponents of more than four digits (``1e00005``),
    so any value with an exponent goes the slow way too, as does every array the cast refuses
    (whitespace, NaN, ``1_000``, other scripts' digits, too many decimals): the slow way then names the
    rejected values, exactly as before.
    """
    try:
        dec = pc.cast(arr, COST_TYPE)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    for chunk in chunks:  # an exponent: a byte search of the (short) number text, not a regex
        data = chunk.buffers()[2]
        text = data.to_pybytes() if data is not None else b""
        if b"e" in text or b"E" in text:
            return None
    return dec


def _json_objects(arr: pa.Array) -> pa.Array:
    """Tag texts as JSON object strings: trimmed, empty ones null, missing outer braces added (vectorized)."""
    arr = pc.utf8_trim_whitespace(arr)
    empty = pc.is_in(arr, value_set=_EMPTY_TAGS)
    if pc.any(empty).as_py():
        arr = pc.if_else(empty, _NULL_STR, arr)
    has_braces = pc.starts_with(arr, "{")
    if pc.all(has_braces).as_py():  # FOCUS: JSON objects already (nulls stay null)
        return arr
    braced = pc.binary_join_element_wise(_LBRACE, arr, _RBRACE, _EMPTY)
    if not pc.any(has_braces).as_py():  # EA/MCA: none has its braces
        return braced
    return pc.if_else(has_braces, arr, braced)


def _resource_group_of(resource_id: str | None) -> str | None:
    """The resource group of an ARM id (``/subscriptions/<s>/resourcegroups/<rg>/...``), else None."""
    if not resource_id or not resource_id.startswith("/subscriptions/"):
        return None
    return ResourceRef.from_id(resource_id).resource_group or None


def _day_of(text: str | None) -> str | None:
    dt = values.parse_date(text)
    return dt.strftime("%Y-%m-%d") if dt is not None else None


def _month_of(text: str | None) -> str | None:
    dt = values.parse_date(text)
    return dt.strftime("%Y-%m") if dt is not None else None


def _float_or_none(v: str | None) -> float | None:
    if v is None:
        return None
    try:
        return float(v)
    except ValueError:
        return None
