"""The client address of a request: the peer, or what a trusted proxy says it saw.

By default the address is ``REMOTE_ADDR``, the peer of the connection. Behind a
reverse proxy that is the proxy, so every client would share one address (one
failure counter, one audit address). Two ways out, documented in docs/security.md:

- something you control sets ``REMOTE_ADDR`` to the client's address before Django
  sees the request (a server speaking the PROXY protocol, or a middleware of yours
  that knows your proxies); or
- ``SECRETVAULT["CLIENT_ADDRESS_HEADER"] = "X-Forwarded-For"`` with
  ``SECRETVAULT["TRUSTED_PROXY_COUNT"]`` set to the number of proxies of yours that
  append to it. The address is then the entry that many places from the right: the
  one your outermost proxy wrote. Entries further left were sent by the client and
  are never trusted. A request whose header holds fewer entries did not come
  through all your proxies, and is judged by ``REMOTE_ADDR``.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_ipv46_address

from secretvault.conf import vault_settings


def _valid_address(address: str | None) -> str | None:
    if not address:
        return None
    try:
        validate_ipv46_address(address)
    except ValidationError:
        return None
    return address


def meta_key(header: str) -> str:
    """``X-Forwarded-For`` → ``HTTP_X_FORWARDED_FOR`` (the ``request.META`` key)."""
    name = header.strip().upper().replace("-", "_")
    return name if name.startswith("HTTP_") else f"HTTP_{name}"


def client_address(request: Any) -> str | None:
    """The client's IP address as text, or ``None`` when there is no valid one.

    ``request`` is a Django ``HttpRequest`` or a DRF ``Request``. The rule comes from
    ``SECRETVAULT["CLIENT_ADDRESS_HEADER"]`` and ``["TRUSTED_PROXY_COUNT"]`` (module
    docstring); it never takes an address the client itself wrote.
    """
    meta = getattr(request, "META", None) or {}
    header = vault_settings.CLIENT_ADDRESS_HEADER
    if header:
        count = int(vault_settings.TRUSTED_PROXY_COUNT)
        entries = [part.strip() for part in str(meta.get(meta_key(header), "")).split(",")]
        entries = [entry for entry in entries if entry]
        if count >= 1 and len(entries) >= count:
            return _valid_address(entries[-count])
    return _valid_address(meta.get("REMOTE_ADDR"))
