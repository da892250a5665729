"""The Redis cache backend whose connections are shared by the whole process."""

import threading

import pytest
from django.conf import settings

from config.cache import SharedRedisCache


def _cache() -> SharedRedisCache:
    return SharedRedisCache(settings.REDIS_URL, {"KEY_PREFIX": "test-shared"})


@pytest.fixture
def redis_cache():
    if not settings.REDIS_URL:
        pytest.skip("needs Redis (set REDIS_URL, as CI does)")
    cache = _cache()
    yield cache
    cache.delete_many(["a", "b"])


def test_cache_objects_share_one_pool_and_client(redis_cache):
    """Django builds a cache object per thread, and per request under ASGI: they
    must not each open connections."""
    client = redis_cache._cache.get_client(write=True)
    pool = client.connection_pool
    in_thread = []
    thread = threading.Thread(target=lambda: in_thread.append(_cache()._cache))
    thread.start()
    thread.join()
    assert in_thread[0].get_client() is client
    assert _cache()._cache._get_connection_pool(write=False) is pool

    def connections() -> int:
        return len(pool._available_connections) + len(pool._in_use_connections)

    _cache().get("a")
    before = connections()
    for _ in range(20):  # one after another: the same connection each time
        _cache().get("a")
    assert connections() == before


def test_the_shared_cache_still_works(redis_cache):
    assert redis_cache.add("a", {"x": 1}, 30)
    assert not _cache().add("a", {"x": 2}, 30)
    redis_cache.set("b", 5, 30)
    assert _cache().incr("b") == 6
    assert redis_cache.get_many(["a", "b"]) == {"a": {"x": 1}, "b": 6}
