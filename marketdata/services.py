"""Every write of marketdata. The subscribers of trading's and the wallet's domain
events (config/subscribers.py) run inside the transaction of the change they
describe (a matching run, a ledger posting) and record what to publish after
commit (marketdata.events)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.bulk import insert_rows_deferrable, new_instance
from config.events import record
from config.logging import current_request_id, current_user_id
from marketdata import formats, messages, queries
from marketdata.candles import candles_upsert
from marketdata.events import MarketControlReady, MarketFrameReady, UserEventsSaved
from marketdata.models import BookSnapshot, UserEvent
from marketdata.publish import market_group
from marketdata.selectors import ticker_build
from trading.engine import LevelChanged, Phase
from trading.engine import Trade as TradeEvent
from trading.events import MatchingRunApplied
from trading.models import Instrument
from wallet.events import BalancesChanged
from wallet.models import Account, Asset

logger = logging.getLogger(__name__)


# --- Book snapshot ------------------------------------------------------------------


def _indicative_of(book) -> tuple[int | None, int, int, str]:
    """The book's indicative uncross as stored: (None, 0, 0, "") outside a
    call (where the engine computes none) or when nothing crosses."""
    if book.phase is not Phase.CALL:
        return None, 0, 0, ""
    price, lots, surplus, side = book.indicative()
    if price is None:
        return None, 0, 0, ""
    return price, lots, surplus, "" if side is None else str(side)


def _snapshot_write(
    instrument: Instrument,
    seq: int,
    bids: list,
    asks: list,
    indicative: tuple[int | None, int, int, str] = (None, 0, 0, ""),
) -> BookSnapshot:
    price, lots, surplus, side = indicative
    row = BookSnapshot(
        instrument=instrument,
        seq=seq,
        bids=[list(level) for level in bids],
        asks=[list(level) for level in asks],
        indicative_price=price,
        indicative_lots=lots,
        indicative_surplus=surplus,
        indicative_surplus_side=side,
        updated_at=timezone.now(),
    )
    queries.book_snapshot_upsert(row)
    return row


def book_snapshot_rebuild(*, instrument_id: int) -> BookSnapshot:
    """Write the snapshot row from the open orders, under the instrument lock
    (for instruments that traded before marketdata existed, or a repair)."""
    from trading.services.matching import book_rebuild

    with transaction.atomic():
        instrument = (
            Instrument.objects.select_for_update(of=("self",))
            .select_related("base", "quote")
            .get(pk=instrument_id)
        )
        book = book_rebuild(instrument)
        bids, asks = book.depth(settings.MARKETDATA_DEPTH_LEVELS)
        return _snapshot_write(
            instrument, instrument.engine_seq, bids, asks, _indicative_of(book)
        )


# --- A matching run ------------------------------------------------------------------


def market_run_record(event: MatchingRunApplied) -> None:
    """Subscriber of trading's `MatchingRunApplied`, in the run's transaction and
    under its instrument lock: store the book snapshot at the new sequence
    (with a call's indicative uncross), fold the trades into candles, write the
    users' order and fill events, and leave the market frame (and, when the
    engine said the indicative changed or the phase did, an `indicative`
    message) to publish after commit. A few bulk statements."""
    instrument, book, trades = event.instrument, event.book, event.trades
    orders, fills = event.orders, event.fills
    market: list[dict] = []
    bids: list = []
    asks: list = []
    call_changed = False  # an Indicative or PhaseChanged: the call's state moved
    call_message: dict | None = None
    if event.book_changes:
        bids, asks = book.depth(settings.MARKETDATA_DEPTH_LEVELS)
        indicative = _indicative_of(book)
        _snapshot_write(instrument, book.sequence, bids, asks, indicative)
        by_seq = {trade.seq: trade for trade in trades}
        for change in event.book_changes:
            if isinstance(change, TradeEvent):
                trade = messages.trade(instrument, by_seq[change.seq])
                market.append({"type": "trade", **trade})
            elif isinstance(change, LevelChanged):
                market.append(messages.level_message(instrument, change))
            else:
                call_changed = True
        if call_changed:
            scales = formats.formats_for(instrument)
            call_message = formats.indicative_message(
                scales, formats.indicative_fields(scales, *indicative)
            )
    if trades:
        seq = book.sequence
        candles = candles_upsert(instrument=instrument, trades=list(trades))
        ticker = ticker_build(
            instrument=instrument,
            sequence=seq,
            bids=bids,
            asks=asks,
            last_price_ticks=instrument.last_price_ticks,
        )
        market.append({"type": "ticker", "seq": seq, **ticker})
        for candle in candles:
            market.append(
                {
                    "type": "candle",
                    "seq": seq,
                    "interval": candle.interval,
                    "candle": messages.candle(instrument, candle),
                }
            )
    rows: list[UserEvent] = []
    for order in orders:
        order.instrument = instrument  # same row, with base/quote loaded
    # formats read once per instrument, no serializer (marketdata/formats.py)
    for order, message in zip(
        orders, formats.order_messages(instrument, orders), strict=True
    ):
        rows.append(
            new_instance(
                UserEvent,
                user_id=order.user_id,
                type=UserEvent.Type.ORDER,
                data={"order": message},
            )
        )
    instrument_formats = formats.formats_for(instrument)
    for fill in fills:
        rows.append(
            new_instance(
                UserEvent,
                user_id=fill.user_id,
                type=UserEvent.Type.FILL,
                data={
                    "fill": formats.fill_message(
                        instrument_formats, fill, fill.trade.seq
                    )
                },
            )
        )
    _user_events_save(rows)
    if market:
        frame = {
            "type": "market.frame",
            "first": market[0]["seq"],
            "last": book.sequence,
            "body": ",".join(messages.dumps(message) for message in market),
        }
        record(MarketFrameReady(group=market_group(instrument.symbol), frame=frame))
    if call_message is not None:
        # After the run's frame, without a seq: state that replaces the last
        # one (the engine gives it no number; docs/marketdata.md).
        record(
            MarketControlReady(
                group=market_group(instrument.symbol),
                body=messages.dumps(call_message),
            )
        )


# --- User events --------------------------------------------------------------------


def _user_events_save(rows: list[UserEvent]) -> None:
    """Insert the events (ids come back from the insert) and have them published
    to their users after commit. The events of the user whose request caused
    them (in the request, or in a task it sent) carry its `request_id`."""
    if not rows:
        return
    now = timezone.now()
    for row in rows:
        row.created_at = now
    request_id = current_request_id()
    if request_id is not None:
        user_id = current_user_id()
        for row in rows:
            if row.user_id == user_id:
                row.data["request_id"] = request_id
    # The order placement writes its balance event with its own rows (see
    # trading.services.orders): the ids are read at commit, not here.
    insert_rows_deferrable(rows)
    record(UserEventsSaved(rows=rows))


def user_events_append(*, rows: list[UserEvent]) -> None:
    """Other apps' user stream events (notifications), in the caller's
    transaction: written with the cause, published after commit."""
    _user_events_save(rows)


_USER_KINDS = (Account.Kind.AVAILABLE, Account.Kind.HELD)

# Assets by id, as this process first read them: a balance event names the code
# and uses the decimals, which cannot change once an asset exists (the admin
# makes them read-only: they would re-value every stored amount).
_ASSETS: dict[int, Asset] = {}


def balance_events_record(event: BalancesChanged) -> None:
    """Subscriber of the ledger's `BalancesChanged`, in its transaction: one
    balance event per (user, asset) whose available or held balance moved, with
    both balances as they now stand."""
    accounts = event.accounts
    touched = {
        (account.owner_id, account.asset_id)
        for account in accounts
        if account.owner_id is not None and account.kind in _USER_KINDS
    }
    if not touched:
        return
    current: dict[tuple[int, int], dict] = {}
    assets: dict[int, Asset] = {}
    for account in accounts:  # locked by the posting: their balances are current
        key = (account.owner_id, account.asset_id)
        if key in touched and account.kind in _USER_KINDS:
            current.setdefault(key, {})[account.kind] = account.balance
            if Account.asset.is_cached(account):
                assets[account.asset_id] = account.asset
    incomplete = {key for key in touched if len(current.get(key, {})) < 2}
    if incomplete:  # the other kind of account did not move: read it
        for owner_id, asset_id, kind, balance in queries.user_balances(
            incomplete, tuple(kind.value for kind in _USER_KINDS)
        ):
            key = (owner_id, asset_id)
            if key in incomplete:
                current.setdefault(key, {}).setdefault(kind, balance)
    if missing := {asset for _, asset in touched} - assets.keys():
        assets.update({pk: _ASSETS[pk] for pk in missing & _ASSETS.keys()})
        if missing := missing - assets.keys():
            found = Asset.objects.in_bulk(missing)
            _ASSETS.update(found)
            assets.update(found)
    for (_, asset_id), entry in current.items():
        entry["asset"] = assets[asset_id]
    rows = []
    for (owner, _), entry in sorted(current.items()):
        asset = entry["asset"]
        rows.append(
            new_instance(
                UserEvent,
                user_id=owner,
                type=UserEvent.Type.BALANCE,
                data=formats.balance_message(
                    asset.code,
                    asset.decimals,
                    entry.get(Account.Kind.AVAILABLE, 0),
                    entry.get(Account.Kind.HELD, 0),
                ),
            )
        )
    _user_events_save(rows)


def user_event_prune(*, older_than: timedelta | None = None) -> int:
    """Delete events older than the retention window, in chunks."""
    older_than = older_than or timedelta(
        hours=settings.MARKETDATA_EVENT_RETENTION_HOURS
    )
    cutoff = timezone.now() - older_than
    deleted = 0
    while True:
        ids = list(
            UserEvent.objects.filter(created_at__lt=cutoff).values_list(
                "pk", flat=True
            )[:5000]
        )
        if not ids:
            return deleted
        with transaction.atomic():
            deleted += UserEvent.objects.filter(pk__in=ids).delete()[0]
