"""The demo market maker: quotes a ladder around an outside reference price.

Three layers, each testable alone:

- pure functions on integers (`reference_to_ticks`, `spacing_ticks_for`,
  `ladder_compute`, `ladder_diff`): the ladder is built on a fixed grid of
  `spacing` ticks around the reference, so a small move of the reference changes
  nothing and a move of one grid step cancels and replaces one level per side
  rather than the whole ladder;
- `MarketMaker`: one refresh cycle against the real order services
  (`trading.services.order_place` / `order_cancel`: holds, fees, ledger, exactly
  like any user), and the occasional small IOC cross from a second account (the
  engine's self-trade prevention would expire a cross against the bot's own
  quotes) so the tape moves;
- `market_maker_run`: the async loop that follows a feed adapter and calls the
  synchronous cycle in one worker thread (`asgiref.sync_to_async` with its own
  executor, so order events still reach the channel layer of the running loop).

Restartable and idempotent: the bot's orders carry client order ids
`mm:<SYMBOL>:<b|s><price ticks>:<n>` (crosses: `mmx:<SYMBOL>:<n>`), `n` a
per-symbol counter that resumes from the newest id in the database; on start the
bot adopts its open orders and only changes what differs from the ladder.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import cast

from marketdata.feeds import FeedAdapter, ReferencePrice
from trading.engine import Phase
from trading.phases import CLOSED_SESSION_PHASE, book_phase, instrument_session_phase

logger = logging.getLogger(__name__)

MAKER_EMAIL = "marketmaker@example.com"
TAKER_EMAIL = "marketmaker-taker@example.com"
BUY, SELL = "buy", "sell"


# --- Pure ladder arithmetic (integers only) ------------------------------------


@dataclass(frozen=True)
class LadderSpec:
    levels: int  # per side
    spacing_ticks: int  # grid step between levels (and from the centre to level 1)
    lots_per_level: int
    max_inventory_lots: int | None = None  # most base the bot may hold; None = no cap


@dataclass(frozen=True)
class Quote:
    side: str
    level: int  # 1 = nearest the reference
    price_ticks: int
    lots: int


@dataclass(frozen=True)
class LiveQuote:
    order_id: int
    side: str
    price_ticks: int
    lots: int  # remaining


def reference_to_ticks(price: Decimal, *, tick_size: int, quote_decimals: int) -> int:
    """An outside price (any precision) -> the nearest whole tick, at least one.
    Not money: it only centres the ladder, whose prices are exact ticks."""
    units = price * (Decimal(10) ** quote_decimals) / Decimal(tick_size)
    return max(1, int(units.to_integral_value(rounding=ROUND_HALF_EVEN)))


def spacing_ticks_for(reference_ticks: int, *, bps: int) -> int:
    """`bps` basis points of the reference, in whole ticks (at least one)."""
    return max(1, reference_ticks * bps // 10_000)


def ladder_compute(
    *,
    reference_ticks: int,
    spec: LadderSpec,
    base_lots: int,
    quote_budget: int,
    notional_per_tick_lot: int,
    min_lots: int = 1,
    min_notional: int = 0,
    band: tuple[int, int] | None = None,
) -> list[Quote]:
    """The quotes wanted now, best first per side (bids then asks).

    The centre is the reference rounded to the nearest multiple of the spacing;
    level i sits i steps away on each side. Sizes: `lots_per_level`, cut so that
    the bids never make the bot hold more than `max_inventory_lots` (counting
    `base_lots`, what it holds now, open sells included), never cost more than
    `quote_budget` quote units, and the asks never sell more than `base_lots`.
    Levels below the instrument's minimums, outside the price band `band`
    (low, high ticks) or at a non-positive price are left out."""
    step = spec.spacing_ticks
    if step <= 0 or spec.levels <= 0 or spec.lots_per_level <= 0:
        return []
    centre = max(step, (reference_ticks + step // 2) // step * step)
    buy_room = (
        max(0, spec.max_inventory_lots - base_lots)
        if spec.max_inventory_lots is not None
        else None
    )
    sell_room = max(0, base_lots)
    quote_room = max(0, quote_budget)
    bids: list[Quote] = []
    asks: list[Quote] = []
    for level in range(1, spec.levels + 1):
        for side, price in (
            (BUY, centre - level * step),
            (SELL, centre + level * step),
        ):
            if price <= 0 or (band and not band[0] <= price <= band[1]):
                continue
            lots = spec.lots_per_level
            if side == BUY:
                if buy_room is not None:
                    lots = min(lots, buy_room)
                lots = min(lots, quote_room // (price * notional_per_tick_lot))
            else:
                lots = min(lots, sell_room)
            if lots < max(1, min_lots) or lots * price * notional_per_tick_lot < (
                min_notional
            ):
                continue
            if side == BUY:
                if buy_room is not None:
                    buy_room -= lots
                quote_room -= lots * price * notional_per_tick_lot
                bids.append(Quote(BUY, level, price, lots))
            else:
                sell_room -= lots
                asks.append(Quote(SELL, level, price, lots))
    return bids + asks


def ladder_diff(
    desired: Iterable[Quote], live: Iterable[LiveQuote]
) -> tuple[list[LiveQuote], list[Quote]]:
    """(orders to cancel, quotes to place): a live order stays only if a wanted
    quote has its side, price and remaining size; everything else is replaced."""
    wanted = {(q.side, q.price_ticks): q for q in desired}
    kept: set[tuple[str, int]] = set()
    cancel: list[LiveQuote] = []
    for order in sorted(live, key=lambda o: o.order_id):
        key = (order.side, order.price_ticks)
        quote = wanted.get(key)
        if quote is not None and key not in kept and quote.lots == order.lots:
            kept.add(key)
        else:
            cancel.append(order)
    place = [q for key, q in wanted.items() if key not in kept]
    return cancel, place


def cross_side(
    *, rng: random.Random, reference_ticks: int, best_bid: int, best_ask: int
) -> str:
    """Which way the small crossing order goes: mostly towards the reference, so
    the tape follows it, sometimes the other way, so it looks like a market."""
    mid2 = best_bid + best_ask  # twice the mid, integers only
    if 2 * reference_ticks > mid2:
        p_buy = 0.7
    elif 2 * reference_ticks < mid2:
        p_buy = 0.3
    else:
        p_buy = 0.5
    return BUY if rng.random() < p_buy else SELL


# --- The bot against the real services ---------------------------------------------


@dataclass(frozen=True)
class MarketSettings:
    """Human-facing settings for one instrument (decimal strings, basis points)."""

    levels: int = 12
    spacing_bps: int | None = 3
    spacing_ticks: int | None = None
    size: str | None = None  # base quantity per level; None = the minimum lots
    max_inventory: str | None = None  # base quantity; None = no cap
    cross_size: str | None = None  # base quantity of each cross; None = one lot


# Defaults for the demo instruments (the replay sample has BTCUSDT, ETHUSDT,
# RELIANCE-INR and TCS-INR).
DEMO_MARKETS = {
    "BTC-USD": MarketSettings(size="0.05", max_inventory="25", cross_size="0.02"),
    "ETH-USD": MarketSettings(size="0.5", max_inventory="400", cross_size="0.2"),
    "RELIANCE-INR": MarketSettings(size="5", max_inventory="2000", cross_size="2"),
    "TCS-INR": MarketSettings(size="3", max_inventory="1500", cross_size="1"),
}


@dataclass
class RefreshResult:
    placed: list[int] = field(default_factory=list)
    cancelled: list[int] = field(default_factory=list)
    kept: int = 0
    skipped: list[str] = field(default_factory=list)


class MarketMaker:
    """Quotes for `maker` (and crosses for `taker`) on the given instruments."""

    def __init__(
        self,
        *,
        maker,
        taker=None,
        markets: dict[str, MarketSettings],
        rng: random.Random | None = None,
    ):
        self.maker = maker
        self.taker = taker
        self.markets = {symbol.upper(): s for symbol, s in markets.items()}
        self.rng = rng or random.Random()
        self._spacing: dict[str, int] = {}
        self._counter: dict[str, int] = {}
        self._last_reference: dict[str, int] = {}
        # Set by the loop on shutdown: a refresh stops between two orders.
        self.stopping = threading.Event()

    # -- helpers
    def _instrument(self, symbol: str):
        from trading.selectors import instrument_get

        return instrument_get(symbol=symbol)

    def _next_id(self, prefix: str, user) -> int:
        from trading.models import Order

        if prefix not in self._counter:
            newest = (
                Order.objects.filter(user=user, client_order_id__startswith=prefix)
                .order_by("-id")
                .values_list("client_order_id", flat=True)
                .first()
            )
            tail = (newest or "").rsplit(":", 1)[-1]
            self._counter[prefix] = int(tail) if tail.isdigit() else 0
        self._counter[prefix] += 1
        return self._counter[prefix]

    def live_quotes(self, instrument) -> list[LiveQuote]:
        """The maker's open ladder orders, minus those already asked to cancel."""
        from trading.models import Order, OrderCommand

        orders = Order.objects.filter(
            user=self.maker,
            instrument=instrument,
            status__in=Order.OPEN_STATUSES,
            client_order_id__startswith=f"mm:{instrument.symbol}:",
        ).exclude(
            commands__kind=OrderCommand.Kind.CANCEL,
            commands__processed_at__isnull=True,
        )
        return [
            LiveQuote(o.pk, o.side, cast(int, o.price_ticks), o.open_lots)  # limits
            for o in orders.order_by("pk")
        ]

    def _lots(self, instrument, text: str | None, default: int) -> int:
        from trading.units import quantity_to_lots

        return default if text is None else quantity_to_lots(instrument, text)

    def desired(self, instrument, reference: Decimal) -> list[Quote]:
        from wallet.selectors import balance_list

        settings = self.markets[instrument.symbol]
        ref = reference_to_ticks(
            reference,
            tick_size=instrument.tick_size,
            quote_decimals=instrument.quote.decimals,
        )
        self._last_reference[instrument.symbol] = ref
        if instrument.symbol not in self._spacing:  # fixed per session: stable grid
            self._spacing[instrument.symbol] = settings.spacing_ticks or (
                spacing_ticks_for(ref, bps=settings.spacing_bps or 3)
            )
        min_lots = max(1, -(-instrument.min_quantity // instrument.lot_size))
        cap = None
        if settings.max_inventory is not None:
            from wallet.money import to_units

            cap = (
                to_units(
                    settings.max_inventory,
                    decimals=instrument.base.decimals,
                    field="max_inventory",
                )
                // instrument.lot_size
            )
        spec = LadderSpec(
            levels=settings.levels,
            spacing_ticks=self._spacing[instrument.symbol],
            lots_per_level=self._lots(instrument, settings.size, min_lots),
            max_inventory_lots=cap,
        )
        totals = {b.asset.code: b.total for b in balance_list(user=self.maker)}
        band = None
        if instrument.last_price_ticks and instrument.price_band_percent:
            last, pct = instrument.last_price_ticks, instrument.price_band_percent
            band = (-(-last * (100 - pct) // 100), last * (100 + pct) // 100)
        return ladder_compute(
            reference_ticks=ref,
            spec=spec,
            base_lots=totals.get(instrument.base.code, 0) // instrument.lot_size,
            quote_budget=totals.get(instrument.quote.code, 0),
            notional_per_tick_lot=instrument.notional_per_tick_lot,
            min_lots=min_lots,
            min_notional=instrument.min_notional,
            band=band,
        )

    def refresh(self, symbol: str, reference: Decimal) -> RefreshResult:
        """One cycle: compute the ladder, cancel what differs, place what is
        missing. Each order is its own transaction through the order services; a
        refusal (funds, halted instrument, band) skips that level until the next
        cycle."""
        from config.errors import ApplicationError
        from trading.services import order_place
        from trading.units import lots_to_quantity, ticks_to_price

        instrument = self._instrument(symbol)
        result = RefreshResult()
        if instrument.status != instrument.Status.TRADING:
            result.skipped.append(f"{symbol} is {instrument.status}")
            return result
        if instrument_session_phase(instrument) == CLOSED_SESSION_PHASE:
            # the engine would refuse every quote (market_closed)
            result.skipped.append(f"{symbol}: its session is closed")
            return result
        desired = self.desired(instrument, reference)
        cancel, place = ladder_diff(desired, self.live_quotes(instrument))
        result.kept = len(desired) - len(place)
        # Orders in the way of a new quote go first (the bot must not cross
        # itself); then one cancel and one placement at a time, nearest levels
        # first, so the book never empties while the ladder moves.
        top_bid = max((q.price_ticks for q in place if q.side == BUY), default=0)
        low_ask = min((q.price_ticks for q in place if q.side == SELL), default=None)
        in_way = [
            o
            for o in cancel
            if (o.side == SELL and o.price_ticks <= top_bid)
            or (o.side == BUY and low_ask is not None and o.price_ticks >= low_ask)
        ]
        rest = [o for o in cancel if o not in in_way]
        for order in in_way:
            self._cancel(order, result)
        place = sorted(place, key=lambda q: (q.level, q.side))
        for index in range(max(len(rest), len(place))):
            if self.stopping.is_set():
                break
            if index < len(rest):
                self._cancel(rest[index], result)
            if index >= len(place):
                continue
            quote = place[index]
            side = "b" if quote.side == BUY else "s"
            prefix = f"mm:{symbol}:"
            client_id = f"{prefix}{side}{quote.price_ticks}:"
            client_id += str(self._next_id(prefix, self.maker))
            try:
                placed, _ = order_place(
                    user=self.maker,
                    symbol=symbol,
                    side=quote.side,
                    type="limit",
                    time_in_force="gtc",
                    price=ticks_to_price(instrument, quote.price_ticks),
                    quantity=lots_to_quantity(instrument, quote.lots),
                    client_order_id=client_id,
                )
                result.placed.append(placed.pk)
            except ApplicationError as error:
                result.skipped.append(f"{client_id}: {error.message}")
        return result

    def _cancel(self, order: LiveQuote, result: RefreshResult) -> None:
        from config.errors import ApplicationError
        from trading.services import order_cancel

        try:
            order_cancel(user=self.maker, order_id=order.order_id)
            result.cancelled.append(order.order_id)
        except ApplicationError as error:  # filled or cancelled meanwhile
            result.skipped.append(f"cancel {order.order_id}: {error.message}")

    def cross(self, symbol: str) -> int | None:
        """A small IOC limit order from the taker account at the maker's best
        quote on the chosen side, so a trade prints. Returns its order id."""
        from config.errors import ApplicationError
        from trading.services import order_place
        from trading.units import lots_to_quantity, ticks_to_price

        if self.taker is None:
            return None
        instrument = self._instrument(symbol)
        live = self.live_quotes(instrument)
        bids = [q.price_ticks for q in live if q.side == BUY]
        asks = [q.price_ticks for q in live if q.side == SELL]
        if not bids or not asks or instrument.status != instrument.Status.TRADING:
            return None
        if book_phase(instrument_session_phase(instrument)) != Phase.CONTINUOUS:
            return None  # an IOC is refused in a call, and nothing trades closed
        best_bid, best_ask = max(bids), min(asks)
        settings = self.markets[symbol]
        lots = self._lots(instrument, settings.cross_size, 1)
        lots = max(1, self.rng.randint(max(1, lots // 2), lots))
        side = cross_side(
            rng=self.rng,
            reference_ticks=self._last_reference.get(symbol, best_bid),
            best_bid=best_bid,
            best_ask=best_ask,
        )
        for attempt in (side, SELL if side == BUY else BUY):
            price = best_ask if attempt == BUY else best_bid
            prefix = f"mmx:{symbol}:"
            try:
                order, _ = order_place(
                    user=self.taker,
                    symbol=symbol,
                    side=attempt,
                    type="limit",
                    time_in_force="ioc",
                    price=ticks_to_price(instrument, price),
                    quantity=lots_to_quantity(instrument, lots),
                    client_order_id=f"{prefix}{self._next_id(prefix, self.taker)}",
                )
                return order.pk
            except ApplicationError as error:
                logger.info(
                    "market maker: cross %s %s skipped: %s",
                    attempt,
                    symbol,
                    error.message,
                )
        return None

    def cancel_all(self) -> None:
        from trading.services import order_cancel_all

        for symbol in self.markets:
            order_cancel_all(user=self.maker, symbol=symbol)


# --- The loop ----------------------------------------------------------------------


async def market_maker_run(
    *,
    bot: MarketMaker,
    feed: FeedAdapter,
    stop: asyncio.Event,
    refresh_seconds: float = 1.0,
    cross_every: float = 4.0,
    cancel_on_exit: bool = False,
    on_cycle: Callable[[str, RefreshResult], None] | None = None,
) -> None:
    """Follow `feed`; every `refresh_seconds` refresh each symbol that has a
    reference; about every `cross_every` seconds (0 = never) cross once per symbol.
    Ends when `stop` is set (or the feed ends and a last cycle ran)."""
    from asgiref.sync import sync_to_async
    from django.db import close_old_connections

    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="market-maker")
    latest: dict[str, ReferencePrice] = {}
    feed_done = asyncio.Event()

    def in_thread(fn):
        def call(*args):
            close_old_connections()
            return fn(*args)

        return sync_to_async(call, thread_sensitive=False, executor=executor)

    async def follow() -> None:
        try:
            async for price in feed.stream():
                if price.symbol in bot.markets:
                    latest[price.symbol] = price
        except Exception:
            logger.exception("market maker: feed %s failed", feed.name)
        finally:
            feed_done.set()

    async def watch_stop() -> None:
        await stop.wait()
        bot.stopping.set()

    follower = asyncio.create_task(follow())
    watcher = asyncio.create_task(watch_stop())
    loop = asyncio.get_running_loop()
    next_cross = loop.time() + cross_every
    try:
        while not stop.is_set():
            for symbol, price in list(latest.items()):
                try:
                    result = await in_thread(bot.refresh)(symbol, price.price)
                except Exception:
                    logger.exception("market maker: refresh of %s failed", symbol)
                    continue
                if on_cycle:
                    on_cycle(symbol, result)
            if cross_every and loop.time() >= next_cross:
                next_cross = loop.time() + cross_every * (0.5 + bot.rng.random())
                for symbol in list(latest):
                    try:
                        await in_thread(bot.cross)(symbol)
                    except Exception:
                        logger.exception("market maker: cross on %s failed", symbol)
            if feed_done.is_set() and not follower.cancelled():
                break
            try:
                await asyncio.wait_for(stop.wait(), timeout=refresh_seconds)
            except TimeoutError:
                pass
    finally:
        follower.cancel()
        watcher.cancel()
        await asyncio.gather(follower, watcher, return_exceptions=True)
        bot.stopping.clear()
        if cancel_on_exit:
            try:
                await in_thread(bot.cancel_all)()
            except Exception:
                logger.exception("market maker: cancel on exit failed")
        await in_thread(close_old_connections)()
        executor.shutdown(wait=True)
        logger.info("market maker: stopped")
