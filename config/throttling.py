"""The API's throttles: usage limits per user, per API key and per client address
(config/ratelimit.py, docs/rate-limits.md), and DRF's scoped throttle for the
sign-in endpoints.

Everything keys on the resolved client address (config/clientip.py), never on
DRF's own `get_ident`, which reads `X-Forwarded-For` itself (all of it, unless
`NUM_PROXIES` is set): a client rotating the header would get a fresh bucket
each time."""

from __future__ import annotations

from django.conf import settings
from rest_framework import throttling
from rest_framework.exceptions import Throttled
from rest_framework.settings import api_settings

from config.clientip import client_ip
from config.ratelimit import Bucket, limit_hit, rate_parse, usage_keep

# What a 429's message calls each bucket.
_BUCKET_NAMES = {
    "anon": "this address",
    "user": "your account",
    "api_key": "this API key",
    "orders": "your account's order requests",
    "orders_api_key": "this API key's order requests",
}


class ClientAddressMixin:
    def get_ident(self, request) -> str:
        return client_ip(request) or ""


class ScopedRateThrottle(ClientAddressMixin, throttling.ScopedRateThrottle):
    """Per address and view scope (`login`, `register`): the anonymous sign-in
    endpoints, which replace the usage limits with it."""


class UsageRateThrottle(throttling.BaseThrottle):
    """Every request against its user's bucket and, made with an API key, the
    key's; an anonymous one against its address's. All in one limiter call, and
    the usage kept on the request for the X-RateLimit-* headers
    (config/middleware.py). A refusal raises the 429 itself, naming the bucket."""

    # DRF's name for the rates dict (SimpleRateThrottle.THROTTLE_RATES): the
    # settings' own dict, so patching it works as for DRF's throttles. The rates
    # are read from api_settings on each request, so overridden settings apply.
    THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES

    def order_hits(self, request) -> int:
        """How many orders the request counts against the order buckets (0: it
        is not an order request)."""
        return 0

    def buckets(self, request) -> list[Bucket]:
        rates = api_settings.DEFAULT_THROTTLE_RATES
        user = request.user
        if not (user and user.is_authenticated):
            return _buckets(rates, [("anon", client_ip(request) or "unknown", 1)])
        wanted = [("user", str(user.pk), 1)]
        key_id = request.auth.key_id if _is_api_key(request.auth) else None
        if key_id is not None:
            wanted.append(("api_key", key_id, 1))
        orders = self.order_hits(request)
        if orders:
            wanted.append(("orders", str(user.pk), orders))
            if key_id is not None:
                wanted.append(("orders_api_key", key_id, orders))
        return _buckets(rates, wanted)

    def allow_request(self, request, view) -> bool:
        buckets = self.buckets(request)
        if not buckets:
            return True
        outcome = limit_hit(buckets)
        usage_keep(request, outcome.usage)
        if outcome.allowed:
            return True
        bucket = outcome.usage.bucket
        name = _BUCKET_NAMES[bucket.name]
        if bucket.hits > bucket.rate.limit:
            message = (
                f"A batch of {bucket.hits} orders is more than the limit of "
                f"{name} ({bucket.rate}): send smaller batches."
            )
        else:
            message = f"Request was throttled: the limit of {name} is {bucket.rate}."
        raise Throttled(wait=outcome.usage.reset, detail=message)


class OrderRateThrottle(UsageRateThrottle):
    """An order write (place, amend, cancel, preview): one hit on the order
    buckets as well."""

    def order_hits(self, request) -> int:
        return 1


class OrderBatchRateThrottle(UsageRateThrottle):
    """A batch: as many hits on the order buckets as it has items (the list in
    `field`), so a batch of 50 does not dodge the order limits. When they would
    not all fit, the whole request is refused (429) and nothing is counted. A
    malformed body counts once (it is refused as a whole)."""

    def __init__(self, field: str):
        super().__init__()
        self.field = field

    def order_hits(self, request) -> int:
        data = request.data
        items = data.get(self.field) if isinstance(data, dict) else None
        if isinstance(items, list) and 0 < len(items) <= (
            settings.TRADING_BATCH_MAX_ORDERS
        ):
            return len(items)
        return 1


class OrderPairRateThrottle(UsageRateThrottle):
    """An OCO pair: two orders, two hits on the order buckets."""

    def order_hits(self, request) -> int:
        return 2


def _is_api_key(auth) -> bool:
    return bool(getattr(auth, "is_api_key", False))


def _buckets(rates: dict, wanted: list[tuple[str, str, int]]) -> list[Bucket]:
    """The buckets whose scope has a rate (a rate of None: no limit)."""
    return [
        Bucket(name=scope, ident=ident, rate=rate_parse(rates[scope]), hits=hits)
        for scope, ident, hits in wanted
        if rates.get(scope) is not None
    ]
