"""Django's Redis cache with its connections shared by the whole process."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import redis
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

# (server URL, pool options) -> (connection pool, client). Process-wide: Django keeps
# one cache object per thread under WSGI but one per request under ASGI (its
# connection handler is context-local), and each cache object opened its own pool,
# so every ASGI request connected to Redis anew. redis-py pools are thread-safe and
# reset themselves in a forked child.
_shared: dict[tuple[str, str], tuple[object, object]] = {}
_shared_lock = threading.Lock()


class SharedRedisCacheClient(RedisCacheClient):
    """Pools and clients shared across cache objects; Django's own client also built
    a new `redis.Redis` on every call, which cost more Python than the command."""

    # Django's own (private) attributes, which django-stubs does not declare.
    _servers: list[str]
    _pool_options: dict[str, Any]
    _pool_class: type[redis.ConnectionPool]
    _client: type[redis.Redis]
    _get_connection_pool_index: Callable[[bool], int]

    def _shared(self, write: bool) -> tuple[object, object]:
        server = self._servers[self._get_connection_pool_index(write)]
        key = (server, repr(sorted(self._pool_options.items())))
        shared = _shared.get(key)
        if shared is None:
            with _shared_lock:
                shared = _shared.get(key)
                if shared is None:
                    pool = self._pool_class.from_url(server, **self._pool_options)
                    shared = _shared[key] = (pool, self._client(connection_pool=pool))
        return shared

    def _get_connection_pool(self, write):
        return self._shared(write)[0]

    def get_client(self, key=None, *, write=False):
        return self._shared(write)[1]


class SharedRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SharedRedisCacheClient


class MeteredSharedRedisCache(SharedRedisCache):
    """The shared-pool cache with its gets counted for Prometheus, as
    django-prometheus counts its own Redis backend's (hits, misses, failures)."""

    def get(self, key, default=None, version=None):
        from django_prometheus.cache.metrics import (
            django_cache_get_fail_total,
            django_cache_get_total,
            django_cache_hits_total,
            django_cache_misses_total,
        )

        django_cache_get_total.labels(backend="redis").inc()
        try:
            value = super().get(key, _MISSING, version=version)
        except Exception:
            django_cache_get_fail_total.labels(backend="redis").inc()
            raise
        if value is _MISSING:
            django_cache_misses_total.labels(backend="redis").inc()
            return default
        django_cache_hits_total.labels(backend="redis").inc()
        return value


_MISSING = object()
