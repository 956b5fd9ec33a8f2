"""Who is asking, and may they: identities, roles and CSRF tokens for the console.

Two ways in, one :class:`Identity` out:

* **App Service Authentication** (the Function App): Easy Auth validates the Entra ID
  sign-in and passes the principal in ``X-MS-CLIENT-PRINCIPAL`` (base64 JSON with the
  claims). App Service strips that header from incoming requests, so it can be trusted
  only when authentication is enabled: :class:`AppServiceAuth` refuses to serve unless
  the platform says so (``WEBSITE_AUTH_ENABLED=True``).
* **Local token** (``vigil serve``): a random token printed at start. ``/login?token=…``
  sets an HttpOnly, SameSite=Strict cookie; every other request needs that cookie (or
  ``Authorization: Bearer <token>``). The roles are the ones ``--role`` grants.

Roles are Entra ID app roles: ``Vigil.Reader`` reads, ``Vigil.Triager`` acknowledges and
silences, ``Vigil.Approver`` approves remediation. Any of them lets one read.

CSRF: every state change is a POST carrying ``csrf``, an HMAC of the identity under a
per-deployment secret (compared in constant time); a cross-origin ``Origin`` is refused
as well.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "ALL_ROLES",
    "APPROVER",
    "READER",
    "TRIAGER",
    "AppServiceAuth",
    "AuthError",
    "Authenticator",
    "Identity",
    "LocalTokenAuth",
    "csrf_token",
    "parse_client_principal",
    "verify_csrf",
]

READER = "Vigil.Reader"
TRIAGER = "Vigil.Triager"
APPROVER = "Vigil.Approver"
ALL_ROLES = (READER, TRIAGER, APPROVER)
SESSION_COOKIE = "vigil_console"
_ROLE_CLAIMS = ("roles", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role")
_NAME_CLAIMS = ("preferred_username", "name", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn")


class AuthError(Exception):
    """Not signed in (401), not allowed (403) or authentication not configured (503)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Identity:
    id: str  # stable: the principal's object id, or "local"
    name: str  # shown and recorded (silence author, acknowledger, approver)
    roles: frozenset[str]

    def can(self, role: str) -> bool:
        return role in self.roles

    @property
    def can_read(self) -> bool:
        return bool(self.roles & set(ALL_ROLES))

    def require(self, role: str, what: str) -> None:
        if not self.can(role):
            raise AuthError(403, f"{self.name} may not {what}: it needs the {role} role")


class Authenticator(Protocol):
    def identify(self, headers: Mapping[str, str], cookies: Mapping[str, str]) -> Identity: ...


def parse_client_principal(header: str, name_header: str = "") -> Identity:
    """The identity in App Service Authentication's ``X-MS-CLIENT-PRINCIPAL`` header."""
    try:
        raw = base64.b64decode(header + "=" * (-len(header) % 4), validate=False)
        doc = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise AuthError(401, f"X-MS-CLIENT-PRINCIPAL is not base64 JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("claims"), list):
        raise AuthError(401, "X-MS-CLIENT-PRINCIPAL has no claims list")
    role_typ = str(doc.get("role_typ") or "roles")
    name_typ = str(doc.get("name_typ") or "name")
    roles: set[str] = set()
    values: dict[str, str] = {}
    for claim in doc["claims"]:
        if not isinstance(claim, dict):
            continue
        typ, val = str(claim.get("typ", "")), str(claim.get("val", ""))
        if typ == role_typ or typ in _ROLE_CLAIMS:
            roles.add(val)
        else:
            values.setdefault(typ, val)
    oid = values.get("http://schemas.microsoft.com/identity/claims/objectidentifier") or values.get("oid", "")
    name = values.get(name_typ) or next((values[c] for c in _NAME_CLAIMS if values.get(c)), "") or name_header
    if not name and not oid:
        raise AuthError(401, "X-MS-CLIENT-PRINCIPAL names nobody")
    return Identity(id=oid or name, name=name or oid, roles=frozenset(r for r in roles if r in ALL_ROLES))


class AppServiceAuth:
    """Identities from App Service Authentication (Easy Auth) in front of the Function App."""

    def __init__(self, settings: Mapping[str, str]) -> None:
        self.enabled = str(settings.get("WEBSITE_AUTH_ENABLED", "")).strip().lower() == "true"

    def identify(self, headers: Mapping[str, str], cookies: Mapping[str, str]) -> Identity:
        if not self.enabled:
            # Without Easy Auth nothing strips a forged X-MS-CLIENT-PRINCIPAL: refuse to serve at all.
            raise AuthError(503, "the console needs App Service Authentication (see docs/console.md)")
        header = headers.get("x-ms-client-principal", "")
        if not header:
            raise AuthError(401, "not signed in")
        return parse_client_principal(header, headers.get("x-ms-client-principal-name", ""))


class LocalTokenAuth:
    """``vigil serve``: one token, printed at start, for one local user with the given roles."""

    def __init__(self, token: str, *, roles: Iterable[str] = ALL_ROLES, name: str = "local user") -> None:
        if len(token) < 16:
            raise ValueError("the console token must be at least 16 characters")
        self.token = token
        self.roles = frozenset(roles)
        unknown = self.roles - set(ALL_ROLES)
        if unknown:
            raise ValueError(f"unknown role(s) {sorted(unknown)}; expected some of {list(ALL_ROLES)}")
        self.name = name

    def check_token(self, presented: str) -> bool:
        return hmac.compare_digest(presented.encode(), self.token.encode())

    def identify(self, headers: Mapping[str, str], cookies: Mapping[str, str]) -> Identity:
        presented = cookies.get(SESSION_COOKIE, "")
        auth = headers.get("authorization", "")
        if not presented and auth.lower().startswith("bearer "):
            presented = auth[7:].strip()
        if not presented or not self.check_token(presented):
            raise AuthError(401, "open the URL `vigil serve` printed (it carries the token)")
        return Identity(id="local", name=self.name, roles=self.roles)


def csrf_token(secret: bytes, identity: Identity) -> str:
    return hmac.new(secret, f"csrf|{identity.id}".encode(), hashlib.sha256).hexdigest()


def verify_csrf(secret: bytes, identity: Identity, presented: str) -> None:
    if not presented or not hmac.compare_digest(presented.encode(), csrf_token(secret, identity).encode()):
        raise AuthError(403, "missing or invalid CSRF token: reload the page and try again")
