"""DRF's throttles keyed on the resolved client address (config/clientip.py).

DRF's own `get_ident` reads `X-Forwarded-For` itself (all of it, unless
`NUM_PROXIES` is set): a client that rotates the header gets a fresh bucket each
time. These classes ask `client_ip` instead; use them, never DRF's."""

from __future__ import annotations

from rest_framework import throttling

from config.clientip import client_ip


class ClientAddressMixin:
    def get_ident(self, request) -> str:
        return client_ip(request) or ""


class AnonRateThrottle(ClientAddressMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(ClientAddressMixin, throttling.UserRateThrottle):
    pass


class ScopedRateThrottle(ClientAddressMixin, throttling.ScopedRateThrottle):
    pass
