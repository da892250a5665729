"""The client's address, resolved once per request from the trusted proxies.

`TRUSTED_PROXIES` says which peers may tell us who the client is:

- empty (the default): nobody. The address is the TCP peer (`REMOTE_ADDR`);
  `X-Forwarded-For` is ignored, whatever it says.
- an integer N: exactly N proxies of ours stand in front of every request. The
  client is the N-th address from the right of `X-Forwarded-For` + the peer;
  anything further left was written by the client and is ignored.
- CIDRs (`10.0.0.0/8,192.168.1.5/32`): a peer inside them is a proxy of ours. Its
  `X-Forwarded-For` is read from the right, skipping our proxies; the first
  address that is not one of them is the client. A peer outside them is the
  client, and its forwarding headers are ignored.

`ClientAddressMiddleware` (first in the chain) stores the result on
`request.client_ip`; throttles (config/throttling.py), the login lockout, axes'
records and the audit trail read it through `client_ip(request)`.

No library: these rules are a few lines over the standard `ipaddress` module;
django-ipware, by default, ranks some thirty client-settable headers (X-Real-IP,
CF-Connecting-IP, ...) and would have to be configured down to this one."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=8)
def trusted_proxies_parse(value: str) -> int | tuple[Network, ...]:
    """`TRUSTED_PROXIES` as a hop count or a tuple of networks ("" -> 0)."""
    value = value.strip()
    if not value:
        return 0
    if value.isdigit():
        return int(value)
    try:
        return tuple(
            ipaddress.ip_network(part.strip(), strict=False)
            for part in value.split(",")
            if part.strip()
        )
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXIES: {exc}; give a hop count or comma-separated CIDRs."
        ) from exc


def _address(value: str) -> Address | None:
    """One address as a proxy writes it: bare, `[v6]`, `[v6]:port`, `v4:port`."""
    value = value.strip().strip('"')
    if value.startswith("["):
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def client_ip_resolve(
    *, remote_addr: str | None, forwarded_for: str | None, trusted: str
) -> str | None:
    """The client's address from the peer and its `X-Forwarded-For`."""
    peer = _address(remote_addr or "")
    if peer is None:
        return None
    policy = trusted_proxies_parse(trusted)
    if not policy or not forwarded_for:
        return str(peer)
    chain = [_address(part) for part in forwarded_for.split(",")] + [peer]
    if isinstance(policy, int):
        # N proxies: the last N entries are theirs; the one before is the client.
        # Fewer entries than proxies: the furthest hop we have.
        # A malformed entry at that place: the nearest valid hop to its right.
        index = max(len(chain) - policy - 1, 0)
        while chain[index] is None:
            index += 1
        return str(chain[index])
    if not _trusted(peer, policy):
        return str(peer)
    resolved = peer
    for hop in reversed(chain[:-1]):
        if hop is None:
            break  # garbage from a trusted proxy: keep the last good hop
        resolved = hop
        if not _trusted(hop, policy):
            break
    return str(resolved)


def _trusted(address: Address, networks: tuple[Network, ...]) -> bool:
    return any(address in network for network in networks)


def client_ip(request: HttpRequest) -> str | None:
    """The request's resolved client address (computed once, then kept on it).

    Accepts a DRF `Request` too: it is read from the Django request inside."""
    # Any: the Django request, which carries our own `client_ip` attribute.
    django_request: Any = getattr(request, "_request", request)
    if not hasattr(django_request, "client_ip"):
        django_request.client_ip = client_ip_resolve(
            remote_addr=django_request.META.get("REMOTE_ADDR"),
            forwarded_for=django_request.META.get("HTTP_X_FORWARDED_FOR"),
            trusted=settings.TRUSTED_PROXIES,
        )
    return django_request.client_ip


class ClientAddressMiddleware:
    """Resolves the client address once, before anything else reads it."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        trusted_proxies_parse(settings.TRUSTED_PROXIES)  # a bad value: no start
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        client_ip(request)
        return self.get_response(request)
