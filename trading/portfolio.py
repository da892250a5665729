"""Portfolio and P&L: pure functions over a user's fills (average-cost method).

No database here: `trading.selectors.portfolio_get` loads the fills,
balances and last prices (a fixed number of queries) and calls `portfolio_build`.
Every figure is an integer of some asset's smallest unit; `portfolio_as_dict`
turns the result into the decimal strings the API and the page show.

The method (docs/trading.md, "Portfolio", is the reference):

* One average-cost book per instrument (base against one quote asset), from the
  user's fills on it in chronological order.
* A buy adds what the user actually received and its whole cost in quote: under
  the `quote` fee policy the fee is paid in quote (`cost += value + fee`, every
  unit bought received); under `received` it is taken in the base
  (`quantity += quantity - fee`, `cost += value`). Either way the fee raises the
  average cost instead of being a separate expense.
* A sell realizes `proceeds - cost out`, where proceeds are the quote received net
  of the seller's fee (taken in the quote asset) and cost out is the average cost
  times the quantity sold: `cost * sold / quantity`, rounded half away from zero
  to a quote unit; selling the whole remaining quantity takes the whole remaining
  cost, so rounding never leaves cost behind.
* Units sold beyond the quantity the book knows (e.g. units that were deposited,
  whose cost is unknown) realize nothing; their share of the proceeds is left out
  (pro rata) and counted in `untracked_sold`.
* Unrealized P&L values the units still held at the instrument's last trade price
  minus their cost. Units that left the wallet other than by selling (withdrawals,
  transfers) are unknown to fills, so at most the wallet's quantity counts.
* Totals are converted into the chosen valuation asset with the last trade price of
  an instrument linking the two: direct (asset/valuation), inverse
  (valuation/asset), or not priced when none exists; the valuation asset itself
  counts 1:1.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from wallet.money import format_units

BUY = "buy"
SELL = "sell"


def div_round(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half away from zero (denominator > 0).
    Display and valuation figures only: no money moves by them."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    quotient, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return quotient if numerator >= 0 else -quotient


# --- One instrument: the average-cost book ------------------------------------------


@dataclass(frozen=True)
class FillIn:
    """One fill as the P&L sees it. `fee` is in quote units, but in base units for
    a buy whose fee was taken in the base (`fee_in_base`: the `received` fee
    policy; the fill's `fee_asset` says which)."""

    side: str
    quantity: int  # base units traded
    quote_amount: int  # quote units traded (price x quantity)
    fee: int
    fee_in_base: bool = False


@dataclass(frozen=True)
class Position:
    quantity: int = 0  # base units whose cost is known
    cost: int = 0  # quote units: the cost of `quantity`
    realized: int = 0  # quote units
    bought: int = 0  # base units received by buys (net of fees)
    sold: int = 0  # base units sold
    untracked_sold: int = 0  # base units sold beyond `quantity` (cost unknown)


def position_apply(position: Position, fill: FillIn) -> Position:
    if fill.side == BUY:
        if fill.fee_in_base:
            received, cost = fill.quantity - fill.fee, fill.quote_amount
        else:
            received, cost = fill.quantity, fill.quote_amount + fill.fee
        return replace(
            position,
            quantity=position.quantity + received,
            cost=position.cost + cost,
            bought=position.bought + received,
        )
    if fill.side != SELL:
        raise ValueError(f"unknown side {fill.side!r}")
    if fill.fee_in_base:
        raise ValueError("a sell pays its fee in the quote asset")
    proceeds = fill.quote_amount - fill.fee
    matched = min(fill.quantity, position.quantity)
    if matched == position.quantity:
        cost_out = position.cost
    else:
        cost_out = div_round(position.cost * matched, position.quantity)
    if matched == fill.quantity:
        matched_proceeds = proceeds
    else:
        matched_proceeds = div_round(proceeds * matched, fill.quantity)
    return replace(
        position,
        quantity=position.quantity - matched,
        cost=position.cost - cost_out,
        realized=position.realized + matched_proceeds - cost_out,
        sold=position.sold + fill.quantity,
        untracked_sold=position.untracked_sold + fill.quantity - matched,
    )


def position_from_fills(fills: Iterable[FillIn]) -> Position:
    """Fold fills, oldest first, into the book."""
    position = Position()
    for fill in fills:
        position = position_apply(position, fill)
    return position


def average_cost(position: Position, *, base_decimals: int) -> int | None:
    """Quote units per whole base unit, or None with nothing held."""
    if position.quantity <= 0:
        return None
    return div_round(position.cost * 10**base_decimals, position.quantity)


def value_at(units: int, *, price: int, decimals: int) -> int:
    """`units` of an asset with `decimals`, at `price` quote units per whole unit."""
    return div_round(units * price, 10**decimals)


# --- Prices and conversion -----------------------------------------------------------


@dataclass(frozen=True)
class LastPrice:
    symbol: str
    base: str
    quote: str
    price: int  # quote units per whole base unit


@dataclass(frozen=True)
class Market:
    """What valuation needs: asset decimals and each pair's last price."""

    decimals: Mapping[str, int]
    prices: Mapping[tuple[str, str], LastPrice] = field(default_factory=dict)

    @classmethod
    def of(cls, decimals: Mapping[str, int], prices: Iterable[LastPrice]) -> Market:
        by_pair: dict[tuple[str, str], LastPrice] = {}
        for price in prices:  # the first instrument of a pair wins (callers sort)
            by_pair.setdefault((price.base, price.quote), price)
        return cls(decimals=dict(decimals), prices=by_pair)

    def convert(self, units: int, source: str, target: str) -> int | None:
        """`units` of `source` in units of `target`, or None (not priced)."""
        if source == target:
            return units
        direct = self.prices.get((source, target))
        if direct is not None:
            return value_at(units, price=direct.price, decimals=self.decimals[source])
        inverse = self.prices.get((target, source))
        if inverse is not None:
            return div_round(units * 10 ** self.decimals[target], inverse.price)
        return None

    def unit_price(self, asset: str, target: str) -> tuple[int, str] | None:
        """(units of `target` per whole `asset`, source) or None. The source is
        "1:1", a symbol, or "1/<symbol>" for an inverse (rounded) price."""
        if asset == target:
            return 10 ** self.decimals[target], "1:1"
        direct = self.prices.get((asset, target))
        if direct is not None:
            return direct.price, direct.symbol
        inverse = self.prices.get((target, asset))
        if inverse is not None:
            scale = 10 ** (self.decimals[asset] + self.decimals[target])
            return div_round(scale, inverse.price), f"1/{inverse.symbol}"
        return None


# --- The portfolio -------------------------------------------------------------------


@dataclass(frozen=True)
class InstrumentFills:
    """A user's fills on one instrument, oldest first."""

    symbol: str
    base: str
    quote: str
    fills: tuple[FillIn, ...]


@dataclass(frozen=True)
class PositionRow:
    symbol: str
    base: str
    quote: str  # the asset every figure below is in (except the quantities)
    quantity: int  # base units with a known cost
    average_cost: int | None
    cost: int
    last_price: int | None
    realized: int
    unrealized: int | None
    untracked_sold: int


@dataclass(frozen=True)
class AssetRow:
    asset: str
    available: int
    held: int
    last_price: int | None  # valuation units per whole unit
    price_source: str | None
    market_value: int | None  # valuation units
    # The average cost of the position against the valuation asset itself (exact,
    # no conversion); None when never traded against it (see `positions`).
    average_cost: int | None
    realized: int | None  # valuation units; None: not traded, or not priced
    unrealized: int | None
    positions: tuple[PositionRow, ...]

    @property
    def quantity(self) -> int:
        return self.available + self.held


@dataclass(frozen=True)
class Portfolio:
    quote: str
    rows: tuple[AssetRow, ...]
    market_value: int
    realized: int
    unrealized: int
    not_priced: tuple[str, ...]


def _position_row(
    book: InstrumentFills, market: Market, wallet_left: int
) -> tuple[PositionRow, int]:
    """The row and how much of the wallet quantity it used."""
    position = position_from_fills(book.fills)
    base_decimals = market.decimals[book.base]
    last = market.prices.get((book.base, book.quote))
    held = max(0, min(position.quantity, wallet_left))
    if held == position.quantity:
        held_cost = position.cost
    else:
        held_cost = div_round(position.cost * held, position.quantity)
    unrealized = None
    if last is not None:
        value = value_at(held, price=last.price, decimals=base_decimals)
        unrealized = value - held_cost
    row = PositionRow(
        symbol=book.symbol,
        base=book.base,
        quote=book.quote,
        quantity=position.quantity,
        average_cost=average_cost(position, base_decimals=base_decimals),
        cost=position.cost,
        last_price=last.price if last else None,
        realized=position.realized,
        unrealized=unrealized,
        untracked_sold=position.untracked_sold,
    )
    return row, held


def _sum_converted(
    market: Market, amounts: Iterable[tuple[int | None, str]], target: str
) -> int | None:
    total = 0
    for amount, asset in amounts:
        if amount is None:
            return None
        converted = market.convert(amount, asset, target)
        if converted is None:
            return None
        total += converted
    return total


def portfolio_build(
    *,
    quote: str,
    balances: Mapping[str, tuple[int, int]],
    books: Iterable[InstrumentFills],
    market: Market,
) -> Portfolio:
    """Rows for every asset held (available + held > 0) or ever traded as a base,
    by asset code; totals in `quote`."""
    by_base: dict[str, list[InstrumentFills]] = {}
    for book in sorted(books, key=lambda b: b.symbol):
        if book.fills:
            by_base.setdefault(book.base, []).append(book)
    codes = {code for code, (a, h) in balances.items() if a or h} | set(by_base)
    rows: list[AssetRow] = []
    not_priced: list[str] = []
    for code in sorted(codes):
        available, held = balances.get(code, (0, 0))
        wallet_left = available + held
        positions = []
        for book in by_base.get(code, ()):
            row, used = _position_row(book, market, wallet_left)
            wallet_left -= used
            positions.append(row)
        unit = market.unit_price(code, quote)
        market_value = market.convert(available + held, code, quote)
        realized = unrealized = None
        if positions:
            realized = _sum_converted(
                market, ((p.realized, p.quote) for p in positions), quote
            )
            unrealized = _sum_converted(
                market, ((p.unrealized, p.quote) for p in positions), quote
            )
        if market_value is None or (
            positions and (realized is None or unrealized is None)
        ):
            not_priced.append(code)
        rows.append(
            AssetRow(
                asset=code,
                available=available,
                held=held,
                last_price=unit[0] if unit else None,
                price_source=unit[1] if unit else None,
                market_value=market_value,
                average_cost=next(
                    (p.average_cost for p in positions if p.quote == quote), None
                ),
                realized=realized,
                unrealized=unrealized,
                positions=tuple(positions),
            )
        )
    return Portfolio(
        quote=quote,
        rows=tuple(rows),
        market_value=sum(r.market_value or 0 for r in rows),
        realized=sum(r.realized or 0 for r in rows),
        unrealized=sum(r.unrealized or 0 for r in rows),
        not_priced=tuple(not_priced),
    )


# --- Decimal strings -----------------------------------------------------------------


def portfolio_as_dict(portfolio: Portfolio, *, decimals: Mapping[str, int]) -> dict:
    """The API body (and the page's numbers): every amount a decimal string."""

    def fmt(units: int | None, asset: str) -> str | None:
        return None if units is None else format_units(units, decimals[asset])

    quote = portfolio.quote
    return {
        "quote": quote,
        "assets": [
            {
                "asset": row.asset,
                "available": fmt(row.available, row.asset),
                "held": fmt(row.held, row.asset),
                "quantity": fmt(row.quantity, row.asset),
                "last_price": fmt(row.last_price, quote),
                "price_source": row.price_source,
                "market_value": fmt(row.market_value, quote),
                "average_cost": fmt(row.average_cost, quote),
                "realized_pnl": fmt(row.realized, quote),
                "unrealized_pnl": fmt(row.unrealized, quote),
                "positions": [
                    {
                        "symbol": p.symbol,
                        "quote": p.quote,
                        "quantity": fmt(p.quantity, p.base),
                        "average_cost": fmt(p.average_cost, p.quote),
                        "cost_basis": fmt(p.cost, p.quote),
                        "last_price": fmt(p.last_price, p.quote),
                        "realized_pnl": fmt(p.realized, p.quote),
                        "unrealized_pnl": fmt(p.unrealized, p.quote),
                        "untracked_sold": fmt(p.untracked_sold, p.base),
                    }
                    for p in row.positions
                ],
            }
            for row in portfolio.rows
        ],
        "totals": {
            "market_value": fmt(portfolio.market_value, quote),
            "realized_pnl": fmt(portfolio.realized, quote),
            "unrealized_pnl": fmt(portfolio.unrealized, quote),
            "not_priced": list(portfolio.not_priced),
        },
    }
