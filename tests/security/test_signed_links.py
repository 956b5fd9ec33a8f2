"""Signed card links (alerts/signing.py): HMAC-SHA256, expiry, single-use nonce, constant-time check.

The key comes from settings (``VIGIL_SIGNING_KEY``, a secret; in Azure a Key Vault reference).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts import signing
from alerts.signing import LinkError, sign_link, verify_link
from alerts.testing import MemoryStore
from core.state.base import Namespace
from vigil.settings import Settings

KEY = b"k" * 32
T0 = datetime(2026, 11, 27, 5, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


def _link(action: str = "ack", *, fp: str = "f1", ttl: timedelta = timedelta(hours=1), nonce: str = "n1") -> str:
    return sign_link("https://vigil.example", action, {"fp": fp}, key=KEY, issued_at=T0, ttl=ttl, nonce=nonce)


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def test_signature_is_hmac_sha256_over_every_parameter() -> None:
    q = _query(_link())
    canonical = f"v1\nack\nfp=f1\n{q['exp']}\nn1".encode()
    assert q["sig"] == hmac.new(KEY, canonical, hashlib.sha256).hexdigest()
    assert len(q["sig"]) == 64


def test_valid_link_verifies_once_then_is_refused() -> None:
    store = MemoryStore()
    act = verify_link(_query(_link()), key=KEY, now=T0, store=store)
    assert (act.action, dict(act.params), act.nonce) == ("ack", {"fp": "f1"}, "n1")
    assert store.get(Namespace.NONCES, "n1") is not None, "the nonce is kept in the state store"
    with pytest.raises(LinkError, match="already used"):
        verify_link(_query(_link()), key=KEY, now=T0, store=store)


def test_expired_link_is_refused() -> None:
    q = _query(_link(ttl=timedelta(minutes=5)))
    verify_link(q, key=KEY, now=T0 + timedelta(minutes=4), store=MemoryStore())
    with pytest.raises(LinkError, match="expired"):
        verify_link(q, key=KEY, now=T0 + timedelta(minutes=5), store=MemoryStore())


@pytest.mark.parametrize(
    ("field", "value"),
    [("a", "approve"), ("fp", "f2"), ("exp", "9999999999"), ("n", "n2"), ("sig", "0" * 64), ("extra", "1")],
)
def test_tampering_with_any_parameter_breaks_the_signature(field: str, value: str) -> None:
    q = _query(_link())
    q[field] = value
    with pytest.raises(LinkError, match="bad signature"):
        verify_link(q, key=KEY, now=T0, store=MemoryStore())


def test_a_link_signed_with_another_key_is_refused() -> None:
    q = _query(sign_link("https://x", "ack", {"fp": "f1"}, key=b"other", issued_at=T0, ttl=timedelta(1), nonce="n"))
    with pytest.raises(LinkError, match="bad signature"):
        verify_link(q, key=KEY, now=T0, store=MemoryStore())


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789abcdef", min_size=0, max_size=70))
def test_no_forged_signature_verifies(sig: str) -> None:
    q = _query(_link())
    if sig == q["sig"]:
        return
    q["sig"] = sig
    with pytest.raises(LinkError):
        verify_link(q, key=KEY, now=T0, store=MemoryStore())


def test_comparison_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)  # alerts.signing calls hmac.compare_digest
    q = _query(_link())
    verify_link(q, key=KEY, now=T0, store=MemoryStore())
    q["sig"] = "f" * 64
    with pytest.raises(LinkError):
        verify_link(q, key=KEY, now=T0, store=MemoryStore())
    assert len(calls) == 2, "every signature check goes through hmac.compare_digest"
    assert all(b"f" * 64 not in a for a, _ in calls)  # the expected value is the first argument
    source = Path(signing.__file__).read_text(encoding="utf-8")
    assert "== sig" not in source
    assert "sig ==" not in source


def test_link_actions_are_refused_without_a_configured_key() -> None:
    from alerts.actions import action_response

    status, body = action_response(_query(_link()), key=None, store=MemoryStore(), now=T0, csrf=None)
    assert status == 503
    assert "VIGIL_SIGNING_KEY" in body["error"]


def test_the_key_comes_from_settings_as_a_secret() -> None:
    s = Settings.from_env({"VIGIL_SIGNING_KEY": "s3cr3t-signing-key"})
    assert s.signing_key is not None
    assert s.signing_key.get_secret_value() == "s3cr3t-signing-key"
    assert "s3cr3t-signing-key" not in repr(s)
    assert "s3cr3t-signing-key" not in str(s.model_dump())


def test_in_azure_the_key_is_a_key_vault_secret() -> None:
    settings_doc = json.loads((REPO / "infra" / "app-settings.json").read_text(encoding="utf-8"))
    entries = (
        settings_doc
        if isinstance(settings_doc, list)
        else next(v for v in settings_doc.values() if isinstance(v, list))
    )
    entry = next(e for e in entries if e["name"] == "VIGIL_SIGNING_KEY")
    assert entry["secret"] is True
    assert entry["secretName"], "deployed as a Key Vault secret, referenced from the app setting"
    assert entry["value"] == "", "no key value is committed"
    bicep = (REPO / "infra" / "modules" / "functionapp.bicep").read_text(encoding="utf-8")
    assert "setting.secret ? '@Microsoft.KeyVault(SecretUri=" in bicep, "secret settings become Key Vault references"
