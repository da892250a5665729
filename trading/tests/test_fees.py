"""Fee policies (trading/fees.py): a whole-unit instrument through the API, to the
unit, and a property over random instruments and fills through the real services.

RELIANCE-INR style: RELIANCE has 0 decimals, INR 2; tick 0.05 INR (5 units), lot
1 share, 10 bps maker and taker, the `quote` policy (its default): buyers pay
notional + fee in INR and receive every share; sellers receive notional - fee.
"""

from __future__ import annotations

from collections import defaultdict

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from accounts.testing import api_client_for
from config.errors import ApplicationError
from kyc.testing import make_verified_user
from trading.fees import BPS, QUOTE, RECEIVED
from trading.models import FeeOverride, Fill, Instrument, Order, Trade
from trading.services import instrument_create, order_amend, order_place
from trading.state import matcher_state
from trading.tests.helpers import assert_ledger_ok, balances, fund, match
from trading.verification import check_order_holds
from wallet.models import Account, Entry, Journal
from wallet.tests.helpers import make_asset

pytestmark = pytest.mark.django_db


def _fees_balances() -> dict[str, int]:
    return {
        account.asset.code: account.balance
        for account in Account.objects.filter(kind=Account.Kind.FEES)
        if account.balance
    }


# --- The whole-unit scenario, through the API ----------------------------------------


@pytest.fixture
def reliance(django_capture_on_commit_callbacks):
    inr = make_asset("INR", 2)
    shares = make_asset("RELIANCE", 0, kind="security")
    instrument = instrument_create(
        symbol="RELIANCE-INR", base=shares, quote=inr, tick_size=5, lot_size=1,
        maker_fee_bps=10, taker_fee_bps=10, price_band_percent=0,
    )  # fmt: skip
    assert instrument.fee_policy == QUOTE  # the default for a 0-decimal base
    users = {
        "seller": make_verified_user(email="seller@example.com"),
        "b1": make_verified_user(email="b1@example.com"),
        "b2": make_verified_user(email="b2@example.com"),
    }
    fund(users["seller"], shares, 20)
    fund(users["b1"], inr, 20_000_00)
    fund(users["b2"], inr, 30_000_00)
    clients = {name: api_client_for(user) for name, user in users.items()}

    def call(name: str, method: str, url: str, body=None, status: int = 200):
        with django_capture_on_commit_callbacks(execute=True):  # the matcher runs
            response = getattr(clients[name], method)(url, body, format="json")
        assert response.status_code == status, response.content
        return response.json()

    def place(name: str, **body) -> dict:
        body = {"symbol": "RELIANCE-INR", **body}
        return call(name, "post", "/api/v1/orders", body, status=201)

    return users, place, call


def test_a_whole_unit_instrument_charges_fees_in_quote_to_the_unit(reliance):
    users, place, call = reliance
    seller, b1, b2 = users["seller"], users["b1"], users["b2"]

    # 1. One share at 2,500.00: the buyer pays 2,500.00 + 2.50 and gets 1 share.
    place("seller", side="sell", price="2500.00", quantity="1")
    bid = place("b1", side="buy", price="2500.00", quantity="1")
    assert balances(b1) == {"INR": (20_000_00 - 2_500_00 - 2_50, 0), "RELIANCE": (1, 0)}
    assert balances(seller) == {"RELIANCE": (19, 0), "INR": (2_500_00 - 2_50, 0)}
    assert _fees_balances() == {"INR": 2 * 2_50}
    order = call("b1", "get", f"/api/v1/orders/{bid['id']}")
    assert (order["status"], order["fees_paid"], order["fee_asset"]) == (
        "filled",
        "2.50",
        "INR",
    )
    (fill,) = call("b1", "get", "/api/v1/fills")["results"]
    assert (fill["quantity"], fill["quote_amount"], fill["fee"], fill["fee_asset"]) == (
        "1",
        "2500.00",
        "2.50",
        "INR",
    )

    # 2. Ten shares at 2,501.35 (the buyer rests, maker): 25,013.50 INR, 10 bps =
    # 25.0135 -> 25.02 INR each side. The hold covered notional + that fee.
    resting = place("b2", side="buy", price="2501.35", quantity="10")
    assert balances(b2) == {"INR": (30_000_00 - 25_038_52, 25_038_52)}
    place("seller", side="sell", price="2501.00", quantity="10")
    assert balances(b2) == {"INR": (30_000_00 - 25_038_52, 0), "RELIANCE": (10, 0)}
    assert balances(seller) == {
        "RELIANCE": (9, 0),
        "INR": (2_500_00 - 2_50 + 25_013_50 - 25_02, 0),
    }
    assert _fees_balances() == {"INR": 2 * 2_50 + 2 * 25_02}
    trade = Trade.objects.get(maker_order_id=resting["id"])
    assert (trade.buyer_fee, trade.seller_fee, trade.buyer_fee_asset.code) == (
        25_02,
        25_02,
        "INR",
    )

    # 3. A market buy with a budget of exactly what 3 shares cost with the fee:
    # 1 at 2,500.00 and 2 at 2,500.05 = 7,500.10, fees 2.50 + 5.01 (0.010001 ->
    # its order's 10 bps of 7,500.10 = 7.5001 -> 7.51 in all) = 7,507.61.
    place("seller", side="sell", price="2500.00", quantity="1")
    place("seller", side="sell", price="2500.05", quantity="2")
    market = place("b1", side="buy", type="market", quote_quantity="7507.61")
    assert balances(b1) == {
        "INR": (20_000_00 - 2_502_50 - 7_507_61, 0),
        "RELIANCE": (4, 0),
    }
    order = call("b1", "get", f"/api/v1/orders/{market['id']}")
    assert (order["filled_quantity"], order["filled_quote"], order["fees_paid"]) == (
        "3",
        "7500.10",
        "7.51",
    )
    assert balances(seller) == {
        "RELIANCE": (6, 0),
        "INR": (2_500_00 - 2_50 + 25_013_50 - 25_02 + 7_500_10 - 2_50 - 5_01, 0),
    }
    assert _fees_balances() == {"INR": 2 * 2_50 + 2 * 25_02 + 7_51 + 2_50 + 5_01}
    assert_ledger_ok()

    # 4. The portfolio: every fee in the cost; all shares received.
    # b1: (2,502.50 + 7,507.61) / 4 = 2,502.5275 -> 2,502.53
    rows = {
        row["asset"]: row
        for row in call("b1", "get", "/api/v1/portfolio?quote=INR")["assets"]
    }
    assert (rows["RELIANCE"]["quantity"], rows["RELIANCE"]["average_cost"]) == (
        "4",
        "2502.53",
    )
    # b2: 25,038.52 / 10 = 2,503.852 -> 2,503.85
    rows = {
        row["asset"]: row
        for row in call("b2", "get", "/api/v1/portfolio?quote=INR")["assets"]
    }
    (position,) = rows["RELIANCE"]["positions"]
    assert (position["quantity"], position["cost_basis"]) == ("10", "25038.52")
    assert rows["RELIANCE"]["average_cost"] == "2503.85"


def test_the_instruments_api_names_the_fee_policy(reliance):
    _, _, call = reliance
    (market,) = call("b1", "get", "/api/v1/markets")["results"]
    assert (market["symbol"], market["fee_policy"]) == ("RELIANCE-INR", "quote")


def test_a_buys_fees_together_stay_within_what_its_hold_reserved(make_trader):
    """Ten fills of 0.05 USD at 10 bps would each round 0.00005 up to 0.01; the
    order reserved 0.01 (its rate on 0.50, rounded up once), and that is what its
    fees come to: the first fill pays it, the others nothing."""
    usd = make_asset("USD", 2)
    xyz = make_asset("XYZ", 0, kind="security")
    instrument = instrument_create(
        symbol="XYZ-USD", base=xyz, quote=usd, tick_size=1, lot_size=1,
        maker_fee_bps=10, taker_fee_bps=10, price_band_percent=0,
    )  # fmt: skip
    buyer = make_trader("buyer@example.com", usd=1_00)
    seller = make_trader("seller@example.com")
    fund(seller, xyz, 10)
    for _ in range(10):
        order_place(
            user=seller, symbol="XYZ-USD", side="sell", price="0.05", quantity="1"
        )
    match(instrument)
    bid, _ = order_place(
        user=buyer, symbol="XYZ-USD", side="buy", price="0.05", quantity="10"
    )
    assert bid.hold.amount == 50 + 1
    match(instrument)
    assert [fill.fee for fill in Fill.objects.filter(order=bid).order_by("id")] == [
        1
    ] + [0] * 9
    assert balances(buyer) == {"USD": (1_00 - 51, 0), "XYZ": (10, 0)}
    # each seller's fill pays its own: 0.00005 -> 0.01, capped by its value 0.05
    assert _fees_balances() == {"USD": 1 + 10 * 1}
    assert_ledger_ok()


def test_an_amended_quote_policy_buy_holds_its_new_fee(make_trader):
    """An amend reserves by the same rule as a placement: notional + the most
    fee, counting what the order already bought and paid."""
    usd = make_asset("USD", 2)
    xyz = make_asset("XYZ", 0, kind="security")
    instrument = instrument_create(
        symbol="XYZ-USD", base=xyz, quote=usd, tick_size=5, lot_size=1,
        maker_fee_bps=10, taker_fee_bps=25, price_band_percent=0,
    )  # fmt: skip
    buyer = make_trader("buyer@example.com", usd=100_000_00)
    seller = make_trader("seller@example.com")
    fund(seller, xyz, 10)
    bid, _ = order_place(
        user=buyer, symbol="XYZ-USD", side="buy", price="100.00", quantity="4"
    )
    match(instrument)
    assert bid.hold.amount == 400_00 + 100  # 25 bps (its higher rate) of 400.00
    order_place(
        user=seller, symbol="XYZ-USD", side="sell", price="100.00", quantity="1"
    )
    match(instrument)  # 100.00 + 0.10 (maker) paid; 3 x 100.00 + 0.75 - 0.10 kept
    bid.refresh_from_db()
    bid.hold.refresh_from_db()
    assert (bid.filled_quote, bid.fees_paid) == (100_00, 10)
    assert bid.hold.remaining_amount == 300_00 + 100 - 10
    order_amend(user=buyer, order_id=bid.pk, price="120.00", quantity="5")
    match(instrument)
    bid.hold.refresh_from_db()
    # 4 more at 120.00 = 480.00; its fees in all at most 25 bps of 580.00 = 1.45
    assert bid.hold.remaining_amount == 480_00 + 145 - 10
    assert_ledger_ok()
    order_place(
        user=seller, symbol="XYZ-USD", side="sell", price="120.00", quantity="4"
    )
    match(instrument)
    assert balances(buyer) == {
        "USD": (100_000_00 - 100_10 - 480_00 - 48, 0),  # 10 bps of 480.00 = 0.48
        "XYZ": (5, 0),
    }
    assert_ledger_ok()


# --- The property: random instruments, random fills ----------------------------------


@st.composite
def instruments(draw):
    """Steps valid by DESIGN's rule: tick x lot a whole number of quote units."""
    decimals = draw(st.integers(0, 8))
    # lots of one or two smallest units often: where a rounded-up fee bites
    lot = draw(st.sampled_from([1, 2]) | st.integers(1, 20)) * 10 ** draw(
        st.just(0) | st.integers(0, decimals + 1)
    )
    scale = 10**decimals
    from math import gcd

    tick = draw(st.integers(1, 50)) * (scale // gcd(lot, scale))
    rates = st.integers(0, 1000) | st.sampled_from([0, 1, 10, 1000])
    return {
        "decimals": decimals,
        "quote_decimals": draw(st.integers(0, 8)),
        "tick_size": tick,
        "lot_size": lot,
        "maker_fee_bps": draw(rates),
        "taker_fee_bps": draw(rates),
        "fee_policy": draw(st.sampled_from([QUOTE, RECEIVED, None])),
        # (maker, taker) override per trader, or none; 0 included
        "overrides": draw(
            st.lists(st.none() | st.tuples(rates, rates), min_size=3, max_size=3)
        ),
    }


orders = st.lists(
    st.fixed_dictionaries(
        {
            "trader": st.integers(0, 2),
            "side": st.sampled_from(["buy", "sell"]),
            "market": st.sampled_from([False, False, True]),
            "price_ticks": st.integers(9, 12),  # close together: orders cross
            "lots": st.integers(1, 5),
            "budget": st.none() | st.integers(1, 10**6),  # market buy, quote units
        }
    ),
    min_size=3,
    max_size=8,
)


class _Rollback(Exception):
    pass


def _forget_process_caches() -> None:
    """An example's rows are rolled back: nothing cached from them may stay."""
    matcher_state.reset()


@pytest.fixture
def traders():
    return [make_verified_user(email=f"t{n}@example.com") for n in range(3)]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=instruments(), flow=orders)
def test_fees_never_take_the_purchase_and_the_ledger_holds(traders, spec, flow):
    _forget_process_caches()
    try:
        with transaction.atomic():
            _run_example(traders, spec, flow)
            raise _Rollback
    except _Rollback:
        pass
    finally:
        _forget_process_caches()


def _run_example(traders, spec: dict, flow: list[dict]) -> None:
    base = make_asset("BAS", spec["decimals"], kind="crypto")
    quote = make_asset("QUO", spec["quote_decimals"])
    try:
        instrument = instrument_create(
            symbol="BAS-QUO",
            base=base,
            quote=quote,
            tick_size=spec["tick_size"],
            lot_size=spec["lot_size"],
            maker_fee_bps=spec["maker_fee_bps"],
            taker_fee_bps=spec["taker_fee_bps"],
            price_band_percent=0,
            fee_policy=spec["fee_policy"],
        )
    except ApplicationError as exc:
        # the one refusal: a `received` fee could take a lot of a single unit
        assert (spec["fee_policy"], spec["lot_size"]) == (RECEIVED, 1)
        assert exc.details.keys() == {"fee_policy"}
        event("received refused for a lot of one unit")
        return
    if spec["fee_policy"] is None:
        whole = spec["decimals"] == 0 or spec["lot_size"] == 1
        assert instrument.fee_policy == (QUOTE if whole else RECEIVED)
    for trader, override in zip(traders, spec["overrides"], strict=True):
        if override is not None:
            FeeOverride.objects.create(
                user=trader, maker_fee_bps=override[0], taker_fee_bps=override[1]
            )
        fund(trader, base, 10**13)
    # the third trader's quote is short: its buys may not fit, and its market
    # buys without a budget spend what it holds and no more
    scarce = traders[2]
    fund(traders[0], quote, 10**16)
    fund(traders[1], quote, 10**16)
    fund(scarce, quote, 37 * instrument.notional_per_tick_lot + 3)
    # then two orders that take whatever rests (and each other, if nothing does)
    sweep = {"market": False, "lots": 5, "budget": None}
    flow = [
        *flow,
        {**sweep, "trader": 0, "side": "buy", "price_ticks": 12},
        {**sweep, "trader": 1, "side": "sell", "price_ticks": 9},
    ]
    for step in flow:
        _place(instrument, traders[step["trader"]], step)
        match(instrument)
        assert check_order_holds() == []  # every open order holds what it needs
    assert_ledger_ok()  # and every journal sums to zero, balances match entries
    _check_fills(instrument)
    trades = Trade.objects.filter(instrument=instrument).count()
    event(f"{instrument.fee_policy}, trades: {min(trades, 3)}{'+' * (trades > 3)}")
    for asset in (base, quote):
        assert balances(scarce).get(asset.code, (0, 0))[0] >= 0


def _place(instrument: Instrument, user, step: dict) -> None:
    fields = {"side": step["side"]}
    quantity = step["lots"] * instrument.lot_size
    fields["quantity"] = _decimal(quantity, instrument.base.decimals)
    if step["market"]:
        fields["type"] = "market"
        if step["side"] == "buy" and step["budget"] is not None:
            del fields["quantity"]
            fields["quote_quantity"] = _decimal(
                step["budget"] * instrument.notional_per_tick_lot,
                instrument.quote.decimals,
            )
    else:
        price = step["price_ticks"] * instrument.tick_size
        fields["price"] = _decimal(price, instrument.quote.decimals)
    try:
        order_place(user=user, symbol=instrument.symbol, **fields)
    except ApplicationError as exc:  # e.g. a market buy's budget under one lot
        assert exc.code in {"insufficient_funds", "invalid_order"}, exc.message


def _decimal(units: int, decimals: int) -> str:
    from wallet.money import format_units

    return format_units(units, decimals)


def _check_fills(instrument: Instrument) -> None:
    base, quote = instrument.base, instrument.quote
    fills = Fill.objects.filter(instrument=instrument).select_related("order")
    for fill in fills:
        order = fill.order
        quantity = fill.quantity_lots * instrument.lot_size
        value = fill.quote_amount
        bps = (
            order.taker_fee_bps
            if fill.liquidity == Fill.Liquidity.TAKER
            else order.maker_fee_bps
        )
        if fill.side == Order.Side.BUY and order.fee_policy == RECEIVED:
            assert fill.fee_asset_id == base.pk
            assert fill.fee * BPS <= quantity * bps + BPS  # rate x value + 1 unit
            assert fill.fee < quantity  # the buyer of a lot receives some of it
        else:
            assert fill.fee_asset_id == quote.pk
            assert fill.fee * BPS <= value * bps + BPS
            assert fill.fee <= value  # never more than the value received
        if bps == 0:
            assert fill.fee == 0
        elif (
            fill.fee * BPS < (quantity if fill.fee_asset_id == base.pk else value) * bps
        ):
            event("a fee under rate x value: the order's cap")
    for trade in Trade.objects.filter(instrument=instrument):
        journal = Journal.objects.get(
            kind=Journal.Kind.TRADE, reference=f"trade:{instrument.pk}:{trade.seq}"
        )
        sums: dict[int, int] = defaultdict(int)
        for entry in Entry.objects.filter(journal=journal).select_related("account"):
            sums[entry.account.asset_id] += entry.amount
        assert set(sums.values()) == {0}
        # what the buyer received of the base: the lot(s), less a base fee
        buyer_got = sum(
            entry.amount
            for entry in Entry.objects.filter(
                journal=journal,
                account__asset=base,
                account__kind=Account.Kind.AVAILABLE,
            )
        )
        assert buyer_got > 0
        assert buyer_got == trade.quantity_lots * instrument.lot_size - (
            trade.buyer_fee if trade.buyer_fee_asset_id == base.pk else 0
        )
