"""TableStore under transport faults: writes that landed but whose response was lost."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from azure.core.exceptions import ServiceResponseError
from azure.core.pipeline.transport import RequestsTransport

from core.state.base import ConcurrencyError
from core.state.tables import MAX_VALUE_CHARS, TableStore
from tests.support.azurite import Azurite

pytestmark = pytest.mark.azurite


class LossyTransport(RequestsTransport):  # type: ignore[misc]
    """Sends each request for real; for the next ``faults`` requests with a matching method
    it then either drops the response (``mode="drop"``) or reports 503 (``mode="503"``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.faults = 0
        self.method = "PUT"
        self.mode = "drop"
        self.injected = 0

    def send(self, request: Any, **kwargs: Any) -> Any:
        response = super().send(request, **kwargs)
        if self.faults and request.method == self.method:
            self.faults -= 1
            self.injected += 1
            if self.mode == "drop":
                raise ServiceResponseError("injected: response lost after the write landed")
            response.status_code = 503
        return response


@pytest.fixture
def lossy(
    azurite: Azurite, unique_name: Callable[[str], str]
) -> Iterator[tuple[TableStore, TableStore, LossyTransport]]:
    transport = LossyTransport()
    table = unique_name("faults")
    fast = {"retry_backoff_factor": 0.01, "retry_total": 3}
    faulty = TableStore.from_connection_string(azurite.connection_string, table_name=table, transport=transport, **fast)
    clean = TableStore.from_connection_string(azurite.connection_string, table_name=table)
    yield faulty, clean, transport
    faulty.close()
    clean.close()


def test_retried_conditional_put_is_not_a_false_conflict(lossy: tuple[TableStore, TableStore, LossyTransport]) -> None:
    faulty, clean, transport = lossy
    first = faulty.put("ns", "counter", {"n": 1})
    transport.faults, transport.method, transport.mode = 1, "PUT", "drop"
    written = faulty.put("ns", "counter", {"n": 2}, etag=first.etag)
    assert transport.injected == 1
    stored = clean.get("ns", "counter")
    assert stored is not None
    assert stored.value == {"n": 2}
    assert written.etag == stored.etag
    # A genuine rival write is still reported as a conflict.
    clean.put("ns", "counter", {"n": 3})
    with pytest.raises(ConcurrencyError):
        faulty.put("ns", "counter", {"n": 99}, etag=written.etag)


def test_retried_add_reports_the_original_insert(lossy: tuple[TableStore, TableStore, LossyTransport]) -> None:
    faulty, clean, transport = lossy
    faulty.put("warmup", "k", {})  # create the table before arming the fault
    transport.faults, transport.method, transport.mode = 1, "POST", "503"
    assert faulty.add("events", "evt-1", {"by": "faulty"}) is True
    assert transport.injected == 1
    assert clean.add("events", "evt-1", {"by": "clean"}) is False
    got = clean.get("events", "evt-1")
    assert got is not None
    assert got.value == {"by": "faulty"}


def test_retried_delete_leaves_record_gone(lossy: tuple[TableStore, TableStore, LossyTransport]) -> None:
    faulty, clean, transport = lossy
    record = faulty.put("ns", "k", {"v": 1})
    transport.faults, transport.method, transport.mode = 1, "DELETE", "drop"
    faulty.delete("ns", "k", etag=record.etag)  # True or False: the lost response makes it ambiguous
    assert transport.injected == 1
    assert clean.get("ns", "k") is None


def test_value_over_entity_limit_is_a_clear_error(azurite: Azurite, unique_name: Callable[[str], str]) -> None:
    store = TableStore.from_connection_string(azurite.connection_string, table_name=unique_name("big"))
    try:
        with pytest.raises(ValueError, match=r"Table backend stores at most"):
            store.put("ns", "k", {"blob": "x" * MAX_VALUE_CHARS})
        assert store.get("ns", "k") is None
        near_limit = {"blob": "x" * (MAX_VALUE_CHARS - 20)}
        store.put("ns", "k", near_limit)
        got = store.get("ns", "k")
        assert got is not None
        assert got.value == near_limit
    finally:
        store.close()
