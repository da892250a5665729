"""The signed-in home page's figures (docs/retail-pages.md, "Home").

Everything is valued in the user's display currency (`User.display_currency`, else
HOME_DEFAULT_CURRENCY, else the first asset) with the conversion rules of
`trading.portfolio.Market`: an instrument linking the asset to the currency,
direct or inverse; the currency itself counts 1:1.

* Total value: every balance (available + held) at the last trade prices.
* Overall P&L: the portfolio's realized + unrealized P&L (average cost, fees
  included: trading.portfolio); its percentage is against the value without it
  (what was put in: value - P&L).
* History: one valuation per UTC day for the last HOME_HISTORY_DAYS days: the
  balances at the day's end, from the ledger (today's balances minus the entries
  posted after that moment: one grouped query), times the day's close of each
  linking instrument (its 1d candle, or the last earlier one; an asset with no
  close yet is left out that day), then today's point at the last prices.
* P&L today: the value now, minus the value at the end of yesterday (UTC), minus
  the money that came in or went out today (deposits, withdrawals, transfers and
  adjustments, at today's prices): what the market and the fees did, not the
  deposits. Its percentage is against yesterday's value (none when that was 0).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import User
from marketdata.models import Candle
from trading import portfolio as pf
from trading.models import Instrument, Order, WatchlistEntry
from trading.selectors import order_list, portfolio_get
from trading.units import lots_to_quantity, ticks_to_price
from wallet.models import Asset, Entry, Journal
from wallet.money import format_units

# Journals that bring money in or take it out: the rest (holds, releases, trades,
# fees) is what the user's trading did.
FLOW_KINDS = (
    Journal.Kind.DEPOSIT,
    Journal.Kind.WITHDRAWAL,
    Journal.Kind.TRANSFER,
    Journal.Kind.ADJUSTMENT,
)


@dataclass
class HomeSummary:
    currency: Asset
    value: int
    pnl_overall: int
    pnl_overall_pct: str | None
    pnl_today: int
    pnl_today_pct: str | None
    not_priced: tuple[str, ...]
    history: list[tuple[date, int]] = field(default_factory=list)
    positions: list[dict] = field(default_factory=list)

    def fmt(self, units: int | None) -> str | None:
        return None if units is None else format_units(units, self.currency.decimals)


def percent(part: int, whole: int) -> str | None:
    """part / whole in percent, 2 places, half up; None when whole is not > 0."""
    if whole <= 0:
        return None
    value = Decimal(part * 100) / Decimal(whole)
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def display_currency(user: User) -> Asset | None:
    codes = [user.display_currency, settings.HOME_DEFAULT_CURRENCY]
    for code in codes:
        if code:
            asset = Asset.objects.filter(code=code).first()
            if asset is not None:
                return asset
    return Asset.objects.order_by("code").first()


def _instruments() -> list[Instrument]:
    return list(Instrument.objects.select_related("base", "quote").order_by("symbol"))


def _market(
    instruments: list[Instrument], decimals: dict[str, int], ticks: dict[int, int]
) -> pf.Market:
    return pf.Market.of(
        decimals,
        [
            pf.LastPrice(
                symbol=i.symbol,
                base=i.base.code,
                quote=i.quote.code,
                price=ticks[i.pk] * i.tick_size,
            )
            for i in instruments
            if i.pk in ticks
        ],
    )


def _value(
    market: pf.Market, balances: dict[str, int], currency: str
) -> tuple[int, list[str]]:
    total, missing = 0, []
    for code, units in balances.items():
        if units == 0:
            continue
        converted = market.convert(units, code, currency)
        if converted is None:
            missing.append(code)
        else:
            total += converted
    return total, missing


def _closes(instruments: list[Instrument], first_day: date, last_day: date):
    """{day: {instrument id: close ticks}} for every day in [first_day, last_day],
    carrying the last earlier close forward."""
    candles = (
        Candle.objects.filter(
            instrument__in=instruments,
            interval=Candle.Interval.D1,
            open_time__lt=datetime.combine(last_day + timedelta(days=1), time.min, UTC),
        )
        .order_by("open_time")
        .values_list("instrument_id", "open_time", "close")
    )
    by_day: dict[date, dict[int, int]] = defaultdict(dict)
    before: dict[int, int] = {}
    for instrument_id, open_time, close in candles:
        day = open_time.astimezone(UTC).date()
        if day < first_day:
            before[instrument_id] = close
        else:
            by_day[day][instrument_id] = close
    result = {}
    current = dict(before)
    day = first_day
    while day <= last_day:
        current.update(by_day.get(day, {}))
        result[day] = dict(current)
        day += timedelta(days=1)
    return result


def home_summary(*, user: User, now: datetime | None = None) -> HomeSummary | None:
    currency = display_currency(user)
    if currency is None:
        return None
    now = now or timezone.now()
    portfolio, decimals = portfolio_get(user=user, quote=currency)
    instruments = _instruments()
    for instrument in instruments:
        decimals.setdefault(instrument.base.code, instrument.base.decimals)
        decimals.setdefault(instrument.quote.code, instrument.quote.decimals)
    last = {
        i.pk: i.last_price_ticks for i in instruments if i.last_price_ticks is not None
    }
    live = _market(instruments, decimals, last)
    balances = {row.asset: row.available + row.held for row in portfolio.rows}
    value, not_priced = _value(live, balances, currency.code)

    # Balances at the end of each earlier day: today's minus what came after.
    today = now.astimezone(UTC).date()
    days = settings.HOME_HISTORY_DAYS
    first_day = today - timedelta(days=days)
    moved = (
        Entry.objects.filter(
            account__owner=user,
            created_at__gte=datetime.combine(
                first_day + timedelta(days=1), time.min, UTC
            ),
        )
        .annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values_list("account__asset__code", "day")
        .annotate(total=Sum("amount"))
    )
    per_day: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for code, day, total in moved:
        per_day[day][code] += total
    closes = _closes(instruments, first_day, today - timedelta(days=1))
    history: list[tuple[date, int]] = []
    at_end = dict(balances)
    end_values: dict[date, int] = {}
    day = today
    while day > first_day:
        for code, total in per_day.get(day, {}).items():
            at_end[code] = at_end.get(code, 0) - total
        day -= timedelta(days=1)
        market = _market(instruments, decimals, closes.get(day, {}))
        end_values[day], _ = _value(market, at_end, currency.code)
    for day in sorted(end_values):
        history.append((day, end_values[day]))
    history.append((today, value))

    flows = (
        Entry.objects.filter(
            account__owner=user,
            journal__kind__in=FLOW_KINDS,
            created_at__gte=datetime.combine(today, time.min, UTC),
        )
        .values_list("account__asset__code")
        .annotate(total=Sum("amount"))
    )
    flow_value, _ = _value(live, dict(flows), currency.code)
    yesterday = end_values.get(today - timedelta(days=1), 0)
    pnl_today = value - yesterday - flow_value
    pnl_overall = portfolio.realized + portfolio.unrealized
    return HomeSummary(
        currency=currency,
        value=value,
        pnl_overall=pnl_overall,
        pnl_overall_pct=percent(pnl_overall, value - pnl_overall),
        pnl_today=pnl_today,
        pnl_today_pct=percent(pnl_today, yesterday),
        not_priced=tuple(sorted(set(not_priced))),
        history=history,
        positions=pf.portfolio_as_dict(portfolio, decimals=decimals)["assets"],
    )


def open_order_rows(*, user: User, limit: int = 10) -> list[dict]:
    orders = (
        order_list(user=user)
        .filter(status__in=Order.OPEN_STATUSES)
        .select_related("instrument__base", "instrument__quote")
        .order_by("-id")[:limit]
    )
    return [
        {
            "order": o,
            "symbol": o.instrument.symbol,
            "price": ticks_to_price(o.instrument, o.price_ticks) or "market",
            "quantity": lots_to_quantity(o.instrument, o.quantity_lots) or "",
            "quote": o.instrument.quote.code,
            "base": o.instrument.base.code,
        }
        for o in orders
    ]


def watchlist_symbols(*, user: User) -> list[str]:
    return list(
        WatchlistEntry.objects.filter(user=user).values_list(
            "instrument__symbol", flat=True
        )
    )
