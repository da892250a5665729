"""Average-cost P&L: the pure functions with exact integers, then the selector and
the API over real trades."""

import pytest

from accounts.testing import api_client_for
from kyc.testing import make_verified_user
from trading.portfolio import (
    FillIn,
    InstrumentFills,
    LastPrice,
    Market,
    Position,
    average_cost,
    div_round,
    portfolio_build,
    position_apply,
    position_from_fills,
)
from trading.services import order_place
from trading.tests.helpers import assert_ledger_ok, balances, fund, make_btc_usd, match
from wallet.tests.helpers import make_asset

BTC = 10**8  # units of one whole BTC

# The scripted sequence (BTC 8 decimals, USD 2): two buys paying the taker fee in
# BTC, a maker sell and a taker sell paying the fee in USD.
SCRIPT = (
    FillIn("buy", 1 * BTC, 90_000_00, 200_000, True),  # 1 @ 90,000, fee 0.002 BTC
    FillIn("buy", BTC // 2, 48_000_00, 100_000, True),  # 0.5 @ 96,000, fee 0.001
    FillIn("sell", 70_000_000, 70_000_00, 7_000),  # 0.7 @ 100,000, fee 70.00 USD
    FillIn("sell", 79_000_000, 75_050_00, 15_010),  # 0.79 @ 95,000, fee 150.10
)


# --- Pure functions ----------------------------------------------------------------


def test_div_round_is_half_away_from_zero():
    assert [div_round(n, 2) for n in (-3, -1, 1, 3, 4)] == [-2, -1, 1, 2, 2]
    assert div_round(5, 3) == 2
    assert div_round(-5, 3) == -2


def test_buys_add_what_was_received_and_the_whole_quote_paid():
    position = position_from_fills(SCRIPT[:2])
    assert position == Position(
        quantity=149_700_000, cost=138_000_00, bought=149_700_000
    )
    # 138,000.00 USD / 1.497 BTC = 92,184.3687... USD
    assert average_cost(position, base_decimals=8) == 92_184_37


def test_sells_realize_net_proceeds_minus_average_cost():
    after_first_sell = position_from_fills(SCRIPT[:3])
    # cost out = 13,800,000 x 0.7 / 1.497 = 6,452,905.8 -> 6,452,906 units
    assert after_first_sell.quantity == 79_700_000
    assert after_first_sell.cost == 138_000_00 - 6_452_906
    assert after_first_sell.realized == (70_000_00 - 7_000) - 6_452_906 == 540_094

    final = position_apply(after_first_sell, SCRIPT[3])
    # cost out = 7,347,094 x 0.79 / 0.797 = 7,282,564.6 -> 7,282,565
    assert final == Position(
        quantity=700_000,
        cost=7_347_094 - 7_282_565,
        realized=540_094 + (75_050_00 - 15_010) - 7_282_565,
        bought=149_700_000,
        sold=149_000_000,
    )
    assert final.realized == 747_519
    assert average_cost(final, base_decimals=8) == 92_184_29


def test_selling_everything_takes_the_whole_cost():
    fills = (
        FillIn("buy", 3, 100, 0),
        FillIn("sell", 1, 40, 0),
        FillIn("sell", 2, 70, 0),
    )
    position = position_from_fills(fills)
    assert (position.quantity, position.cost) == (0, 0)
    assert position.realized == 40 + 70 - 100
    assert average_cost(position, base_decimals=0) is None


def test_selling_units_of_unknown_cost_realizes_only_the_known_part():
    # 2 units bought for 100; 5 sold for 300: 2/5 of the proceeds (120) realize
    # against the cost, 3 units were deposited (cost unknown).
    position = position_from_fills(
        (FillIn("buy", 2, 100, 0), FillIn("sell", 5, 310, 10))
    )
    assert position == Position(
        quantity=0, cost=0, realized=120 - 100, bought=2, sold=5, untracked_sold=3
    )


def _market(**prices):
    decimals = {"BTC": 8, "USD": 2, "INR": 2, "ETH": 8}
    return Market.of(
        decimals,
        [
            LastPrice(symbol=s, base=s.split("-")[0], quote=s.split("-")[1], price=p)
            for s, p in prices.items()
        ],
    )


def test_conversion_direct_inverse_and_not_priced():
    market = _market(**{"BTC-USD": 95_000_00})
    assert market.convert(700_000, "BTC", "USD") == 66_500  # 0.007 BTC = 665.00
    assert market.convert(66_500, "USD", "BTC") == 700_000  # inverse
    assert market.convert(1, "USD", "BTC") == 11  # 0.01 USD = 10.5 sat, rounded
    assert market.convert(-100, "USD", "USD") == -100
    assert market.convert(100, "BTC", "INR") is None
    assert market.unit_price("BTC", "USD") == (95_000_00, "BTC-USD")
    assert market.unit_price("USD", "BTC") == (1_053, "1/BTC-USD")
    assert market.unit_price("USD", "USD") == (100, "1:1")
    assert market.unit_price("ETH", "USD") is None


def test_portfolio_rows_and_totals_in_the_quote():
    books = [InstrumentFills("BTC-USD", "BTC", "USD", SCRIPT)]
    portfolio = portfolio_build(
        quote="USD",
        balances={"BTC": (500_000, 200_000), "USD": (1_000_00, 0), "ETH": (BTC, 0)},
        books=books,
        market=_market(**{"BTC-USD": 95_000_00}),
    )
    btc, eth, usd = portfolio.rows
    assert (btc.asset, btc.quantity, btc.market_value) == ("BTC", 700_000, 66_500)
    assert (btc.average_cost, btc.realized, btc.unrealized) == (
        92_184_29,
        747_519,
        66_500 - 64_529,
    )
    assert (btc.last_price, btc.price_source) == (95_000_00, "BTC-USD")
    assert eth.market_value is None and eth.positions == ()  # no ETH instrument
    assert eth.average_cost is None and eth.realized is None
    assert (usd.market_value, usd.price_source, usd.realized) == (1_000_00, "1:1", None)
    assert portfolio.market_value == 66_500 + 1_000_00
    assert (portfolio.realized, portfolio.unrealized) == (747_519, 1_971)
    assert portfolio.not_priced == ("ETH",)


def test_unrealized_counts_at_most_the_wallet_quantity():
    # Bought 4 units for 100 but 3 were withdrawn: 1 unit at cost 25 is valued.
    portfolio = portfolio_build(
        quote="USD",
        balances={"BTC": (1, 0)},
        books=[InstrumentFills("BTC-USD", "BTC", "USD", (FillIn("buy", 4, 100, 0),))],
        market=Market.of(
            {"BTC": 0, "USD": 2}, [LastPrice("BTC-USD", "BTC", "USD", 30)]
        ),
    )
    (row,) = portfolio.rows
    assert row.positions[0].quantity == 4
    assert row.unrealized == 30 - 25


def test_a_sold_out_asset_still_shows_its_realized_pnl():
    portfolio = portfolio_build(
        quote="USD",
        balances={},
        books=[
            InstrumentFills(
                "BTC-USD",
                "BTC",
                "USD",
                (FillIn("buy", 2, 100, 0), FillIn("sell", 2, 150, 1)),
            )
        ],
        market=Market.of(
            {"BTC": 0, "USD": 2}, [LastPrice("BTC-USD", "BTC", "USD", 75)]
        ),
    )
    (row,) = portfolio.rows
    assert (row.quantity, row.market_value, row.realized, row.unrealized) == (
        0,
        0,
        49,
        0,
    )
    assert portfolio.realized == 49


# --- Over real trades --------------------------------------------------------------


def _play_script(instrument, alice, mm):
    """The SCRIPT above, through the order services and the matcher: alice is
    taker on the buys and on the last sell, maker on the first sell."""

    def place(user, side, price, quantity):
        order_place(
            user=user, symbol="BTC-USD", side=side, price=price, quantity=quantity
        )
        match(instrument)

    place(mm, "sell", "90000", "1")
    place(alice, "buy", "90000", "1")
    place(mm, "sell", "96000", "0.5")
    place(alice, "buy", "96000", "0.5")
    place(alice, "sell", "100000", "0.7")
    place(mm, "buy", "100000", "0.7")
    place(mm, "buy", "95000", "0.79")
    place(alice, "sell", "95000", "0.79")


@pytest.fixture
def traded(db):
    instrument = make_btc_usd()
    alice = make_verified_user(email="alice@example.com")
    mm = make_verified_user(email="mm@example.com")
    fund(alice, instrument.quote, 200_000_00)
    fund(mm, instrument.base, 5 * BTC)
    fund(mm, instrument.quote, 200_000_00)
    _play_script(instrument, alice, mm)
    return instrument, alice, mm


def test_api_portfolio_matches_the_scripted_numbers(traded):
    _, alice, _ = traded
    usd_units = 200_000_00 - 90_000_00 - 48_000_00 + 69_930_00 + 74_899_90
    assert balances(alice) == {"BTC": (700_000, 0), "USD": (usd_units, 0)}
    response = api_client_for(alice).get("/api/v1/portfolio?quote=USD")
    assert response.status_code == 200
    body = response.json()
    assert body["quote"] == "USD"
    assert body["assets"] == [
        {
            "asset": "BTC",
            "available": "0.00700000",
            "held": "0.00000000",
            "quantity": "0.00700000",
            "last_price": "95000.00",
            "price_source": "BTC-USD",
            "market_value": "665.00",
            "average_cost": "92184.29",
            "realized_pnl": "7475.19",
            "unrealized_pnl": "19.71",
            "positions": [
                {
                    "symbol": "BTC-USD",
                    "quote": "USD",
                    "quantity": "0.00700000",
                    "average_cost": "92184.29",
                    "cost_basis": "645.29",
                    "last_price": "95000.00",
                    "realized_pnl": "7475.19",
                    "unrealized_pnl": "19.71",
                    "untracked_sold": "0.00000000",
                }
            ],
        },
        {
            "asset": "USD",
            "available": "206829.90",
            "held": "0.00",
            "quantity": "206829.90",
            "last_price": "1.00",
            "price_source": "1:1",
            "market_value": "206829.90",
            "average_cost": None,
            "realized_pnl": None,
            "unrealized_pnl": None,
            "positions": [],
        },
    ]
    assert body["totals"] == {
        "market_value": "207494.90",
        "realized_pnl": "7475.19",
        "unrealized_pnl": "19.71",
        "not_priced": [],
    }


def test_api_portfolio_inverse_and_not_priced_totals(traded):
    _, alice, _ = traded
    client = api_client_for(alice)
    in_btc = client.get("/api/v1/portfolio?quote=BTC").json()
    btc_row, usd_row = in_btc["assets"]
    assert (btc_row["market_value"], btc_row["price_source"]) == ("0.00700000", "1:1")
    # USD 206,829.90 / 95,000 = 2.17715684... BTC; P&L converted the same way.
    assert (usd_row["market_value"], usd_row["price_source"]) == (
        "2.17715684",
        "1/BTC-USD",
    )
    assert usd_row["last_price"] == "0.00001053"
    assert (btc_row["average_cost"], btc_row["realized_pnl"]) == (None, "0.07868621")
    assert in_btc["totals"] == {
        "market_value": "2.18415684",
        "realized_pnl": "0.07868621",
        "unrealized_pnl": "0.00020747",
        "not_priced": [],
    }

    make_asset("INR", 2)
    in_inr = client.get("/api/v1/portfolio?quote=INR").json()
    assert in_inr["totals"] == {
        "market_value": "0.00",
        "realized_pnl": "0.00",
        "unrealized_pnl": "0.00",
        "not_priced": ["BTC", "USD"],
    }
    assert in_inr["assets"][0]["market_value"] is None
    assert in_inr["assets"][0]["positions"][0]["realized_pnl"] == "7475.19"


def test_counterparty_who_sold_deposited_coins_realizes_nothing_on_them(traded):
    _, _, mm = traded
    body = api_client_for(mm).get("/api/v1/portfolio").json()
    (position,) = body["assets"][0]["positions"]
    # Sold 1.5 deposited BTC (cost unknown), then bought 0.7 as taker (0.20% fee
    # in BTC) and 0.79 as maker (0.10%): 1.48781 BTC for 70,000.00 + 75,050.00 USD.
    assert position == {
        "symbol": "BTC-USD",
        "quote": "USD",
        "quantity": "1.48781000",
        "average_cost": "97492.29",
        "cost_basis": "145050.00",
        "last_price": "95000.00",
        "realized_pnl": "0.00",
        "unrealized_pnl": "-3708.05",
        "untracked_sold": "1.50000000",
    }
    assert_ledger_ok()


def test_deposit_only_asset_has_no_cost_but_a_market_value(traded):
    carol = make_verified_user(email="carol@example.com")
    fund(carol, traded[0].base, BTC // 10)
    (row,) = api_client_for(carol).get("/api/v1/portfolio").json()["assets"]
    assert row["asset"] == "BTC"
    assert (row["average_cost"], row["market_value"], row["realized_pnl"]) == (
        None,
        "9500.00",
        None,
    )
    assert row["positions"] == []


def test_unknown_quote_is_400(traded):
    response = api_client_for(traded[1]).get("/api/v1/portfolio?quote=XYZ")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_asset"


def test_portfolio_query_count_does_not_grow_with_fills(
    traded, django_assert_num_queries
):
    _, alice, _ = traded
    client = api_client_for(alice)
    with django_assert_num_queries(5):  # user, quote asset, accounts, instruments,
        client.get("/api/v1/portfolio?quote=USD")  # fills
