"""``nextLink`` is followed only to the host that served the first page.

A page is data from the service, and its ``nextLink`` is a URL our client would call with the
ARM bearer token: a link to another host (or a downgrade to http) would hand the token to it.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

__all__ = ["ForeignNextLinkError", "checked_next_link"]


class ForeignNextLinkError(ValueError):
    """A ``nextLink`` points away from the host (or scheme) that served the first page."""


def checked_next_link(next_link: str, first_url: str) -> str:
    """``next_link`` (made absolute against ``first_url``), or :class:`ForeignNextLinkError`."""
    absolute = urljoin(first_url, next_link)
    first, nxt = urlsplit(first_url), urlsplit(absolute)
    if (nxt.scheme.lower(), (nxt.hostname or "").lower(), nxt.port) != (
        first.scheme.lower(),
        (first.hostname or "").lower(),
        first.port,
    ):
        raise ForeignNextLinkError(
            f"nextLink points to {nxt.scheme}://{nxt.hostname}, not {first.scheme}://{first.hostname} "
            "(which served the first page): not followed"
        )
    return absolute
