"""Matching messages: at most one waits per instrument, and nothing is held back
for long by a lost one or a cache that is down."""

import time
from unittest import mock

import pytest

from trading.models import OrderCommand
from trading.services import order_place
from trading.state import matcher_state
from trading.tests.conftest import BTC
from trading.tests.helpers import match

pytestmark = pytest.mark.django_db

DELAY = "trading.tasks.match_instrument.delay"


@pytest.fixture
def seller(make_trader):
    return make_trader("seller@example.com", btc=BTC)


def _sell(seller, commit, price: int = 1000) -> None:
    with commit(execute=True):  # on-commit hooks run, as after a real commit
        order_place(
            user=seller,
            symbol="BTC-USD",
            side="sell",
            price=str(price),
            quantity="0.01",
        )


def test_one_message_waits_per_instrument_until_a_run_starts(
    btc_usd, seller, django_capture_on_commit_callbacks
):
    with mock.patch(DELAY) as delay:
        for step in range(5):
            _sell(seller, django_capture_on_commit_callbacks, 1000 + step)
        assert delay.call_count == 1
        delay.assert_called_with(btc_usd.pk)
        match(btc_usd)  # the run clears the mark as it starts
        assert not OrderCommand.objects.filter(processed_at__isnull=True).exists()
        _sell(seller, django_capture_on_commit_callbacks, 1010)
        assert delay.call_count == 2
    assert OrderCommand.objects.filter(processed_at__isnull=True).count() == 1


def test_a_lost_message_holds_others_back_only_until_its_mark_expires(
    btc_usd, seller, settings, django_capture_on_commit_callbacks
):
    settings.TRADING_QUEUED_MARK_SECONDS = 1
    with mock.patch(DELAY) as delay:  # the broker loses it: no run ever starts
        _sell(seller, django_capture_on_commit_callbacks)
        _sell(seller, django_capture_on_commit_callbacks, 1001)
        assert delay.call_count == 1
        time.sleep(1.1)
        _sell(seller, django_capture_on_commit_callbacks, 1002)
        assert delay.call_count == 2


def test_with_the_cache_down_every_commit_sends(
    btc_usd, seller, django_capture_on_commit_callbacks
):
    with (
        mock.patch(DELAY) as delay,
        mock.patch("trading.services.matching.cache.add", side_effect=ConnectionError),
    ):
        _sell(seller, django_capture_on_commit_callbacks)
        _sell(seller, django_capture_on_commit_callbacks, 1001)
    assert delay.call_count == 2


def test_a_failed_send_clears_the_mark_so_the_next_commit_tries_again(
    btc_usd, seller, django_capture_on_commit_callbacks
):
    with mock.patch(DELAY, side_effect=ConnectionError("broker down")) as delay:
        _sell(seller, django_capture_on_commit_callbacks)
        _sell(seller, django_capture_on_commit_callbacks, 1001)
    assert delay.call_count == 2


def test_with_shards_each_instrument_goes_to_its_own_matching_queue(
    btc_usd, seller, settings, django_capture_on_commit_callbacks
):
    settings.TRADING_MATCH_SHARDS = 3
    queue = f"matching-{btc_usd.pk % 3}"
    with (
        mock.patch(DELAY) as delay,
        mock.patch("trading.tasks.match_instrument.apply_async") as send,
    ):
        _sell(seller, django_capture_on_commit_callbacks)
    delay.assert_not_called()
    send.assert_called_once_with((btc_usd.pk,), queue=queue)


def test_the_sweeper_re_drives_an_instrument_on_its_own_queue(
    btc_usd, seller, settings, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from trading.services.matching import matching_sweep

    with mock.patch(DELAY):  # lost: no run starts
        _sell(seller, django_capture_on_commit_callbacks)
    settings.TRADING_MATCH_SHARDS = 2
    with mock.patch("trading.tasks.match_instrument.apply_async") as send:
        assert matching_sweep(older_than=timedelta(0)) == [btc_usd.pk]
    send.assert_called_once_with((btc_usd.pk,), queue=f"matching-{btc_usd.pk % 2}")


def test_one_shard_uses_the_default_queue(btc_usd):
    from trading.services.matching import matching_queue

    assert matching_queue(btc_usd.pk) is None


# --- lingering between runs ---------------------------------------------------------


def test_a_worker_that_just_ran_waits_out_the_rest_of_the_linger(btc_usd, settings):
    from trading.services import matching

    settings.TRADING_MATCH_LINGER_MS = 50
    matching.matching_run(instrument_id=btc_usd.pk)  # a run ends now
    with mock.patch.object(matching.time, "sleep") as sleep:
        waited = matching.matching_linger()
    sleep.assert_called_once_with(waited)
    assert 0.03 < waited <= 0.05


def test_an_idle_worker_and_a_zero_linger_never_wait(btc_usd, settings):
    from trading.services import matching

    settings.TRADING_MATCH_LINGER_MS = 50
    matching.matching_run(instrument_id=btc_usd.pk)
    with mock.patch.object(matching.time, "sleep") as sleep:
        settings.TRADING_MATCH_LINGER_MS = 0
        assert matching.matching_linger() == 0.0
        settings.TRADING_MATCH_LINGER_MS = 50
        with mock.patch.object(
            matching.time, "monotonic", return_value=matcher_state.last_run_ended + 0.06
        ):
            assert matching.matching_linger() == 0.0
    sleep.assert_not_called()


def test_a_worker_lingers_before_its_run_but_an_eager_run_does_not(
    btc_usd, seller, settings, django_capture_on_commit_callbacks
):
    """Eager runs happen inside the request that committed: never a wait there."""
    from trading.tasks import match_instrument

    settings.TRADING_MATCH_LINGER_MS = 50
    with mock.patch("trading.tasks.matching_linger") as linger:
        _sell(seller, django_capture_on_commit_callbacks)  # eager: runs at commit
        linger.assert_not_called()
        assert OrderCommand.objects.filter(processed_at__isnull=True).count() == 0
        with django_capture_on_commit_callbacks(execute=False):  # no message
            order_place(
                user=seller,
                symbol="BTC-USD",
                side="sell",
                price="1000",
                quantity="0.01",
            )
        assert match_instrument.run(btc_usd.pk) == 1  # as a worker runs it
        linger.assert_called_once_with()
