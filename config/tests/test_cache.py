"""The Redis cache backend that keeps one client per connection pool."""

import pytest
from django.conf import settings

from config.cache import ReusedClientRedisCache


@pytest.fixture
def redis_cache():
    if not settings.REDIS_URL:
        pytest.skip("needs Redis (set REDIS_URL, as CI does)")
    cache = ReusedClientRedisCache(settings.REDIS_URL, {"KEY_PREFIX": "test-reuse"})
    yield cache
    cache.delete_many(["a", "b"])


def test_one_client_per_pool_and_the_cache_still_works(redis_cache):
    client = redis_cache._cache.get_client(write=True)
    assert redis_cache._cache.get_client() is client
    assert redis_cache.add("a", {"x": 1}, 30)
    assert not redis_cache.add("a", {"x": 2}, 30)
    redis_cache.set("b", 5, 30)
    assert redis_cache.incr("b") == 6
    assert redis_cache.get_many(["a", "b"]) == {"a": {"x": 1}, "b": 6}
    assert redis_cache._cache.get_client(write=True) is client
