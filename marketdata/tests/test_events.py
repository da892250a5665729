"""marketdata reacts to trading's and the wallet's domain events (wired in
config/subscribers.py): it writes in the cause's transaction, so a rollback
leaves nothing, and broadcasts only after commit."""

from unittest import mock

import pytest

from config import events
from config.metrics import matching_run_counted
from marketdata.events import MarketFrameReady, UserEventsSaved
from marketdata.models import BookSnapshot, Candle, UserEvent
from marketdata.publish import market_frame_send, user_events_send
from marketdata.services import balance_events_record, market_run_record
from marketdata.tests.helpers import make_market, match, place
from notifications.handlers import matching_run_notify
from trading.events import MatchingRunApplied
from trading.models import Trade
from trading.services.alerts import price_alerts_check
from trading.state import matcher_state
from wallet.events import BalancesChanged
from wallet.services.alerts import balance_alerts_check

pytestmark = pytest.mark.django_db

SEND = "marketdata.publish.group_send"


def test_each_event_has_its_subscribers_at_its_moment():
    wired = {
        event_type: (
            events.subscribers(event_type, events.IN_TRANSACTION),
            events.subscribers(event_type, events.ON_COMMIT),
        )
        for event_type in (
            MatchingRunApplied,
            BalancesChanged,
            MarketFrameReady,
            UserEventsSaved,
        )
    }
    assert wired == {
        # after commit: the run's trades and settlements counted (config/metrics.py)
        MatchingRunApplied: (
            (market_run_record, price_alerts_check, matching_run_notify),
            (matching_run_counted,),
        ),
        BalancesChanged: ((balance_events_record, balance_alerts_check), ()),
        MarketFrameReady: ((), (market_frame_send,)),
        UserEventsSaved: ((), (user_events_send,)),
    }


def test_a_run_writes_in_its_transaction_and_broadcasts_after_commit(
    django_capture_on_commit_callbacks,
):
    instrument, buyer, seller = make_market()
    sell = place(seller, "sell", "100", "0.5")
    buy = place(buyer, "buy", "100", "0.2")
    UserEvent.objects.all().delete()
    with mock.patch(SEND) as send:
        with django_capture_on_commit_callbacks(execute=True):  # then "commits"
            match(instrument)
            # written with the run, nothing sent yet
            assert Candle.objects.filter(instrument=instrument).count() == 7
            assert BookSnapshot.objects.get(instrument=instrument).asks == [[100, 30]]
            assert sorted(UserEvent.objects.values_list("user_id", "type")) == sorted(
                (user.pk, kind)
                for user in (buyer, seller)
                # notifications' item: the buy filled, the sell partially
                for kind in ("balance", "balance", "order", "fill", "notification")
            )
            send.assert_not_called()
    sent: dict[str, list] = {}
    for call in send.call_args_list:
        sent.setdefault(call.args[0], []).append(call.args[1])
    assert sorted(sent) == sorted(
        ["market.BTC-USD", f"user.{seller.pk}", f"user.{buyer.pk}"]
    )
    for user in (buyer, seller):  # the posting's balances, the run's order and fill
        stream = [event for m in sent[f"user.{user.pk}"] for event in m["events"]]
        assert len(stream) == 5  # and the notification
    (frame,) = sent["market.BTC-USD"]
    # the sell rests (a level, seq 1), the buy trades (seq 2) and moves it (3)
    assert (frame["type"], frame["first"], frame["last"]) == ("market.frame", 1, 3)
    assert '"type":"trade"' in frame["body"] and '"type":"ticker"' in frame["body"]
    orders = {
        (row.data["order"]["id"], row.data["order"]["status"])
        for row in UserEvent.objects.filter(type="order")
    }
    assert orders == {(sell.pk, "partially_filled"), (buy.pk, "filled")}


def test_a_rolled_back_run_leaves_no_market_data_and_sends_nothing(
    django_capture_on_commit_callbacks,
):
    instrument, buyer, seller = make_market()
    place(seller, "sell", "100", "0.5")
    place(buyer, "buy", "100", "0.2")
    UserEvent.objects.all().delete()

    def crash(instrument):
        raise RuntimeError("crash before commit")

    matcher_state.fault_hook = crash
    with (
        mock.patch(SEND) as send,
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
    ):
        match(instrument)
    assert callbacks == []
    send.assert_not_called()
    assert not Trade.objects.exists()
    assert not Candle.objects.exists()
    assert not BookSnapshot.objects.exists()
    assert not UserEvent.objects.exists()

    matcher_state.fault_hook = None
    match(instrument)  # the next run redoes it whole
    assert Trade.objects.count() == 1
    assert UserEvent.objects.filter(type="fill").count() == 2
