"""The matcher's precomputed formats against the formatters they replace: the
same JSON text for random orders, fills and balances at every asset scale, with
negative, zero and large values, in UTC and in another current time zone."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from marketdata import formats, messages
from trading.api.serializers import OrderOutputSerializer
from trading.models import Fill, Instrument, Order
from wallet.models import Asset

SCALES = range(19)  # an asset's decimals: 0..18 (asset_decimals_lte_18)
STEPS = (1, 7, 10, 100, 250, 10**6, 10**8, 10**18)


def _amount(rng: random.Random) -> int:
    return rng.choice(
        (
            0,
            1,
            -1,
            rng.randint(-(10**4), 10**4),
            rng.randint(0, 2**63 - 1),
            -rng.randint(0, 2**63 - 1),
            rng.randint(-(10**30), 10**30),
        )
    )


def _moment(rng: random.Random) -> datetime:
    start = datetime(1999, 1, 1, tzinfo=UTC)
    moment = start + timedelta(seconds=rng.randint(0, 40 * 365 * 86400))
    if rng.random() < 0.5:
        moment = moment.replace(microsecond=rng.randint(0, 999_999))
    if rng.random() < 0.3:  # a value read back in another zone: same instant
        moment = moment.astimezone(ZoneInfo("America/New_York"))
    return moment


def _instrument(rng: random.Random, pk: int) -> Instrument:
    base = Asset(pk=2 * pk, code=f"B{pk}", decimals=rng.choice(SCALES))
    quote = Asset(pk=2 * pk + 1, code=f"Q{pk}", decimals=rng.choice(SCALES))
    return Instrument(
        pk=pk,
        symbol=f"B{pk}-Q{pk}",
        base=base,
        quote=quote,
        tick_size=rng.choice(STEPS),
        lot_size=rng.choice(STEPS),
    )


def _maybe(rng: random.Random, value):
    return None if rng.random() < 0.3 else value


def _order(rng: random.Random, instrument: Instrument, pk: int) -> Order:
    order = Order(
        pk=pk,
        user_id=rng.randint(1, 50),
        instrument=instrument,
        client_order_id=_maybe(rng, f"c-{pk}"),
        side=rng.choice(Order.Side.values),
        type=rng.choice(Order.Type.values),
        time_in_force=rng.choice(Order.TimeInForce.values),
        post_only=rng.random() < 0.5,
        stp=rng.choice(Order.STP.values),
        price_ticks=_maybe(rng, _amount(rng)),
        stop_price_ticks=_maybe(rng, _amount(rng)),
        quantity_lots=_maybe(rng, _amount(rng)),
        quote_quantity=_maybe(rng, _amount(rng)),
        filled_lots=rng.choice((0, _amount(rng))),
        open_lots=_amount(rng),
        filled_quote=_amount(rng),
        fees_paid=_amount(rng),
        fee_policy=rng.choice(("quote", "received")),
        status=rng.choice(Order.Status.values),
        reason=rng.choice(("", "user", "oco", "post_only_would_take")),
        stop_triggered=rng.random() < 0.5,
        expire_at=_maybe(rng, _moment(rng)),
        trail_amount_ticks=_maybe(rng, _amount(rng)),
        trail_bps=_maybe(rng, rng.randint(1, 9999)),
        oco_partner_id=_maybe(rng, pk + 1),
        created_at=_moment(rng),
        updated_at=_moment(rng),
    )
    if order.filled_lots and not order.filled_lots * instrument.lot_size:
        order.filled_lots = 0  # pragma: no cover - a lot size is never 0
    return order


def _fill(rng: random.Random, instrument: Instrument, pk: int) -> Fill:
    fee_asset = rng.choice((instrument.base, instrument.quote))
    return Fill(
        pk=pk,
        trade_id=rng.randint(1, 10**12),
        order_id=rng.randint(1, 10**12),
        user_id=rng.randint(1, 50),
        instrument=instrument,
        side=rng.choice(Order.Side.values),
        liquidity=rng.choice(Fill.Liquidity.values),
        price_ticks=_amount(rng),
        quantity_lots=_amount(rng),
        quote_amount=_amount(rng),
        fee=_amount(rng),
        fee_asset=fee_asset,
        created_at=_moment(rng),
    )


@pytest.mark.parametrize("zone", [None, "Asia/Kolkata", "America/Los_Angeles"])
def test_order_messages_are_the_serializers_text(zone):
    """Given 3,000 random orders over 60 instruments of random scales, when
    formatted both ways (in the current time zone the request may have
    activated), then every order's JSON text is the same."""
    rng = random.Random(24 if zone is None else len(zone))
    represent = OrderOutputSerializer().to_representation
    checked = 0
    with timezone.override(ZoneInfo(zone) if zone else UTC):
        for index in range(60):
            instrument = _instrument(rng, index + 1)
            orders = [_order(rng, instrument, 50 * index + k) for k in range(50)]
            new = formats.order_messages(instrument, orders)
            for order, message in zip(orders, new, strict=True):
                assert messages.dumps(message) == messages.dumps(represent(order))
                checked += 1
    assert checked == 3000


def test_fill_messages_are_the_old_text():
    """Given 3,000 random fills (fees in the base or the quote), then the
    precomputed fill message is `messages.fill`'s text."""
    rng = random.Random(7)
    for index in range(60):
        instrument = _instrument(rng, index + 1)
        fmt = formats.formats_for(instrument)
        for k in range(50):
            fill = _fill(rng, instrument, 50 * index + k)
            seq = rng.randint(0, 10**12)
            assert messages.dumps(formats.fill_message(fmt, fill, seq)) == (
                messages.dumps(messages.fill(instrument, fill, seq))
            )


def test_balance_messages_are_the_old_text():
    """Every scale, negative, zero and past-64-bit balances."""
    rng = random.Random(11)
    for decimals in SCALES:
        asset = Asset(pk=decimals + 1, code=f"A{decimals}", decimals=decimals)
        for _ in range(200):
            available, held = _amount(rng), _amount(rng)
            assert messages.dumps(
                formats.balance_message(asset.code, decimals, available, held)
            ) == messages.dumps(messages.balance(asset, available, held))


def test_units_formatter_edges():
    """The cases worth reading: padding, signs, steps and whole-unit assets."""
    two = formats.units_formatter(2)
    assert [two(v) for v in (0, 5, -5, 1250, -1250, 100)] == [
        "0.00",
        "0.05",
        "-0.05",
        "12.50",
        "-12.50",
        "1.00",
    ]
    assert formats.units_formatter(0)(-42) == "-42"
    assert formats.units_formatter(0, 100)(3) == "300"
    assert formats.units_formatter(8, 10**6)(3) == "0.03000000"
    assert formats.units_formatter(18)(2**64) == "18.446744073709551616"


def test_formats_follow_a_changed_instrument():
    """The cache is keyed by the scales: a changed step is not formatted with
    the old one."""
    rng = random.Random(3)
    instrument = _instrument(rng, 999)
    instrument.tick_size = 100
    assert (
        formats.formats_for(instrument).price(7)
        == messages.levels(instrument, [(7, 0)])[0][0]
    )
    instrument.tick_size = 5
    assert (
        formats.formats_for(instrument).price(7)
        == messages.levels(instrument, [(7, 0)])[0][0]
    )
