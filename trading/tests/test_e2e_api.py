"""One trading session through the HTTP API, four users, every unit checked.

Each API call runs inside `django_capture_on_commit_callbacks(execute=True)`, so
the real path runs: the view's transaction commits, the on-commit hook sends the
(eager) Celery task, the task runs the matching job. After each step, every
balance (available and held, per asset), the fee accounts and the orders' states
are compared with expectations written as explicit movements.

BTC-USD: price step 1.00 USD (= ticks), quantity step 0.01 BTC (= lots); maker 10
bps, taker 20 bps; buyers pay fees in BTC, sellers in USD, rounded up. Amounts
below are cents and satoshi.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from accounts.testing import api_client_for
from trading.models import Instrument, Order, Trade
from trading.tests.conftest import BTC, USD
from trading.tests.helpers import assert_ledger_ok, balances
from wallet.models import Account

pytestmark = pytest.mark.django_db
LOT = 1_000_000  # satoshi per lot


class Session:
    """Clients per user, the expected balances, and API calls that run the
    matcher after commit."""

    def __init__(self, capture, users: dict):
        self.capture = capture
        self.users = users
        self.clients = {name: api_client_for(user) for name, user in users.items()}
        self.expected: dict[str, defaultdict[str, list[int]]] = {
            name: defaultdict(lambda: [0, 0]) for name in users
        }
        self.fees = {"USD": 0, "BTC": 0}

    def call(self, name: str, method: str, url: str, data=None, status=None):
        with self.capture(execute=True):
            response = getattr(self.clients[name], method)(url, data, format="json")
        if status is not None:
            assert response.status_code == status, response.content
        return response

    def place(self, name: str, **body) -> int:
        body = {"symbol": "BTC-USD", **body}
        response = self.call(name, "post", "/api/v1/orders", body, status=201)
        assert response.json()["status"] == "pending"  # matched after commit
        return response.json()["id"]

    def order(self, name: str, order_id: int) -> dict:
        response = self.clients[name].get(f"/api/v1/orders/{order_id}")
        assert response.status_code == 200
        return response.json()

    def assert_order(self, name: str, order_id: int, **fields) -> None:
        body = self.order(name, order_id)
        assert {key: body[key] for key in fields} == fields

    def move(self, name: str, asset: str, available: int = 0, held: int = 0) -> None:
        row = self.expected[name][asset]
        row[0] += available
        row[1] += held

    def check(self) -> None:
        for name, user in self.users.items():
            want = {a: tuple(v) for a, v in self.expected[name].items() if any(v)}
            assert balances(user) == want, name
        fees = {
            account.asset.code: account.balance
            for account in Account.objects.filter(kind=Account.Kind.FEES)
        }
        assert {a: fees.get(a, 0) for a in self.fees} == self.fees
        assert_ledger_ok()


@pytest.fixture
def session(make_trader, django_capture_on_commit_callbacks):
    users = {
        "A": make_trader("a@example.com", btc=2 * BTC),
        "B": make_trader("b@example.com", btc=2 * BTC),
        "C": make_trader("c@example.com", usd=500_000 * USD),
        "D": make_trader("d@example.com", usd=200_000 * USD),
    }
    s = Session(django_capture_on_commit_callbacks, users)
    s.move("A", "BTC", 2 * BTC)
    s.move("B", "BTC", 2 * BTC)
    s.move("C", "USD", 500_000 * USD)
    s.move("D", "USD", 200_000 * USD)
    s.check()
    return s


def test_a_trading_session_through_the_api(session):  # noqa: PLR0915
    s = session
    ids = {}

    # 1. Resting orders at several levels.
    ids["a1"] = s.place("A", side="sell", price="100000", quantity="0.1")
    ids["b1"] = s.place("B", side="sell", price="100000", quantity="0.2")
    ids["a2"] = s.place("A", side="sell", price="101000", quantity="0.3")
    ids["b2"] = s.place("B", side="sell", price="102000", quantity="0.5")
    ids["d1"] = s.place("D", side="buy", price="98000", quantity="0.4")
    ids["c1"] = s.place("C", side="buy", price="97000", quantity="0.25")
    s.move("A", "BTC", -40 * LOT, 40 * LOT)
    s.move("B", "BTC", -70 * LOT, 70 * LOT)
    s.move("D", "USD", -3_920_000, 3_920_000)
    s.move("C", "USD", -2_425_000, 2_425_000)
    s.check()
    s.assert_order("A", ids["a1"], status="open", remaining_quantity="0.10000000")

    # 2. A buy crossing two levels, partly filled, the rest resting at its limit.
    # Fills 0.1 (A) and 0.2 (B) at 100,000 in time priority, 0.3 (A) at 101,000.
    ids["c2"] = s.place("C", side="buy", price="101000", quantity="0.7")
    cost = 1_000_000 + 2_000_000 + 3_030_000
    # Held 7,070,000; 6,030,000 paid; 1,010,000 kept for the 0.1 left at
    # 101,000; the 300.00 of price improvement comes back.
    s.move("C", "USD", -cost - 1_010_000, 1_010_000)
    s.move("C", "BTC", 60 * LOT - (20_000 + 40_000 + 60_000))
    s.move("A", "BTC", 0, -40 * LOT)
    s.move("A", "USD", 1_000_000 - 1_000 + 3_030_000 - 3_030)
    s.move("B", "BTC", 0, -20 * LOT)
    s.move("B", "USD", 2_000_000 - 2_000)
    s.fees["USD"] += 1_000 + 2_000 + 3_030
    s.fees["BTC"] += 120_000
    s.check()
    s.assert_order(
        "C",
        ids["c2"],
        status="partially_filled",
        reason="",
        filled_quantity="0.60000000",
        remaining_quantity="0.10000000",
        filled_quote="60300.00",
        average_price="100500.00",
        fees_paid="0.00120000",
        fee_asset="BTC",
    )
    s.assert_order("A", ids["a1"], status="filled", fees_paid="10.00")
    s.assert_order("A", ids["a2"], status="filled", fees_paid="30.30")
    s.assert_order("B", ids["b1"], status="filled", average_price="100000.00")

    # 3. IOC: 0.5 fills at 102,000, the other 0.1 expires.
    ids["d2"] = s.place(
        "D", side="buy", price="102000", quantity="0.6", time_in_force="ioc"
    )
    s.move("D", "USD", -5_100_000)
    s.move("D", "BTC", 50 * LOT - 100_000)
    s.move("B", "BTC", 0, -50 * LOT)
    s.move("B", "USD", 5_100_000 - 5_100)
    s.fees["USD"] += 5_100
    s.fees["BTC"] += 100_000
    s.check()
    s.assert_order(
        "D",
        ids["d2"],
        status="expired",
        reason="ioc",
        filled_quantity="0.50000000",
        remaining_quantity="0.00000000",
        average_price="102000.00",
        fees_paid="0.00100000",
    )

    # 4. FOK for more than the bids hold: rejected, nothing traded, hold released.
    ids["a_fok"] = s.place(
        "A", side="sell", price="97000", quantity="1", time_in_force="fok"
    )
    s.check()
    s.assert_order(
        "A",
        ids["a_fok"],
        status="rejected",
        reason="fok_not_fillable",
        filled_quantity="0.00000000",
        remaining_quantity="0.00000000",
        average_price=None,
    )

    # 5. Post-only that would take: rejected.
    ids["b_po"] = s.place(
        "B", side="sell", price="101000", quantity="0.1", post_only=True
    )
    s.check()
    s.assert_order("B", ids["b_po"], status="rejected", reason="post_only_would_take")

    # 6. Market buy by quote amount: 15,000.00 buys 0.1 at 103,000 (10,300.00)
    # and 0.04 at 104,000 (4,160.00); 540.00 cannot buy another lot.
    ids["a3"] = s.place("A", side="sell", price="103000", quantity="0.1")
    ids["b3"] = s.place("B", side="sell", price="104000", quantity="0.1")
    s.move("A", "BTC", -10 * LOT, 10 * LOT)
    s.move("B", "BTC", -10 * LOT, 10 * LOT)
    ids["d3"] = s.place("D", side="buy", type="market", quote_quantity="15000")
    s.move("D", "USD", -1_030_000 - 416_000)
    s.move("D", "BTC", 14 * LOT - 20_000 - 8_000)
    s.move("A", "BTC", 0, -10 * LOT)
    s.move("A", "USD", 1_030_000 - 1_030)
    s.move("B", "BTC", 0, -4 * LOT)
    s.move("B", "USD", 416_000 - 416)
    s.fees["USD"] += 1_030 + 416
    s.fees["BTC"] += 28_000
    s.check()
    s.assert_order(
        "D",
        ids["d3"],
        status="expired",
        reason="quote_limit",
        quantity=None,
        quote_quantity="15000.00",
        filled_quantity="0.14000000",
        filled_quote="14460.00",
        average_price="103285.71",  # 14,460.00 / 0.14, rounded half up
        fees_paid="0.00028000",
    )

    # 7. A stop-limit buy waits, then a trade at its stop price fires it.
    ids["a4"] = s.place("A", side="sell", price="105000", quantity="0.1")
    s.move("A", "BTC", -10 * LOT, 10 * LOT)
    ids["c3"] = s.place(
        "C",
        side="buy",
        type="stop_limit",
        stop_price="105000",
        price="105000",
        quantity="0.05",
    )
    s.move("C", "USD", -525_000, 525_000)
    s.check()
    s.assert_order("C", ids["c3"], status="open", stop_triggered=False)
    # D takes B's last 0.06 at 104,000 and 0.01 of A's at 105,000: the print at
    # 105,000 fires C's stop, which takes 0.05 more of A's.
    ids["d4"] = s.place("D", side="buy", price="105000", quantity="0.07")
    s.move("D", "USD", -624_000 - 105_000)  # 60.00 improvement released
    s.move("D", "BTC", 7 * LOT - 12_000 - 2_000)
    s.move("B", "BTC", 0, -6 * LOT)
    s.move("B", "USD", 624_000 - 624)
    s.move("C", "USD", 0, -525_000)
    s.move("C", "BTC", 5 * LOT - 10_000)  # a fired stop is a taker
    s.move("A", "BTC", 0, -6 * LOT)
    s.move("A", "USD", 105_000 - 105 + 525_000 - 525)
    s.fees["USD"] += 624 + 105 + 525
    s.fees["BTC"] += 14_000 + 10_000
    s.check()
    s.assert_order(
        "C",
        ids["c3"],
        status="filled",
        stop_triggered=True,
        filled_quantity="0.05000000",
        average_price="105000.00",
        fees_paid="0.00010000",
    )
    s.assert_order(
        "D",
        ids["d4"],
        status="filled",
        average_price="104142.86",
        fees_paid="0.00014000",
    )
    s.assert_order(
        "A",
        ids["a4"],
        status="partially_filled",
        filled_quantity="0.06000000",
        remaining_quantity="0.04000000",
        fees_paid="6.30",
    )

    # 8. Self-trade prevention. A buys into its own ask: by default the taker
    # expires and nothing prints; with expire_maker A's ask expires instead and
    # the buy rests.
    ids["a5"] = s.place("A", side="buy", price="105000", quantity="0.02")
    s.check()
    s.assert_order("A", ids["a5"], status="expired", reason="stp", stp="expire_taker")
    s.assert_order("A", ids["a4"], status="partially_filled")
    ids["a6"] = s.place(
        "A", side="buy", price="105000", quantity="0.02", stp="expire_maker"
    )
    s.move("A", "BTC", 4 * LOT, -4 * LOT)
    s.move("A", "USD", -210_000, 210_000)
    s.check()
    s.assert_order(
        "A",
        ids["a4"],
        status="expired",
        reason="stp",
        filled_quantity="0.06000000",
        remaining_quantity="0.00000000",
    )
    s.assert_order("A", ids["a6"], status="open", remaining_quantity="0.02000000")

    # 9. Cancels.
    response = s.call("A", "delete", f"/api/v1/orders/{ids['a6']}", status=202)
    assert response.json()["status"] == "open"  # the matcher runs after commit
    s.call("C", "delete", f"/api/v1/orders/{ids['c2']}", status=202)
    s.move("A", "USD", 210_000, -210_000)
    s.move("C", "USD", 1_010_000, -1_010_000)
    s.check()
    s.assert_order("A", ids["a6"], status="cancelled", reason="user")
    s.assert_order(
        "C",
        ids["c2"],
        status="cancelled",
        reason="user",
        filled_quantity="0.60000000",
        remaining_quantity="0.00000000",
    )
    s.call("C", "delete", f"/api/v1/orders/{ids['c2']}", status=409)

    # 10. Amend: a quantity cut keeps time priority, a price change loses it.
    ids["dq"] = s.place("D", side="buy", price="99000", quantity="0.1")
    ids["cq"] = s.place("C", side="buy", price="99000", quantity="0.1")
    s.move("D", "USD", -990_000, 990_000)
    s.move("C", "USD", -990_000, 990_000)
    s.call("D", "patch", f"/api/v1/orders/{ids['dq']}", {"quantity": "0.08"}, 202)
    s.move("D", "USD", 198_000, -198_000)
    s.check()
    s.place("B", side="sell", price="99000", quantity="0.03")  # D is still first
    s.move("B", "BTC", -3 * LOT)
    s.move("B", "USD", 297_000 - 594)
    s.move("D", "USD", 0, -297_000)
    s.move("D", "BTC", 3 * LOT - 3_000)
    s.fees["USD"] += 594
    s.fees["BTC"] += 3_000
    s.check()
    s.assert_order(
        "D",
        ids["dq"],
        status="partially_filled",
        quantity="0.08000000",
        filled_quantity="0.03000000",
        remaining_quantity="0.05000000",
    )
    s.assert_order("C", ids["cq"], status="open", filled_quantity="0.00000000")
    # Away and back: 0.05 x 99,100 needs 5.00 more, reserved at the PATCH.
    response = s.call(
        "D", "patch", f"/api/v1/orders/{ids['dq']}", {"price": "99100"}, 202
    )
    s.move("D", "USD", -500, 500)
    s.check()
    s.call("D", "patch", f"/api/v1/orders/{ids['dq']}", {"price": "99000"}, 202)
    s.move("D", "USD", 500, -500)
    s.check()
    s.place("B", side="sell", price="99000", quantity="0.03")  # now C is first
    s.move("B", "BTC", -3 * LOT)
    s.move("B", "USD", 297_000 - 594)
    s.move("C", "USD", 0, -297_000)
    s.move("C", "BTC", 3 * LOT - 3_000)
    s.fees["USD"] += 594
    s.fees["BTC"] += 3_000
    s.check()
    s.assert_order("D", ids["dq"], filled_quantity="0.03000000", price="99000.00")
    s.assert_order(
        "C",
        ids["cq"],
        status="partially_filled",
        filled_quantity="0.03000000",
        remaining_quantity="0.07000000",
        average_price="99000.00",
        fees_paid="0.00003000",
    )

    # 11. Cancel the amended order: its hold comes back whole.
    s.call("D", "delete", f"/api/v1/orders/{ids['dq']}", status=202)
    s.move("D", "USD", 495_000, -495_000)
    s.check()
    s.assert_order("D", ids["dq"], status="cancelled", fees_paid="0.00003000")

    # The tape: every print, in sequence (level changes take the numbers between).
    tape = [
        (t.seq, t.price_ticks, t.quantity_lots, t.maker_order_id, t.taker_order_id)
        for t in Trade.objects.order_by("seq")
    ]
    assert tape == [
        (7, 100_000, 10, ids["a1"], ids["c2"]),
        (8, 100_000, 20, ids["b1"], ids["c2"]),
        (10, 101_000, 30, ids["a2"], ids["c2"]),
        (13, 102_000, 50, ids["b2"], ids["d2"]),
        (17, 103_000, 10, ids["a3"], ids["d3"]),
        (19, 104_000, 4, ids["b3"], ids["d3"]),
        (22, 104_000, 6, ids["b3"], ids["d4"]),
        (24, 105_000, 1, ids["a4"], ids["d4"]),
        (26, 105_000, 5, ids["a4"], ids["c3"]),
        (35, 99_000, 3, ids["dq"], tape[9][4]),
        (41, 99_000, 3, ids["cq"], tape[10][4]),
    ]
    # The book left: D 0.40 @ 98,000, C 0.07 @ 99,000 and 0.25 @ 97,000; the
    # public sequence counted every print and level change.
    resting = sorted(
        (order.user.email[0].upper(), order.side, order.price_ticks, order.open_lots)
        for order in Order.objects.filter(status__in=Order.OPEN_STATUSES)
    )
    assert resting == [
        ("C", "buy", 97_000, 25),
        ("C", "buy", 99_000, 7),
        ("D", "buy", 98_000, 40),
    ]
    assert Instrument.objects.get().engine_seq == 43
