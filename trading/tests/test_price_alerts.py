"""Price alerts through real placement and matching: which trade fires which
alert, exactly once; repeating alerts rest for their cool-down."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from config.domain_errors import ApplicationError, Conflict, NotFound
from config.tests.recording import recorded
from kyc.testing import make_verified_user
from trading.events import MatchingRunApplied, PriceAlertTriggered
from trading.models import PriceAlert, Trade
from trading.services import alerts as alert_services
from trading.services import (
    order_place,
    price_alert_create,
    price_alert_delete,
    price_alert_update,
)
from trading.services.alerts import price_alerts_check
from trading.tests.helpers import assert_ledger_ok, match

pytestmark = pytest.mark.django_db


@pytest.fixture
def watcher():
    return make_verified_user(email="watcher@example.com")


def _trade(instrument, buyer, seller, price: str, quantity: str = "0.01") -> Trade:
    """One trade at `price`: a resting sell, then a buy that takes it (two runs)."""
    order_place(
        user=seller, symbol="BTC-USD", side="sell", price=price, quantity=quantity
    )
    match(instrument)
    order_place(
        user=buyer, symbol="BTC-USD", side="buy", price=price, quantity=quantity
    )
    match(instrument)
    return Trade.objects.order_by("-seq")[0]


def _alert(user, instrument, condition: str, price: str, **options) -> PriceAlert:
    return price_alert_create(
        user=user, instrument=instrument, condition=condition, price=price, **options
    )


def test_an_alert_fires_once_on_the_trade_that_crosses_it(market, watcher):
    instrument, buyer, seller = market
    alert = _alert(watcher, instrument, "above", "95000")

    with recorded(PriceAlertTriggered) as seen:
        _trade(instrument, buyer, seller, "94999")
        assert seen == []
        crossing = _trade(instrument, buyer, seller, "95000")  # exactly X: fires
        _trade(instrument, buyer, seller, "96000")  # later: one-shot is spent

    assert seen == [
        PriceAlertTriggered(
            alert_id=alert.pk,
            user_id=watcher.pk,
            symbol="BTC-USD",
            condition="above",
            threshold="95000.00",
            last_price="95000.00",
            trade_id=crossing.pk,
            repeating=False,
        )
    ]
    alert.refresh_from_db()
    assert (alert.active, alert.triggered_count, alert.last_trade_id) == (
        False,
        1,
        crossing.pk,
    )
    assert alert.cooldown_until is None
    assert_ledger_ok()


def test_below_fires_at_exactly_x_and_not_above_it(market, watcher):
    instrument, buyer, seller = market
    at = _alert(watcher, instrument, "below", "95000")
    under = _alert(watcher, instrument, "below", "94999")

    with recorded(PriceAlertTriggered) as seen:
        trade = _trade(instrument, buyer, seller, "95000")

    assert [(e.alert_id, e.trade_id, e.last_price) for e in seen] == [
        (at.pk, trade.pk, "95000.00")
    ]
    under.refresh_from_db()
    assert (under.active, under.triggered_count) == (True, 0)
    assert_ledger_ok()


def test_several_alerts_in_one_run_each_get_their_first_crossing_trade(market, watcher):
    instrument, buyer, seller = market
    for price in ("95000", "95100", "95200"):
        order_place(
            user=seller, symbol="BTC-USD", side="sell", price=price, quantity="0.1"
        )
    match(instrument)
    above_low = _alert(watcher, instrument, "above", "95000")
    above_mid = _alert(watcher, instrument, "above", "95100")
    above_out = _alert(watcher, instrument, "above", "95300")
    below_low = _alert(watcher, instrument, "below", "95000")
    below_out = _alert(watcher, instrument, "below", "94900")
    other = make_verified_user(email="other@example.com")
    others = _alert(other, instrument, "above", "95200")

    order_place(user=buyer, symbol="BTC-USD", side="buy", price="95200", quantity="0.3")
    with recorded(PriceAlertTriggered) as seen:
        match(instrument)  # one run, three trades: 95000, 95100, 95200

    trades = {t.price_ticks: t.pk for t in Trade.objects.all()}
    assert len(trades) == 3
    assert {(e.alert_id, e.user_id, e.trade_id) for e in seen} == {
        (above_low.pk, watcher.pk, trades[95000]),
        (above_mid.pk, watcher.pk, trades[95100]),
        (below_low.pk, watcher.pk, trades[95000]),
        (others.pk, other.pk, trades[95200]),
    }
    assert len(seen) == 4
    assert set(PriceAlert.objects.filter(active=True).values_list("pk", flat=True)) == {
        above_out.pk,
        below_out.pk,
    }
    assert_ledger_ok()


def test_a_repeating_alert_rests_for_its_cooldown(market, watcher):
    instrument, buyer, seller = market
    alert = _alert(
        watcher, instrument, "above", "95000", repeating=True, cooldown_seconds=300
    )
    start = timezone.now()

    with recorded(PriceAlertTriggered) as seen:
        with time_machine.travel(start, tick=False):
            first = _trade(instrument, buyer, seller, "95000")
            alert.refresh_from_db()
            assert alert.active is True
            assert alert.cooldown_until == start + timedelta(seconds=300)
        with time_machine.travel(start + timedelta(seconds=299), tick=False):
            _trade(instrument, buyer, seller, "95500")  # resting: no firing
        with time_machine.travel(start + timedelta(seconds=300), tick=False):
            again = _trade(instrument, buyer, seller, "95001")

    assert [(e.trade_id, e.last_price, e.repeating) for e in seen] == [
        (first.pk, "95000.00", True),
        (again.pk, "95001.00", True),
    ]
    alert.refresh_from_db()
    assert (alert.active, alert.triggered_count, alert.last_trade_id) == (
        True,
        2,
        again.pk,
    )
    assert_ledger_ok()


def test_a_run_that_fires_nothing_reads_the_alerts_once(
    market, watcher, django_assert_num_queries
):
    instrument, buyer, seller = market
    _alert(watcher, instrument, "above", "99000")
    order_place(
        user=seller, symbol="BTC-USD", side="sell", price="95000", quantity="0.01"
    )
    match(instrument)
    order_place(
        user=buyer, symbol="BTC-USD", side="buy", price="95000", quantity="0.01"
    )

    with recorded(MatchingRunApplied) as runs:
        match(instrument)
    (run,) = runs
    with django_assert_num_queries(1):
        price_alerts_check(run)


def test_validation_names_the_field(market, watcher):
    instrument, _, _ = market
    with pytest.raises(ApplicationError) as off_tick:
        _alert(watcher, instrument, "above", "95000.50")
    assert off_tick.value.code == "invalid_tick"
    assert list(off_tick.value.details) == ["price"]
    with pytest.raises(ApplicationError) as condition:
        _alert(watcher, instrument, "sideways", "95000")
    assert list(condition.value.details) == ["condition"]
    with pytest.raises(ApplicationError) as cooldown:
        _alert(
            watcher, instrument, "above", "95000", repeating=True, cooldown_seconds=5
        )
    assert list(cooldown.value.details) == ["cooldown_seconds"]
    with pytest.raises(ApplicationError) as one_shot:
        _alert(watcher, instrument, "above", "95000", cooldown_seconds=600)
    assert list(one_shot.value.details) == ["cooldown_seconds"]
    assert PriceAlert.objects.count() == 0


def test_the_active_limit_counts_only_active_alerts(market, watcher, monkeypatch):
    instrument, _, _ = market
    monkeypatch.setattr(alert_services, "MAX_ACTIVE_PER_USER", 2)
    first = _alert(watcher, instrument, "above", "95000")
    _alert(watcher, instrument, "below", "90000")
    with pytest.raises(Conflict) as full:
        _alert(watcher, instrument, "above", "96000")
    assert full.value.code == "too_many_price_alerts"
    price_alert_update(user=watcher, alert_id=first.pk, active=False)
    third = _alert(watcher, instrument, "above", "96000")
    with pytest.raises(Conflict):
        price_alert_update(user=watcher, alert_id=first.pk, active=True)
    price_alert_delete(user=watcher, alert_id=third.pk)
    again = price_alert_update(user=watcher, alert_id=first.pk, active=True)
    assert again.active is True
    assert PriceAlert.objects.filter(user=watcher, active=True).count() == 2


def test_edit_and_delete_only_ones_own(market, watcher):
    instrument, _, _ = market
    alert = _alert(watcher, instrument, "above", "95000")
    other = make_verified_user(email="other@example.com")
    with pytest.raises(NotFound):
        price_alert_update(user=other, alert_id=alert.pk, price="1")
    with pytest.raises(NotFound):
        price_alert_delete(user=other, alert_id=alert.pk)

    edited = price_alert_update(
        user=watcher,
        alert_id=alert.pk,
        condition="below",
        price="90000",
        repeating=True,
    )
    assert (edited.condition, edited.price_ticks, edited.repeating) == (
        "below",
        90000,
        True,
    )
    assert edited.cooldown_seconds == alert_services.MIN_COOLDOWN_SECONDS
    edited = price_alert_update(user=watcher, alert_id=alert.pk, repeating=False)
    assert edited.cooldown_seconds == 0
    price_alert_delete(user=watcher, alert_id=alert.pk)
    assert not PriceAlert.objects.exists()


def test_a_crashed_run_fires_nothing_and_its_redo_fires_once(market, watcher):
    """The firing is part of the run's transaction: a run that crashes before
    commit rolls it back with the trade, and the run that redoes the trade fires
    the alert exactly once."""
    from trading.services import matching
    from trading.state import matcher_state

    instrument, buyer, seller = market
    alert = _alert(watcher, instrument, "above", "95000")
    order_place(
        user=seller, symbol="BTC-USD", side="sell", price="95000", quantity="0.01"
    )
    match(instrument)
    order_place(
        user=buyer, symbol="BTC-USD", side="buy", price="95000", quantity="0.01"
    )

    def crash(instrument):
        raise RuntimeError("crash before commit")

    matcher_state.fault_hook = crash
    try:
        with pytest.raises(RuntimeError):
            matching.matching_run(instrument_id=instrument.pk)
    finally:
        matcher_state.fault_hook = None
    alert.refresh_from_db()
    assert (alert.active, alert.triggered_count, Trade.objects.count()) == (True, 0, 0)

    with recorded(PriceAlertTriggered) as seen:
        match(instrument)
        match(instrument)
    trade = Trade.objects.get()
    assert [(e.alert_id, e.trade_id) for e in seen] == [(alert.pk, trade.pk)]
    alert.refresh_from_db()
    assert (alert.active, alert.triggered_count) == (False, 1)
    assert_ledger_ok()
