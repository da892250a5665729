"""Usage limits: fixed windows counted in the shared cache, all of a request's
buckets in one atomic step (docs/rate-limits.md).

A request counts against several buckets at once (its user, its API key, their
order buckets). It passes only if every bucket has room for its hits; then all
are counted, else none is: a batch that would not fit is refused whole. On Redis
that is one Lua script, one round trip whatever the number of buckets. On any
other cache (the embedded mode's in-process one) `add` + `incr`, a refusal
taking its hits back.

Windows are fixed and numbered from the epoch, each bucket's shifted by a stable
offset so that not every client's minute ends at :00 (and its retries with it).
The window's number is part of the key: a new window is a new key, so the clock
alone resets a bucket (tests move the clock, not Redis's), and the TTL only
collects old keys."""

from __future__ import annotations

import hashlib
import math
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.core.cache import BaseCache, caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse

# DRF's rate format: "<count>/<period>", the period read from its first letter.
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PERIOD_WORDS = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}


@dataclass(frozen=True, slots=True)
class Rate:
    limit: int
    window: int  # seconds

    def __str__(self) -> str:
        return f"{self.limit} per {_PERIOD_WORDS[self.window]}"


@lru_cache(maxsize=64)
def rate_parse(value: str) -> Rate:
    """A rate setting ("50/s", "1200/min", "10/hour", "1000/day") as a Rate."""
    count, _, period = value.partition("/")
    window = _PERIODS.get(period.strip()[:1].lower())
    if not count.strip().isdigit() or int(count) < 1 or window is None:
        raise ImproperlyConfigured(
            f"rate {value!r}: give '<count>/<s|min|hour|day>', e.g. '1200/min'."
        )
    return Rate(limit=int(count), window=window)


@dataclass(frozen=True, slots=True)
class Bucket:
    """One limit a request counts against: `hits` of `rate` for `name` (user,
    api_key, orders, ...) and `ident` (the user's id, the key's id, ...)."""

    name: str
    ident: str
    rate: Rate
    hits: int = 1


@dataclass(frozen=True, slots=True)
class Usage:
    """A bucket as the X-RateLimit-* headers tell it: its limit, what is left in
    the window (after this request; before it, when refused) and the whole
    seconds until the window resets (at least 1)."""

    bucket: Bucket
    remaining: int
    reset: int

    @property
    def refused(self) -> bool:
        return self.bucket.hits > self.remaining


@dataclass(frozen=True, slots=True)
class Outcome:
    """`allowed`, and the bucket for the headers: the one closest to exhaustion
    (fewest left, the longer wait first), or when refused the refusing bucket
    with the longest wait (its reset is the `Retry-After`)."""

    allowed: bool
    usage: Usage


def _window(bucket: Bucket, now: float) -> tuple[str, int, int]:
    """The bucket's key in the window holding `now`, the whole seconds until that
    window ends, and a TTL that outlives it."""
    window = bucket.rate.window
    offset = zlib.crc32(f"{bucket.name}:{bucket.ident}".encode()) % window
    index = math.floor((now - offset) / window)
    ends = (index + 1) * window + offset
    reset = max(1, math.ceil(ends - now))
    return f"rl:{bucket.name}:{bucket.ident}:{index}", reset, reset + 1


# KEYS: the buckets' keys; ARGV: hits, limit and TTL of each bucket in turn.
# Returns {allowed, count...}: the counts after the request, or before it when
# refused (then nothing was counted).
_SCRIPT = """
local counts = {}
local allowed = 1
for i = 1, #KEYS do
  counts[i] = tonumber(redis.call('GET', KEYS[i]) or '0')
  if counts[i] + tonumber(ARGV[3 * i - 2]) > tonumber(ARGV[3 * i - 1]) then
    allowed = 0
  end
end
if allowed == 1 then
  for i = 1, #KEYS do
    local hits = tonumber(ARGV[3 * i - 2])
    counts[i] = redis.call('INCRBY', KEYS[i], hits)
    if counts[i] == hits then redis.call('EXPIRE', KEYS[i], ARGV[3 * i]) end
  end
end
table.insert(counts, 1, allowed)
return counts
"""
_SCRIPT_SHA = hashlib.sha1(_SCRIPT.encode(), usedforsecurity=False).hexdigest()


def _count_redis(
    backend: RedisCache, keys: list[str], buckets: Sequence[Bucket], ttls: list[int]
) -> tuple[bool, list[int]]:
    import redis.exceptions

    client: Any = backend._cache.get_client(write=True)
    names = [backend.make_key(key) for key in keys]
    args: list[int] = []
    for bucket, ttl in zip(buckets, ttls, strict=True):
        args += [bucket.hits, bucket.rate.limit, ttl]
    try:
        result = client.evalsha(_SCRIPT_SHA, len(names), *names, *args)
    except redis.exceptions.NoScriptError:  # a restarted or flushed server
        result = client.eval(_SCRIPT, len(names), *names, *args)
    return result[0] == 1, [int(count) for count in result[1:]]


def _count_generic(
    cache: BaseCache, keys: list[str], buckets: Sequence[Bucket], ttls: list[int]
) -> tuple[bool, list[int]]:
    counts = []
    for key, bucket, ttl in zip(keys, buckets, ttls, strict=True):
        cache.add(key, 0, ttl)
        try:
            counts.append(cache.incr(key, bucket.hits))
        except ValueError:  # expired between the add and the incr
            cache.set(key, bucket.hits, ttl)
            counts.append(bucket.hits)
    if all(
        count <= bucket.rate.limit
        for count, bucket in zip(counts, buckets, strict=True)
    ):
        return True, counts
    for key, bucket in zip(keys, buckets, strict=True):
        try:
            cache.decr(key, bucket.hits)
        except ValueError:  # expired meanwhile: nothing left to take back
            pass
    return False, [
        count - bucket.hits for count, bucket in zip(counts, buckets, strict=True)
    ]


def limit_hit(buckets: Sequence[Bucket]) -> Outcome:
    """Count a request against all its `buckets` if each has room, else none."""
    now = time.time()
    windows = [_window(bucket, now) for bucket in buckets]
    keys = [key for key, _, _ in windows]
    ttls = [ttl for _, _, ttl in windows]
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        allowed, counts = _count_redis(backend, keys, buckets, ttls)
    else:
        allowed, counts = _count_generic(backend, keys, buckets, ttls)
    usages = [
        Usage(bucket=bucket, remaining=max(0, bucket.rate.limit - count), reset=reset)
        for bucket, count, (_, reset, _) in zip(buckets, counts, windows, strict=True)
    ]
    if allowed:
        usage = min(usages, key=lambda u: (u.remaining, -u.reset))
    else:
        usage = max((u for u in usages if u.refused), key=lambda u: u.reset)
    return Outcome(allowed=allowed, usage=usage)


# --- The headers ---------------------------------------------------------------

HEADER_LIMIT = "X-RateLimit-Limit"
HEADER_REMAINING = "X-RateLimit-Remaining"
HEADER_RESET = "X-RateLimit-Reset"


def usage_keep(request: Any, usage: Usage) -> None:
    """Keep the request's usage on the Django request (a DRF `Request` is
    unwrapped) for `usage_headers_write`."""
    getattr(request, "_request", request).rate_limit_usage = usage


def usage_headers_write(request: HttpRequest, response: HttpResponse) -> None:
    """The X-RateLimit-* headers of the usage a throttle kept on `request`."""
    usage: Usage | None = getattr(request, "rate_limit_usage", None)
    if usage is None:
        return
    response[HEADER_LIMIT] = str(usage.bucket.rate.limit)
    response[HEADER_REMAINING] = str(usage.remaining)
    response[HEADER_RESET] = str(usage.reset)
