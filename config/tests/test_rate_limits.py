"""Usage limits (config/ratelimit.py, config/throttling.py, docs/rate-limits.md):
the X-RateLimit-* headers request by request, the 429 and its Retry-After, the
window resetting when the clock moves, the user's and the API key's buckets
apart and together, and order batches counting one per order, all or nothing.

The cases run on both counters: the Redis script (when REDIS_URL is set, as in
CI) and the generic one over Django's in-process cache (the embedded mode). API
keys are a stand-in carrying what the limiter reads of `apikeys.ApiKey`, and real
keys signing their requests (apikeys' own test client)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import time_machine
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from accounts.testing import api_client_for, make_user
from apikeys.tests.conftest import SignedClient, make_key
from config.ratelimit import Rate, rate_parse
from kyc.testing import make_verified_user
from trading.models import Order
from trading.tests.helpers import balances, fund, make_btc_usd

pytestmark = pytest.mark.django_db

NOW = "2026-12-07 13:00:00Z"
ME = "/api/v1/me"
ORDERS = "/api/v1/orders"
BATCH = "/api/v1/orders/batch"


@dataclass(frozen=True)
class StandInKey:
    """What the limiter (and the scope check) read of an `apikeys.ApiKey`."""

    key_id: str
    is_api_key = True
    scopes = ("read", "trade")


@pytest.fixture
def clock():
    """The limiter's clock, stopped at NOW (tokens are made after it stops, or
    they would be issued in its future)."""
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(params=["redis", "locmem"])
def counter(request, settings):
    """Each test on both counters, starting from an empty cache."""
    if request.param == "locmem":
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "LOCATION": "rate-limit-tests",
            }
        }
    elif not settings.REDIS_URL:
        pytest.skip("the Redis counter needs REDIS_URL")
    caches["default"].clear()
    return request.param


@pytest.fixture
def rates(settings):
    """Set some rates (the others stay the test settings' huge ones)."""

    def set_rates(**rates: str | None) -> None:
        framework = settings.REST_FRAMEWORK
        settings.REST_FRAMEWORK = {
            **framework,
            "DEFAULT_THROTTLE_RATES": {
                **framework["DEFAULT_THROTTLE_RATES"],
                **rates,
            },
        }

    return set_rates


def key_client(user, key_id: str) -> APIClient:
    client = APIClient()
    # DRF's stubs want a rest_framework.authtoken Token; any object is request.auth
    client.force_authenticate(user=user, token=StandInKey(key_id))  # type: ignore[arg-type]
    return client


def usage(response) -> tuple[int, int, int]:
    return (
        int(response["X-RateLimit-Limit"]),
        int(response["X-RateLimit-Remaining"]),
        int(response["X-RateLimit-Reset"]),
    )


def message(response) -> str:
    return response.json()["error"]["message"]


def throttled_body(message: str, wait: int) -> dict:
    unit = "second" if wait == 1 else "seconds"
    return {
        "error": {
            "code": "throttled",
            "message": f"{message} Expected available in {wait} {unit}.",
            "details": {"retry_after_seconds": wait},
        }
    }


# --- One user: the headers, the 429, the window ---------------------------------


def test_headers_count_down_then_429_with_retry_after(clock, counter, rates):
    # given a user limited to 3 requests a minute
    rates(user="3/min")
    client = api_client_for(make_user())
    # when they make four requests at the same instant
    responses = [client.get(ME) for _ in range(4)]

    # then the first three pass, counting down, with the same reset
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    reset = usage(responses[0])[2]
    assert 1 <= reset <= 60
    assert [usage(r) for r in responses] == [
        (3, 2, reset),
        (3, 1, reset),
        (3, 0, reset),
        (3, 0, reset),
    ]
    # and the fourth is refused in the error shape, told when to come back
    refused = responses[3]
    assert refused["Retry-After"] == str(reset)
    assert refused.json() == throttled_body(
        "Request was throttled: the limit of your account is 3 per minute.", reset
    )


def test_the_window_resets_when_the_clock_reaches_it(clock, counter, rates):
    # given a user who used up 2 requests a minute
    rates(user="2/min")
    client = api_client_for(make_user())
    client.get(ME)
    reset = usage(client.get(ME))[2]
    # when the clock moves on but the window has not ended
    clock.shift(reset - 1)
    before = client.get(ME)
    # and then reaches the window's end
    clock.shift(1)
    after = [client.get(ME) for _ in range(3)]

    # then a second before, still refused, a second to wait
    assert before.status_code == 429
    assert before["Retry-After"] == "1"
    assert usage(before) == (2, 0, 1)
    # and at the end a fresh window of a whole minute, counted from zero
    assert [r.status_code for r in after] == [200, 200, 429]
    assert [usage(r) for r in after] == [(2, 1, 60), (2, 0, 60), (2, 0, 60)]


def test_a_refused_request_counts_nothing(clock, counter, rates):
    # given a user at their limit
    rates(user="1/min")
    client = api_client_for(make_user())
    assert client.get(ME).status_code == 200
    reset = usage(client.get(ME))[2]
    # when they keep asking until the window ends
    for _ in range(5):
        assert client.get(ME).status_code == 429
    clock.shift(reset)
    # then the new window is whole: the refusals were not carried over
    assert usage(client.get(ME)) == (1, 0, 60)


def test_each_user_has_their_own_bucket(clock, counter, rates):
    rates(user="1/min")
    first, second = api_client_for(make_user()), api_client_for(make_user())
    assert first.get(ME).status_code == 200
    assert first.get(ME).status_code == 429
    assert second.get(ME).status_code == 200


# --- API keys: a bucket per key, inside the user's ---------------------------------


def test_key_and_user_buckets_are_counted_together(clock, counter, rates):
    # given 5 requests a minute per user and 3 per key
    rates(user="5/min", api_key="3/min")
    user = make_user()
    one, two = key_client(user, "ak_one"), key_client(user, "ak_two")
    token = api_client_for(user)
    # when the first key uses up its 3 (then tries a fourth)
    by_one = [one.get(ME) for _ in range(4)]
    # and the user goes on without a key, then with the second key
    by_token = token.get(ME)
    by_two = [two.get(ME) for _ in range(2)]

    # then the headers follow the key's bucket, the closest to exhaustion
    assert [r.status_code for r in by_one] == [200, 200, 200, 429]
    assert [usage(r)[:2] for r in by_one] == [(3, 2), (3, 1), (3, 0), (3, 0)]
    assert message(by_one[3]).startswith(
        "Request was throttled: the limit of this API key is 3 per minute."
    )
    # the key's refusal did not count against the user: 4 of 5 used after this
    assert by_token.status_code == 200
    assert usage(by_token)[:2] == (5, 1)
    # the second key has its own 3, but the user's bucket runs out first
    assert [r.status_code for r in by_two] == [200, 429]
    assert usage(by_two[0])[:2] == (5, 0)
    assert usage(by_two[1])[:2] == (5, 0)
    assert message(by_two[1]).startswith(
        "Request was throttled: the limit of your account is 5 per minute."
    )


def test_the_headers_name_the_bucket_with_the_fewest_left(clock, counter, rates):
    # given a roomy key inside a tight user bucket
    rates(user="2/min", api_key="10/min")
    user = make_user()
    response = key_client(user, "ak_roomy").get(ME)
    assert usage(response)[:2] == (2, 1)


# --- Orders: a bucket per user and per key, a batch one per order -----------------


@pytest.fixture
def trader():
    instrument = make_btc_usd()
    user = make_verified_user(email="trader@example.com")
    fund(user, instrument.quote, 100_000_00)
    return user


def order(**body) -> dict:
    return {"symbol": "BTC-USD", "side": "buy", "price": "100", "quantity": "0.01"} | (
        body
    )


def batch(size: int) -> dict:
    return {"orders": [order() for _ in range(size)]}


def test_an_order_counts_against_the_user_and_the_order_buckets(
    clock, counter, rates, trader
):
    rates(user="10/min", orders="2/min")
    client = api_client_for(trader)
    placed = [client.post(ORDERS, order(), format="json") for _ in range(3)]
    listed = client.get(ORDERS)

    assert [r.status_code for r in placed] == [201, 201, 429]
    assert [usage(r)[:2] for r in placed] == [(2, 1), (2, 0), (2, 0)]
    assert message(placed[2]).startswith(
        "Request was throttled: the limit of your account's order requests is "
        "2 per minute."
    )
    # a read counts against the user only: 2 orders + this read of 10
    assert listed.status_code == 200
    assert usage(listed)[:2] == (10, 7)
    assert Order.objects.count() == 2


def test_a_batch_counts_one_per_order_and_is_refused_whole(
    clock, counter, rates, trader
):
    # given 5 orders a minute
    rates(orders="5/min")
    client = api_client_for(trader)
    # when a batch of 3 is placed, then another 3, then 2
    first = client.post(BATCH, batch(3), format="json")
    after_first = balances(trader)
    refused = client.post(BATCH, batch(3), format="json")
    after_refused = balances(trader)
    last = client.post(BATCH, batch(2), format="json")

    # then the first takes 3 of the 5
    assert first.status_code == 200
    assert [r["status"] for r in first.json()["results"]] == [201, 201, 201]
    assert usage(first)[:2] == (5, 2)
    # the second would pass the limit: refused whole, no order, no hold taken
    assert refused.status_code == 429
    assert usage(refused)[:2] == (5, 2)
    assert refused["Retry-After"] == str(usage(refused)[2])
    assert refused.json()["error"]["code"] == "throttled"
    assert after_first == {"USD": (100_000_00 - 3_00, 3_00)}
    assert after_refused == after_first
    # and nothing was counted for it: the 2 that fit still go through
    assert last.status_code == 200
    assert usage(last)[:2] == (5, 0)
    assert Order.objects.count() == 5
    assert balances(trader) == {"USD": (100_000_00 - 5_00, 5_00)}


def test_a_batch_over_the_key_order_bucket_is_refused_whole(
    clock, counter, rates, trader
):
    # given 10 orders a minute per user, 4 per key
    rates(orders="10/min", orders_api_key="4/min")
    # when a key places 3, then 2 more, then the user 2 without the key
    by_key = key_client(trader, "ak_trading")
    first = by_key.post(BATCH, batch(3), format="json")
    refused = by_key.post(BATCH, batch(2), format="json")
    by_token = api_client_for(trader).post(BATCH, batch(2), format="json")

    assert first.status_code == 200
    assert usage(first)[:2] == (4, 1)
    assert refused.status_code == 429
    assert message(refused).startswith(
        "Request was throttled: the limit of this API key's order requests is "
        "4 per minute."
    )
    # the user's own order bucket still had room: 3 + 2 of 10
    assert by_token.status_code == 200
    assert usage(by_token)[:2] == (10, 5)
    assert Order.objects.count() == 5


def test_a_batch_larger_than_the_limit_says_to_send_smaller_ones(
    clock, counter, rates, trader
):
    rates(orders="2/min")
    response = api_client_for(trader).post(BATCH, batch(3), format="json")
    assert response.status_code == 429
    assert message(response).startswith(
        "A batch of 3 orders is more than the limit of your account's order "
        "requests (2 per minute): send smaller batches."
    )
    assert not Order.objects.exists()
    assert balances(trader) == {"USD": (100_000_00, 0)}


# --- With real API keys: signed requests -------------------------------------------


def signed(key, secret) -> Callable[..., Any]:
    """A signed request; the timestamp moves a millisecond per request, so that
    two identical requests at the stopped clock are not a replay."""
    client = SignedClient(key, secret)
    stamps = itertools.count(int(time.time() * 1000))

    def send(method: str, path: str, **kwargs):
        return client.request(method, path, timestamp_ms=next(stamps), **kwargs)

    return send


def test_a_real_key_counts_against_its_own_bucket_and_its_users(clock, counter, rates):
    # given 4 requests a minute per user, 2 per key, and a key of the user's
    rates(user="4/min", api_key="2/min")
    user = make_user()
    send = signed(*make_key(user))
    # when the key makes 3 requests, then the user signs in without it
    by_key = [send("GET", ME) for _ in range(3)]
    by_token = api_client_for(user).get(ME)

    assert [r.status_code for r in by_key] == [200, 200, 429]
    assert [usage(r)[:2] for r in by_key] == [(2, 1), (2, 0), (2, 0)]
    assert message(by_key[2]).startswith(
        "Request was throttled: the limit of this API key is 2 per minute."
    )
    assert usage(by_token)[:2] == (4, 1)


def test_a_real_key_places_a_batch_against_its_order_bucket(
    clock, counter, rates, trader
):
    rates(orders_api_key="3/min")
    send = signed(*make_key(trader, scopes=("read", "trade")))
    first = send("POST", BATCH, json=batch(2))
    refused = send("POST", BATCH, json=batch(2))

    assert first.status_code == 200
    assert usage(first)[:2] == (3, 1)
    assert refused.status_code == 429
    assert usage(refused)[:2] == (3, 1)
    assert Order.objects.count() == 2
    assert balances(trader) == {"USD": (100_000_00 - 2_00, 2_00)}


# --- Anonymous requests: per address ----------------------------------------------


def test_anonymous_requests_are_limited_per_address(clock, counter, rates):
    rates(anon="2/min")
    here, there = (
        APIClient(REMOTE_ADDR="203.0.113.7"),
        APIClient(REMOTE_ADDR="203.0.113.8"),
    )
    statuses = [here.get("/api/v1/markets").status_code for _ in range(3)]
    elsewhere = there.get("/api/v1/markets")
    assert statuses == [200, 200, 429]
    assert elsewhere.status_code == 200
    assert usage(elsewhere)[:2] == (2, 1)


def test_a_rate_of_none_is_no_limit(clock, counter, rates):
    rates(user=None)
    client = api_client_for(make_user())
    response = client.get(ME)
    assert response.status_code == 200
    assert "X-RateLimit-Limit" not in response


# --- Rates and the OpenAPI description ------------------------------------------


def test_rates_are_read_as_drf_writes_them():
    assert rate_parse("50/s") == Rate(limit=50, window=1)
    assert rate_parse("1200/min") == Rate(limit=1200, window=60)
    assert rate_parse("10/hour") == Rate(limit=10, window=3600)
    assert rate_parse("1000/day") == Rate(limit=1000, window=86400)
    assert str(rate_parse("600/m")) == "600 per minute"
    for bad in ("lots", "0/min", "10/fortnight", "-1/s"):
        with pytest.raises(ImproperlyConfigured, match="give '<count>/"):
            rate_parse(bad)


def test_the_openapi_documents_the_headers_and_the_429():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/orders/batch"]["post"]
    for status in ("200", "429"):
        headers = operation["responses"][status]["headers"]
        assert headers["X-RateLimit-Limit"]["schema"] == {
            "type": "integer",
            "minimum": 1,
        }
        assert headers["X-RateLimit-Remaining"]["schema"]["minimum"] == 0
        assert headers["X-RateLimit-Reset"]["schema"]["minimum"] == 1
        assert not any(
            header.get("required")
            for name, header in headers.items()
            if name.startswith("X-RateLimit")
        )
    assert operation["responses"]["429"]["headers"]["Retry-After"]["required"]
    assert "headers" not in operation["responses"]["401"]
