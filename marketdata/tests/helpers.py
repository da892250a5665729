"""Builders for marketdata tests, and the reference stream client."""

from __future__ import annotations

from kyc.testing import make_verified_user
from trading.services import order_place
from trading.tests.helpers import fund, make_btc_usd, match  # noqa: F401


def make_market(email_prefix: str = "md"):
    """BTC-USD with a funded seller and buyer (10 BTC, 1,000,000.00 USD each)."""
    instrument = make_btc_usd()
    seller = make_verified_user(email=f"{email_prefix}-seller@example.com")
    buyer = make_verified_user(email=f"{email_prefix}-buyer@example.com")
    for user in (seller, buyer):
        fund(user, instrument.base, 10 * 10**8)
        fund(user, instrument.quote, 1_000_000_00)
    return instrument, buyer, seller


def place(user, side: str, price: str, quantity: str, **extra):
    order, _ = order_place(
        user=user, symbol="BTC-USD", side=side, price=price, quantity=quantity, **extra
    )
    return order


class BookClient:
    """The documented client procedure (docs/marketdata.md, "Client procedure"):
    start from a snapshot (or REST depth), apply each level/trade message only if
    its seq is last_seq + 1, ignore seq <= last_seq, and on a gap ask for a
    snapshot and drop deltas until it arrives."""

    def __init__(self) -> None:
        self.seq: int | None = None
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}
        self.trades: list[dict] = []
        self.resyncing = False
        self.gaps = 0
        self.snapshots = 0

    def load(self, seq: int, bids, asks) -> None:
        self.seq = seq
        self.bids = {price: qty for price, qty in bids}
        self.asks = {price: qty for price, qty in asks}
        self.resyncing = False

    def on_message(self, message: dict) -> dict | None:
        """Apply one server message; returns a message to send back, if any."""
        kind = message["type"]
        if kind == "snapshot":
            self.snapshots += 1
            self.load(message["seq"], message["bids"], message["asks"])
            return None
        if kind == "batch":
            reply = None
            for item in message["messages"]:
                reply = self.on_message(item) or reply
            return reply
        if kind not in ("level", "trade") or self.seq is None or self.resyncing:
            return None
        seq = message["seq"]
        if seq <= self.seq:
            return None
        if seq != self.seq + 1:
            self.gaps += 1
            self.resyncing = True
            return {"op": "snapshot"}
        self.seq = seq
        if kind == "level":
            side = self.bids if message["side"] == "buy" else self.asks
            if float(message["quantity"]) == 0:  # test only; "0.00" strings
                side.pop(message["price"], None)
            else:
                side[message["price"]] = message["quantity"]
        else:
            self.trades.append(message)
        return None

    def depth(self) -> tuple[list, list]:
        def key(level):
            return float(level[0])

        bids = sorted(self.bids.items(), key=key, reverse=True)
        asks = sorted(self.asks.items(), key=key)
        return [list(b) for b in bids], [list(a) for a in asks]
