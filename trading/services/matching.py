"""The per-instrument matching job (DESIGN.md, "Orders and matching").

One run is one transaction: lock the instrument row (one matcher per instrument,
any worker may run it), bring the book up to date (the in-memory book is trusted
only at the instrument's exact `book_version`, else rebuilt from open orders and
checked not to cross), apply a batch of pending commands in arrival order, and write
everything the engine said: orders and their history, trades and fills, the
settlement journals (each fill posts part of both holds, fees to the fees
accounts), released holds, the new sequence, and the run's domain event
(`trading.events.MatchingRunApplied`: subscribers keep the market data and the
user streams in the same transaction and broadcast after commit). The process
state it keeps between runs is `trading.state.matcher_state`.

A crash anywhere rolls the whole batch back and drops the in-memory book; the next
run (or the sweeper) redoes it from the database. A duplicate run finds nothing
pending and ends.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import AuditCode
from accounts.services import audit_event_record
from config.bulk import (
    bulk_update_rows,
    column_in,
    insert_rows,
    instance_from_row,
    model_columns,
    new_instance,
    pipelined,
    rows_lock,
)
from config.events import record
from config.logging import log_context
from config.metrics import matching_run_observe
from trading import fees
from trading.engine import (
    STP,
    Accepted,
    Amend,
    Amended,
    Book,
    Cancel,
    ExpireDay,
    ExpireDue,
    Indicative,
    LevelChanged,
    OrderDone,
    OrderType,
    Phase,
    PhaseChanged,
    Place,
    PlaceOco,
    Rejected,
    RestingOrder,
    SetBand,
    SetPhase,
    Side,
    StopMoved,
    StopTriggered,
    TimeInForce,
    Uncross,
    book_class,
)
from trading.engine import (
    Trade as TradeEvent,
)
from trading.events import MatchingRunApplied
from trading.holds import hold_for, hold_need, hold_need_shared, is_waiting_stop
from trading.models import (
    Fill,
    Instrument,
    Order,
    OrderCommand,
    OrderStatusChange,
    Trade,
)
from trading.phases import (
    CLOSED_SESSION_PHASE,
    PhaseHooks,
    book_phase,
    phase_follows_sessions,
    phase_hooks,
    sessions_due_instrument_ids,
)
from trading.state import matcher_state
from trading.transitions import order_transition_check
from wallet.ledger import (
    HoldLeg,
    JournalSpec,
    Posting,
    account_get_or_create,
    ledger_post_batch,
)
from wallet.models import Account, Asset, Hold, Journal

logger = logging.getLogger(__name__)

_DONE_STATUS = {
    "filled": Order.Status.FILLED,
    "cancelled": Order.Status.CANCELLED,
    "expired": Order.Status.EXPIRED,
}
_INSTRUMENT_FIELDS = (
    "engine_seq",
    "book_version",
    "next_priority",
    "last_price_ticks",
    "updated_at",
)
_ORDER_FIELDS = (
    "status",
    "reason",
    "open_lots",
    "filled_lots",
    "filled_quote",
    "fees_paid",
    "price_ticks",
    "quantity_lots",
    "stop_triggered",
    "stop_price_ticks",
    "book_priority",
    "updated_at",
)
# A GTD order's own run is sent with an ETA only this close to its time: a
# Redis broker redelivers a message unacked for its visibility timeout (one
# hour), so longer ETAs would loop; the sweeper expires the rest.
GTD_ETA_HORIZON = timedelta(minutes=30)


@dataclass
class MatchResult:
    processed: int = 0
    trades: int = 0
    more: bool = False
    halted: bool = False


def _queued_key(instrument_id: int) -> str:
    return f"trading:match-queued:{instrument_id}"


def _mark_queued(instrument_id: int) -> bool:
    """True if no run of the instrument is queued yet (and now one is marked).
    Under load a run was being sent per order, each finding its commands already
    taken by the previous one; now at most one waits per instrument."""
    try:
        return cache.add(
            _queued_key(instrument_id), 1, settings.TRADING_QUEUED_MARK_SECONDS
        )
    except Exception:  # cache down: send anyway, an extra run costs little
        logger.warning("matching %s: cache unavailable, sending", instrument_id)
        return True


def _clear_queued(instrument_id: int) -> None:
    """A run is starting: whatever commits from now on must queue another one. (It
    reads the queue after this, so nothing committed before is missed.)"""
    try:
        cache.delete(_queued_key(instrument_id))
    except Exception:  # the mark expires by itself
        logger.warning("matching %s: could not clear the queued mark", instrument_id)


def matching_queue(instrument_id: int) -> str | None:
    """The queue of an instrument's matching jobs: `matching-<id mod N>` with
    TRADING_MATCH_SHARDS = N > 1, so that one worker (consuming that queue)
    runs the instrument and keeps its book in memory; None (the default queue)
    with one shard. Any worker may still run any instrument (the row lock keeps
    it correct); a job run elsewhere rebuilds the book once."""
    shards = settings.TRADING_MATCH_SHARDS
    return None if shards <= 1 else f"matching-{instrument_id % shards}"


def _send(instrument_id: int) -> None:
    from trading.tasks import match_instrument

    queue = matching_queue(instrument_id)
    if queue is None:
        match_instrument.delay(instrument_id)
    else:
        match_instrument.apply_async((instrument_id,), queue=queue)


def matching_schedule(*, instrument_id: int) -> None:
    """Ask a worker to run the instrument's job once the current transaction
    commits, unless a run is already queued. A lost message only delays the work:
    the mark expires and the sweeper re-drives the instrument."""

    def send() -> None:
        if not _mark_queued(instrument_id):
            return
        try:
            _send(instrument_id)
        except Exception:  # broker down, or an eager run failed: sweeper's job now
            _clear_queued(instrument_id)
            logger.exception("could not run matching for instrument %s", instrument_id)

    transaction.on_commit(send)


def matching_schedule_at(*, instrument_id: int, when) -> None:
    """After commit, ask for a run of the instrument at `when` (a GTD order's
    expiry), so it expires within about a second even on a quiet book. Beyond
    `GTD_ETA_HORIZON` nothing is sent: the sweeper expires it (and re-drives
    any run that was lost)."""

    def send() -> None:
        if when - timezone.now() > GTD_ETA_HORIZON:
            return
        from trading.tasks import match_instrument

        options = {"eta": when + timedelta(milliseconds=50)}
        if (queue := matching_queue(instrument_id)) is not None:
            options["queue"] = queue
        try:
            match_instrument.apply_async((instrument_id,), **options)
        except Exception:  # broker down: the sweeper expires it
            logger.exception("could not schedule expiry for %s", instrument_id)

    transaction.on_commit(send)


def matching_sweep(*, older_than: timedelta | None = None) -> list[int]:
    """Instruments with commands waiting longer than `older_than`, with GTD
    orders past their time, or with a session transition due (trading/phases.py):
    re-drive them."""
    if older_than is None:  # not `or`: timedelta(0) is falsy and means "all"
        older_than = timedelta(seconds=settings.TRADING_SWEEP_AFTER_SECONDS)
    now = timezone.now()
    cutoff = now - older_than
    # A halted instrument only has work when a cancel waits (places wait for the
    # resume, which schedules a run itself).
    waiting = OrderCommand.objects.filter(
        processed_at__isnull=True, created_at__lte=cutoff
    ).filter(
        Q(instrument__status=Instrument.Status.TRADING)
        | Q(kind=OrderCommand.Kind.CANCEL)
    )
    due = Order.objects.filter(
        status__in=Order.OPEN_STATUSES, expire_at__isnull=False, expire_at__lte=now
    )
    instrument_ids = sorted(
        set(waiting.values_list("instrument_id", flat=True))
        | set(due.values_list("instrument_id", flat=True))
        | set(sessions_due_instrument_ids(now=now))  # a session transition due
    )
    for instrument_id in instrument_ids:
        try:
            _send(instrument_id)
        except Exception:  # one failing instrument must not stop the others
            logger.exception("could not re-drive instrument %s", instrument_id)
    return instrument_ids


RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock
MAX_ATTEMPTS = 3


def _retryable(exc: BaseException) -> bool:
    cause = exc.__cause__
    return isinstance(exc, OperationalError) and (
        getattr(cause, "sqlstate", None) in RETRYABLE_SQLSTATES
    )


def matching_linger() -> float:
    """Before a worker's run: if this process finished one less than
    TRADING_MATCH_LINGER_MS ago, wait out the rest, so that commands arriving
    one by one are applied in fewer, larger runs (a run's fixed cost, the
    worker's task and the messages it publishes, is most of a small run). An
    idle worker does not wait. Returns the seconds waited."""
    linger = settings.TRADING_MATCH_LINGER_MS / 1000
    if linger <= 0:
        return 0.0
    wait = matcher_state.last_run_ended + linger - time.monotonic()
    if wait <= 0:
        return 0.0
    time.sleep(wait)
    return wait


def matching_run(
    *, instrument_id: int, batch_size: int | None = None, now=None
) -> MatchResult:
    """Apply up to `batch_size` pending commands of one instrument, after
    expiring its GTD orders due at `now` (the clock; tests pass their own). A
    deadlock or serialization failure rolls the batch back and retries it
    (bounded, logged)."""
    started, outcome, result = time.monotonic(), "error", MatchResult()
    try:
        with log_context(instrument_id=instrument_id):
            result = _match(instrument_id, batch_size, now)
        outcome = "halted" if result.halted else "ok"
        return result
    finally:
        matcher_state.last_run_ended = time.monotonic()
        matching_run_observe(
            commands=result.processed,
            seconds=matcher_state.last_run_ended - started,
            outcome=outcome,
        )


def _match(instrument_id: int, batch_size: int | None, now) -> MatchResult:
    _clear_queued(instrument_id)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return _run(
                instrument_id,
                batch_size or settings.TRADING_MATCH_BATCH,
                now or timezone.now(),
            )
        except BaseException as exc:
            matcher_state.forget(instrument_id)  # it may be ahead of the database
            if attempt == MAX_ATTEMPTS or not _retryable(exc):
                raise
            logger.warning(
                "matching %s: attempt %s failed (%s); retrying",
                instrument_id,
                attempt,
                exc,
            )
    raise AssertionError("unreachable")


# --- Reads in SQL -----------------------------------------------------------------
# A run's reads are the same few queries every time; the ORM compiled them anew
# in each run, a fifth of a small run's CPU.


def _instrument_lock(instrument_id: int) -> Instrument:
    """The instrument with its base and quote, its row locked: NO KEY UPDATE,
    because placements inserting orders and commands take KEY SHARE on it (their
    foreign keys) and must not wait for us."""
    connection = transaction.get_connection()
    asset = Asset._meta.db_table
    sql = (
        # names from the models, values as parameters
        f"SELECT {model_columns(Instrument, 'i')}, {model_columns(Asset, 'b')},"  # noqa: S608
        f" {model_columns(Asset, 'q')} FROM {Instrument._meta.db_table} i"
        f" JOIN {asset} b ON b.id = i.base_id JOIN {asset} q ON q.id = i.quote_id"
        " WHERE i.id = %s"
    )
    if connection.features.has_select_for_update_of:
        sql += " FOR NO KEY UPDATE OF i"
    with connection.cursor() as cursor:
        cursor.execute(sql, [instrument_id])
        row = cursor.fetchone()
    if row is None:
        raise Instrument.DoesNotExist(f"instrument {instrument_id}")
    instrument, base, quote = _split_row(row, Instrument, Asset, Asset)
    instrument.base, instrument.quote = base, quote
    return instrument


def _pending_commands(
    instrument_id: int, *, cancels_only: bool, limit: int
) -> list[OrderCommand]:
    """The instrument's first unprocessed commands, each with its order and the
    order's hold."""
    sql = (
        # names from the models, values as parameters
        f"SELECT {model_columns(OrderCommand, 'c')}, {_order_and_hold_columns()}"  # noqa: S608
        f" FROM {OrderCommand._meta.db_table} c"
        f" JOIN {Order._meta.db_table} o ON o.id = c.order_id"
        f" LEFT JOIN {Hold._meta.db_table} h ON h.id = o.hold_id"
        " WHERE c.instrument_id = %s AND c.processed_at IS NULL"
        + (" AND c.kind = %s" if cancels_only else "")
        + " ORDER BY c.id LIMIT %s"
    )
    params = [instrument_id, *([OrderCommand.Kind.CANCEL.value] * cancels_only)]
    commands = []
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(sql, [*params, limit])
        for row in cursor.fetchall():
            command, order, hold = _split_row(row, OrderCommand, Order, Hold)
            order.hold = hold
            command.order = order
            commands.append(command)
    return commands


def _orders_with_holds(order_ids: list[int]) -> list[Order]:
    connection = transaction.get_connection()
    where, params = column_in("o.id", order_ids)
    sql = (
        # names from the models, values as parameters
        f"SELECT {_order_and_hold_columns()} FROM {Order._meta.db_table} o"  # noqa: S608
        f" LEFT JOIN {Hold._meta.db_table} h ON h.id = o.hold_id WHERE {where}"
    )
    orders = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for row in cursor.fetchall():
            order, hold = _split_row(row, Order, Hold)
            order.hold = hold
            orders.append(order)
    return orders


def _last_pending_amends(instrument_id: int) -> dict[int, int]:
    """{order id: pk of its last unprocessed amend} over the whole queue."""
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(
            # names from the model, values as parameters
            f"SELECT order_id, MAX(id) FROM {OrderCommand._meta.db_table}"  # noqa: S608
            " WHERE instrument_id = %s AND processed_at IS NULL AND kind = %s"
            " GROUP BY order_id",
            [instrument_id, OrderCommand.Kind.AMEND.value],
        )
        return dict(cursor.fetchall())


def _gtd_due(instrument_id: int, now) -> bool:
    """Whether an open order of the instrument is past its time (index
    `order_gtd_due`): a run without commands still has work then."""
    return Order.objects.filter(
        instrument_id=instrument_id,
        status__in=Order.OPEN_STATUSES,
        expire_at__isnull=False,
        expire_at__lte=now,
    ).exists()


def _order_and_hold_columns() -> str:
    return f"{model_columns(Order, 'o')}, {model_columns(Hold, 'h')}"


def _split_row(row, *models):
    """One instance per model from a row of their `model_columns` side by side;
    None for a model whose columns are all NULL (a LEFT JOIN that found nothing)."""
    instances, start = [], 0
    for model in models:
        end = start + len(model._meta.concrete_fields)
        values = row[start:end]
        absent = all(value is None for value in values)
        instances.append(None if absent else instance_from_row(model, values))
        start = end
    return instances


# --- Book -------------------------------------------------------------------------


def _epoch(when) -> int | None:
    """Whole seconds since the epoch (the engine's clock), or None."""
    return None if when is None else int(when.timestamp())


def _place(order: Order, *, oco_with: int | None = None, rebuild=False) -> Place:
    """The engine's Place for an order row. A trailing stop arrives without a
    stop price (the engine draws it from the last trade); rebuilt, it carries
    the current one, and an OCO leg its open partner (`oco_with`)."""
    trailing = order.is_trailing
    return Place(
        order_id=order.pk,
        owner=order.user_id,
        side=Side(order.side),
        type=OrderType(order.type),
        price=order.price_ticks,
        quantity=order.quantity_lots,
        time_in_force=TimeInForce(order.time_in_force),
        post_only=order.post_only,
        stop_price=order.stop_price_ticks if rebuild or not trailing else None,
        quote_limit=order.quote_limit,
        stp=STP(order.stp),
        expire_at=_epoch(order.expire_at),
        trail_amount=order.trail_amount_ticks,
        trail_bps=order.trail_bps,
        oco_with=oco_with,
    )


def book_rebuild(instrument: Instrument) -> Book:
    """The book as the database says it is: resting orders in time priority and
    waiting stops in arrival order, in the session's current phase
    (`_phase_restore`). Nothing matches during a rebuild."""
    resting: list[RestingOrder] = []
    stops: list[Place] = []
    markets: list[Order] = []
    open_orders = list(
        Order.objects.filter(
            instrument=instrument,
            status__in=(Order.Status.OPEN, Order.Status.PARTIALLY_FILLED),
        ).order_by("book_priority", "pk")
    )
    open_ids = {order.pk for order in open_orders}
    for order in open_orders:
        partner = order.oco_partner_id if order.oco_partner_id in open_ids else None
        if is_waiting_stop(order):
            stops.append(_place(order, oco_with=partner, rebuild=True))
        elif order.price_ticks is None:  # a market order queued in a call
            markets.append(order)
        else:  # resting: a limit order (or a triggered stop limit), priced
            resting.append(
                RestingOrder(
                    order_id=order.pk,
                    owner=order.user_id,
                    side=Side(order.side),
                    price=cast(int, order.price_ticks),
                    quantity=order.open_lots,
                    filled=order.filled_lots,
                    stp=STP(order.stp),
                    post_only=order.post_only,
                    expire_at=_epoch(order.expire_at),
                    oco_with=partner,
                    day=order.time_in_force == Order.TimeInForce.DAY,
                )
            )
    book = book_class().from_resting(
        instrument.symbol,
        resting,
        stops,
        sequence=instrument.engine_seq,
        last_price=instrument.last_price_ticks,
    )
    _phase_restore(instrument, book, markets)
    return book


def _phase_restore(instrument: Instrument, book: Book, markets: list[Order]) -> None:
    """`from_resting` gives continuous trading: a book rebuilt in a call or
    closed is put back in the session's phase (trading/phases.py), recording
    nothing, and in a call the queued market orders queue again in arrival
    order (a place in a call consumes no sequence number)."""
    hooks = phase_hooks()
    if hooks is None or not phase_follows_sessions(instrument):
        return
    phase = book_phase(hooks.current_phase(instrument_id=instrument.pk))
    if phase is Phase.CONTINUOUS:
        return
    book.process(SetPhase(phase))
    if phase is not Phase.CALL:
        return
    per_tick_lot = instrument.notional_per_tick_lot
    for order in markets:  # what is left of each (a volatility call's taker)
        place = _place(order)
        if order.quantity_lots is not None:
            place = place._replace(quantity=order.quantity_lots - order.filled_lots)
        if order.quote_limit is not None:
            spent = order.filled_quote // per_tick_lot  # ticks x lots
            place = place._replace(quote_limit=order.quote_limit - spent)
        book.process(place)


def _book_for(instrument: Instrument) -> tuple[Book, dict[int, Order]]:
    """The book, and the open orders this process knows as they are now."""
    state = matcher_state
    cached = state.books.get(instrument.pk)
    if cached is not None and cached[0] == instrument.book_version:
        return cached[1], state.orders.setdefault(instrument.pk, {})
    state.books.pop(instrument.pk, None)
    known = state.orders[instrument.pk] = {}
    return book_rebuild(instrument), known


def _halt_crossed(instrument: Instrument, book: Book) -> None:
    from trading.services.instruments import instrument_set_status

    reason = (
        f"Rebuilt book crossed (best bid {book.best_bid()} >= best ask "
        f"{book.best_ask()}); halted instead of trading."
    )
    logger.error("instrument %s: %s", instrument.symbol, reason)
    instrument_set_status(
        instrument=instrument, status=Instrument.Status.HALTED, reason=reason
    )
    audit_event_record(
        code=AuditCode.BOOK_CROSSED_ON_REBUILD,
        target=instrument,
        extra={"best_bid": book.best_bid(), "best_ask": book.best_ask()},
    )


# --- The run ----------------------------------------------------------------------


def _run(instrument_id: int, batch_size: int, now) -> MatchResult:
    with transaction.atomic():
        instrument = _instrument_lock(instrument_id)
        trading = instrument.status == Instrument.Status.TRADING
        # Halted or closed: the book stays, only cancels are applied (all of
        # them, however many places wait ahead of them); nothing else moves.
        pending = _pending_commands(
            instrument_id, cancels_only=not trading, limit=batch_size + 1
        )
        more = len(pending) > batch_size
        commands = pending[:batch_size]
        transitions = _due_transitions(instrument, now) if trading else []
        if not commands and not transitions and not _gtd_due(instrument_id, now):
            return MatchResult()
        book, known = _book_for(instrument)
        # a call collects crossed orders: only a continuous book must not cross
        if trading and book.phase is Phase.CONTINUOUS and book.is_crossed():
            _halt_crossed(instrument, book)
            matching_schedule(instrument_id=instrument_id)  # queued cancels still apply
            return MatchResult(halted=True)
        if phase_follows_sessions(instrument):
            book.process(SetBand(_band(instrument)))  # no event, no number
        batch = _Batch(instrument, book, known=known, now=now)
        amends = [c for c in commands if c.kind == OrderCommand.Kind.AMEND]
        if more or not trading:  # amends may wait beyond what was read
            batch.last_amend = _last_pending_amends(instrument_id)
        else:  # every pending command is in the batch, amends included
            batch.last_amend = {c.order_id: c.pk for c in amends}  # pk order
        for order_id in batch.last_amend:  # its hold grew: read it again
            known.pop(order_id, None)
        for transition in transitions:
            batch.transition(transition)
        batch.expire_due()
        for command in commands:
            batch.apply(command)
        # Sent without waiting for each statement: a round trip only where a
        # result is read (new ids, locked rows), most of a run's waiting under
        # load, when each one also waited its turn for a core. The subscribers
        # of the run's event (the streams, candles, tickers) write in the same
        # pipeline, before the rows other requests lock.
        with pipelined():
            batch.write_records()
            record(
                MatchingRunApplied(
                    instrument=instrument,
                    book=book,
                    book_changes=batch.book_changes,
                    trades=batch.trades,
                    fills=[fill for _, fill in batch.fills],
                    orders=list(batch.changed_orders.values()),
                )
            )
            batch.write_orders_and_settle()
        if matcher_state.fault_hook is not None:
            matcher_state.fault_hook(instrument)
        matcher_state.books[instrument.pk] = (instrument.book_version, book)
        batch.remember_open_orders()
        if more:
            matching_schedule(instrument_id=instrument_id)
        return MatchResult(processed=len(commands), trades=len(batch.trades), more=more)


def _band(instrument: Instrument) -> int | None:
    """The book's volatility band from the instrument's `volatility_band_bps`:
    None when 0 (off); 10000 (the most the instrument allows) is sent as the
    engine's largest, 9999."""
    band = instrument.volatility_band_bps
    return None if band <= 0 else min(band, 9_999)


def _due_transitions(instrument: Instrument, now) -> list:
    """The session transitions due now (docs/sessions.md), none for an
    instrument that follows no session. Locks the session row."""
    hooks = phase_hooks()
    if hooks is None or not phase_follows_sessions(instrument):
        return []
    return list(hooks.due_transitions(instrument=instrument, now=now))


@dataclass
class _Batch:
    """Everything one run writes, gathered in memory and written in bulk."""

    instrument: Instrument
    book: Book
    # the open orders of earlier runs (MatcherState.orders), updated by this one
    known: dict[int, Order] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    # by hold (`_hold_key`): the legs of an OCO pair share one
    hold_remaining: dict[int, int] = field(default_factory=dict)
    holds: dict[int, Hold] = field(default_factory=dict)
    history: list[OrderStatusChange] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    fills: list[tuple[Trade, Fill]] = field(default_factory=list)
    journals: list[JournalSpec] = field(default_factory=list)
    commands: list[OrderCommand] = field(default_factory=list)
    book_changes: list = field(default_factory=list)
    changed_orders: dict[int, Order] = field(default_factory=dict)
    accounts: dict[tuple[int | None, int, str], Account] = field(default_factory=dict)
    # order id -> pk of its last queued amend: until that one is applied, the
    # order's hold keeps what the amends reserved up front.
    last_amend: dict[int, int] = field(default_factory=dict)
    now: datetime = field(default_factory=timezone.now)
    # the last command's events started a volatility call (`volatility_call`)
    volatility_started: bool = False

    def __post_init__(self) -> None:
        self.per_tick_lot = self.instrument.notional_per_tick_lot

    # -- loading ----------------------------------------------------------------

    def _remember(self, order: Order) -> Order:
        known = self.orders.get(order.pk)
        if known is not None:
            return known
        self.orders[order.pk] = order
        hold = order.hold
        if hold is None:
            self.hold_remaining[_hold_key(order)] = 0
        elif hold.pk in self.holds:  # the other leg's: one instance, one sum
            order.hold = self.holds[hold.pk]
        else:
            self.holds[hold.pk] = hold
            self.hold_remaining[hold.pk] = hold.remaining_amount
        return order

    def _load(self, order_ids: set[int]) -> None:
        missing = order_ids - self.orders.keys()
        if not missing:
            return
        known = self.known
        unknown = []
        for order_id in missing:
            order = known.get(order_id)
            if order is None:
                unknown.append(order_id)
            else:
                self._remember(order)
        if unknown:
            for order in _orders_with_holds(sorted(unknown)):
                self._remember(order)

    def remember_open_orders(self) -> None:
        """After the run: the orders it saw that are still open, as they now are
        (their holds brought up to date by the ledger), for the next run."""
        known = self.known
        for order_id, order in self.orders.items():
            # an OCO leg is read again each run: its hold is shared, and the
            # other leg's copy would not see what the ledger did to it
            if order.is_open and order.oco_partner_id is None:
                known[order_id] = order
            else:
                known.pop(order_id, None)

    def _account(self, order: Order | None, asset, kind: str) -> Account:
        """A user's (order's owner) or, with no order, the system's account."""
        key = (order.user_id if order else None, asset.pk, kind)
        account = self.accounts.get(key) or matcher_state.accounts.get(key)
        if account is None:
            owner = order.user if order else None
            account, created = account_get_or_create(
                asset=asset, kind=kind, owner=owner
            )
            if not created:
                matcher_state.accounts[key] = account
        self.accounts[key] = account
        return account

    # -- applying ---------------------------------------------------------------

    def _engine_command(self, command: OrderCommand, order: Order):
        if command.kind == OrderCommand.Kind.PLACE:
            if order.oco_partner_id is not None:  # the limit leg: the pair
                self._load({order.oco_partner_id})
                return PlaceOco(
                    limit=_place(order), stop=_place(self.orders[order.oco_partner_id])
                )
            return _place(order)
        if command.kind == OrderCommand.Kind.CANCEL:
            return Cancel(command.order_id)
        return self._amend_command(command, order)

    def _amend_command(self, command: OrderCommand, order: Order):
        """The command keeps the new total quantity: the engine wants what stays
        open, which depends on the fills up to now. A total already reached closes
        the order; an amend the hold cannot cover (fills since the request changed
        the sums) is refused (None) rather than leaving the order under-held."""
        new_open = None
        if command.new_quantity_lots is not None:
            new_open = command.new_quantity_lots - order.filled_lots
            if new_open <= 0:
                return Cancel(command.order_id)
        resting = self.book.get_order(order.pk)
        if resting is not None:
            price = command.new_price_ticks or resting.price
            lots = resting.quantity if new_open is None else new_open
            need = hold_for(order, self.instrument, price_ticks=price, lots=lots)
            if need > self.hold_remaining[_hold_key(order)]:
                return None
        return Amend(
            command.order_id,
            new_price=command.new_price_ticks,
            new_quantity=new_open,
        )

    def transition(self, due) -> None:
        """One session transition, recorded exactly once
        (`session_transition_record` says whether to apply it): the end of a
        call uncrosses it into the next phase, its trades settled like any
        other; entering a call or closed sets the book's phase. Closing at
        the end of the trading day then ends the DAY orders (`expire_day`)."""
        hooks = cast(PhaseHooks, phase_hooks())
        if not hooks.transition_record(
            instrument=self.instrument, transition=due, now=self.now
        ):
            return
        target = book_phase(due.phase)
        book = self.book
        command: Uncross | SetPhase | None = None
        if due.uncross and book.phase is Phase.CALL:
            command = Uncross(target)
        elif book.phase is not target:
            command = SetPhase(target)
        # else pre-open -> opening auction: the call goes on
        if command is not None:
            events = book.process(command)
            touched, _ = self._apply_events(events, None)
            self._sync_all(touched, ref=f"phase:{book.sequence}", command_pk=None)
            if self.volatility_started:  # a stop the uncross fired, out of band
                self.volatility_call()
        if due.phase == CLOSED_SESSION_PHASE and due.old_phase:
            self.expire_day(due.trading_day)

    def expire_day(self, trading_day) -> None:
        """The session closed at the end of `trading_day`: every open DAY order
        leaves the book (`ExpireDay`), its hold released, in this run's
        transaction. Only a scheduled close gets here: a halt is no transition,
        and a new session entering closed ("" -> closed) ends no day."""
        events = self.book.process(ExpireDay())
        if not events:
            return
        touched, _ = self._apply_events(events, None)
        self._sync_all(touched, ref=f"day:{trading_day}", command_pk=None)

    def expire_due(self) -> None:
        """First in every run: the GTD orders due by now leave the book."""
        now = _epoch(self.now)
        events = self.book.process(ExpireDue(cast(int, now)))
        if not events:
            return
        touched, _ = self._apply_events(events, None)
        self._sync_all(touched, ref=f"gtd:{now}", command_pk=None)

    def apply(self, command: OrderCommand) -> None:
        order = self._remember(command.order)
        if (
            command.kind == OrderCommand.Kind.CANCEL
            and order.status == Order.Status.PENDING
        ):
            if self._cancel_unplaced(command, order):
                return
        if (
            command.kind == OrderCommand.Kind.PLACE
            and order.oco_partner_id is not None
            and order.type != Order.Type.LIMIT
        ):
            # the stop leg went to the engine with its limit leg (PlaceOco)
            self._sync(order, ref=str(command.pk), command_pk=command.pk)
            command.result = "oco"
            command.processed_at = self.now
            self.commands.append(command)
            return
        engine_command = self._engine_command(command, order)
        if engine_command is None:  # an amend the hold cannot cover
            self._sync(order, ref=str(command.pk), command_pk=command.pk)
            command.result = "insufficient_funds"
            command.processed_at = self.now
            self.commands.append(command)
            return
        events = self.book.process(engine_command)
        touched, result = self._apply_events(events, command)
        if self.volatility_started:
            self.volatility_call()
        touched.add(order.pk)
        if command.kind == OrderCommand.Kind.PLACE and order.oco_partner_id:
            partner = self.orders[order.oco_partner_id]
            touched.add(partner.pk)
            if order.status == Order.Status.REJECTED:  # the pair as one
                self._set_status(partner, Order.Status.REJECTED, result)
                partner.open_lots = 0
        self._sync_all(touched, ref=str(command.pk), command_pk=command.pk)
        command.result = result
        command.processed_at = self.now
        self.commands.append(command)

    def _sync_all(self, touched: set[int], *, ref: str, command_pk) -> None:
        """`_sync` each touched order, with the other legs of their OCO pairs
        read (a shared hold is sized by both)."""
        self._load(
            {
                partner
                for order_id in touched
                if (partner := self.orders[order_id].oco_partner_id) is not None
            }
        )
        for order_id in sorted(touched):
            self._sync(self.orders[order_id], ref=ref, command_pk=command_pk)

    def _apply_events(
        self, events: list, command: OrderCommand | None
    ) -> tuple[set[int], str]:
        """Each event into the batch's rows; the orders it touched, the result."""
        self._load({order_id for event in events for order_id in _order_ids(event)})
        touched: set[int] = set()
        result = "applied"
        for event in events:
            if isinstance(event, TradeEvent):
                self._trade(event)
                touched.update((event.maker_order_id, event.taker_order_id))
            elif isinstance(event, Accepted):
                self._accepted(event)
                touched.add(event.order_id)
            elif isinstance(event, OrderDone):
                self._done(event)
                touched.add(event.order_id)
            elif isinstance(event, StopTriggered):
                triggered = self.orders[event.order_id]
                triggered.stop_triggered = True
                self._enter_book(triggered)
                touched.add(event.order_id)
            elif isinstance(event, StopMoved):
                self.orders[event.order_id].stop_price_ticks = event.stop_price
                touched.add(event.order_id)
            elif isinstance(event, Amended):
                self._amended(event)
            elif isinstance(event, Rejected):
                result = str(event.reason)
                if command is not None and command.kind == OrderCommand.Kind.PLACE:
                    order = self.orders[command.order_id]
                    self._set_status(order, Order.Status.REJECTED, result)
                    order.open_lots = 0
            elif isinstance(event, PhaseChanged) and event.reason == "volatility":
                self.volatility_started = True
            # Indicative and PhaseChanged: the market stream's call state
            if isinstance(event, (TradeEvent, LevelChanged, Indicative, PhaseChanged)):
                self.book_changes.append(event)
        return touched, result

    def volatility_call(self) -> None:
        """The band stopped continuous trading (`PhaseChanged(volatility)`): the
        session enters its volatility call, whose end is drawn and stored there
        (`session_volatility_call_start`); its uncross comes as a due
        transition. Should the session refuse (halted by an operator meanwhile),
        the call is uncrossed at once rather than left with no end."""
        self.volatility_started = False
        hooks = cast(PhaseHooks, phase_hooks())
        if hooks.volatility_call_start(instrument=self.instrument, now=self.now):
            return
        logger.warning(
            "instrument %s: no volatility call in the session, uncrossed at once",
            self.instrument.symbol,
        )
        events = self.book.process(Uncross(Phase.CONTINUOUS))
        touched, _ = self._apply_events(events, None)
        self._sync_all(touched, ref=f"phase:{self.book.sequence}", command_pk=None)

    def _cancel_unplaced(self, command: OrderCommand, order: Order) -> bool:
        """A cancel for an order the engine has not seen (its place command is
        still waiting, e.g. on a halted instrument): close it without the book."""
        place = order.commands.filter(
            kind=OrderCommand.Kind.PLACE, processed_at__isnull=True
        ).first()
        if place is None:
            return False
        legs = [order]
        if order.oco_partner_id is not None:  # an OCO pair: both, never one
            self._load({order.oco_partner_id})
            partner = self.orders[order.oco_partner_id]
            legs.append(partner)
            for other in partner.commands.filter(
                kind=OrderCommand.Kind.PLACE, processed_at__isnull=True
            ):
                other.result = "cancelled_before_matching"
                other.processed_at = self.now
                self.commands.append(other)
        place.result = "cancelled_before_matching"
        place.processed_at = self.now
        self.commands.append(place)
        for leg, reason in zip(legs, ("user", "oco"), strict=False):
            if leg.status == Order.Status.PENDING:
                self._set_status(leg, Order.Status.CANCELLED, reason)
                leg.open_lots = 0
        for leg in legs:
            self._sync(leg, ref=str(command.pk), command_pk=command.pk)
        command.result = "applied"
        command.processed_at = self.now
        self.commands.append(command)
        return True

    def _enter_book(self, order: Order) -> None:
        """The order (re-)enters the book: its time priority is now."""
        order.book_priority = self.instrument.next_priority
        self.instrument.next_priority += 1

    def _accepted(self, event: Accepted) -> None:
        order = self.orders[event.order_id]
        self._enter_book(order)
        if event.resting:
            self._set_status(order, Order.Status.OPEN)

    def _amended(self, event: Amended) -> None:
        order = self.orders[event.order_id]
        order.price_ticks = event.price
        order.quantity_lots = order.filled_lots + event.quantity
        order.open_lots = event.quantity
        if not event.priority_kept:
            self._enter_book(order)

    def _done(self, event: OrderDone) -> None:
        order = self.orders[event.order_id]
        reason = "" if str(event.detail) == "" else str(event.detail)
        self._set_status(order, _DONE_STATUS[str(event.reason)], reason)
        order.open_lots = 0

    def _trade(self, event: TradeEvent) -> None:
        instrument = self.instrument
        maker = self.orders[event.maker_order_id]
        taker = self.orders[event.taker_order_id]
        taker_buys = str(event.taker_side) == Order.Side.BUY
        buyer, seller = (taker, maker) if taker_buys else (maker, taker)
        quantity = event.quantity * instrument.lot_size
        notional = event.price * event.quantity * self.per_tick_lot
        if event.auction:  # no maker, no taker: each its maker rate
            buyer_bps = fees.auction_fee_bps(buyer)
            seller_bps = fees.auction_fee_bps(seller)
        else:
            buyer_bps = buyer.taker_fee_bps if buyer is taker else buyer.maker_fee_bps
            seller_bps = (
                seller.taker_fee_bps if seller is taker else seller.maker_fee_bps
            )
        # fees round up, never past what the side receives (trading/fees.py)
        buyer_fee = fees.buyer_fee(buyer, buyer_bps, quantity, notional)
        seller_fee = fees.seller_fee(seller_bps, notional)
        base, quote = instrument.base, instrument.quote
        available = Account.Kind.AVAILABLE
        seller_gets = Posting(
            self._account(seller, quote, available), notional - seller_fee
        )
        quote_fees = self._account(None, quote, Account.Kind.FEES)
        postings: tuple[Posting, ...]
        if buyer.fee_policy == fees.QUOTE:
            # the buyer pays notional + fee in quote and gets every unit bought
            buyer_fee_asset, buyer_paid = quote, notional + buyer_fee
            postings = (
                seller_gets,
                Posting(quote_fees, seller_fee + buyer_fee),
                Posting(self._account(buyer, base, available), quantity),
            )
        else:  # its fee comes out of the base it gets
            buyer_fee_asset, buyer_paid = base, notional
            postings = (
                seller_gets,
                Posting(quote_fees, seller_fee),
                Posting(self._account(buyer, base, available), quantity - buyer_fee),
                Posting(self._account(None, base, Account.Kind.FEES), buyer_fee),
            )
        self.journals.append(
            JournalSpec(
                kind=Journal.Kind.TRADE,
                reference=f"trade:{instrument.pk}:{event.seq}",
                postings=postings,
                hold_legs=(  # every order in the book was placed with its hold
                    HoldLeg(cast(Hold, buyer.hold), post=buyer_paid),
                    HoldLeg(cast(Hold, seller.hold), post=quantity),
                ),
                metadata={
                    "symbol": instrument.symbol,
                    "seq": event.seq,
                    "buy_order": buyer.pk,
                    "sell_order": seller.pk,
                },
            )
        )
        self.hold_remaining[_hold_key(buyer)] -= buyer_paid
        self.hold_remaining[_hold_key(seller)] -= quantity
        trade = new_instance(
            Trade,
            instrument=instrument,
            seq=event.seq,
            price_ticks=event.price,
            quantity_lots=event.quantity,
            quote_amount=notional,
            maker_order=maker,
            taker_order=taker,
            taker_side=str(event.taker_side),
            auction=bool(event.auction),
            buyer_fee=buyer_fee,
            buyer_fee_asset=buyer_fee_asset,
            seller_fee=seller_fee,
            created_at=self.now,
        )
        self.trades.append(trade)
        for order, fee, fee_asset in (
            (buyer, buyer_fee, buyer_fee_asset),
            (seller, seller_fee, quote),
        ):
            order.filled_lots += event.quantity
            order.filled_quote += notional
            order.fees_paid += fee
            self.fills.append(
                (
                    trade,
                    new_instance(
                        Fill,
                        order=order,
                        user_id=order.user_id,
                        instrument=instrument,
                        side=order.side,
                        liquidity=(
                            Fill.Liquidity.AUCTION  # charged the maker rate
                            if event.auction
                            else Fill.Liquidity.TAKER
                            if order is taker
                            else Fill.Liquidity.MAKER
                        ),
                        price_ticks=event.price,
                        quantity_lots=event.quantity,
                        quote_amount=notional,
                        fee=fee,
                        fee_asset=fee_asset,
                        created_at=self.now,
                    ),
                )
            )
        self.instrument.last_price_ticks = event.price

    def _set_status(self, order: Order, status: str, reason: str = "") -> None:
        if order.status == status:
            return
        order_transition_check(old=order.status, new=status)
        self.history.append(
            new_instance(
                OrderStatusChange,
                order=order,
                from_status=order.status,
                to_status=status,
                reason=reason,
                engine_seq=self.book.sequence,
                created_at=self.now,
            )
        )
        order.status = status
        if reason:
            order.reason = reason

    def _sync(self, order: Order, *, ref: str, command_pk: int | None) -> None:
        """After a command: the order's remaining quantity, status and (a
        trailing stop) stop price as the book has them, and its hold brought
        down to exactly what it still needs: with an OCO partner, what the
        larger leg needs (they share it). `ref` names the release journal."""
        if order.is_open:
            resting = self.book.get_order(order.pk)
            if resting is not None:
                order.open_lots = resting.quantity
                order.price_ticks = resting.price
            elif order.is_trailing and is_waiting_stop(order):
                stop = self.book.get_stop(order.pk)
                if stop is not None and stop.stop_price is not None:
                    order.stop_price_ticks = stop.stop_price
            elif (
                order.price_ticks is None
                and order.quantity_lots is not None
                and not is_waiting_stop(order)
            ):  # a market order queued in a call: what it has left
                order.open_lots = order.quantity_lots - order.filled_lots
            if order.filled_lots and order.status == Order.Status.OPEN:
                self._set_status(order, Order.Status.PARTIALLY_FILLED)
        partner = (
            None
            if order.oco_partner_id is None
            else self.orders.get(order.oco_partner_id)
        )
        if partner is not None and partner.hold_id == order.hold_id:
            need = hold_need_shared([order, partner], self.instrument)
        else:
            need = hold_need(order, self.instrument)
        key = _hold_key(order)
        remaining = self.hold_remaining[key]
        amend_queued = command_pk is not None and (
            self.last_amend.get(order.pk, 0) > command_pk
        )
        if (
            need is not None
            and remaining > need
            and not (order.is_open and amend_queued)
        ):
            self.journals.append(
                JournalSpec(
                    kind=Journal.Kind.RELEASE,
                    reference=f"order:{order.pk}:release:{ref}",
                    hold_legs=(
                        HoldLeg(cast(Hold, order.hold), release=remaining - need),
                    ),
                    metadata={"order": order.pk, "symbol": self.instrument.symbol},
                )
            )
            self.hold_remaining[key] = need
        order.updated_at = self.now
        self.changed_orders[order.pk] = order

    # -- writing ----------------------------------------------------------------

    def write_records(self) -> None:
        """The rows nobody else writes: history, trades, fills, the commands'
        results, the instrument's sequence. (Written first: see below.)"""
        insert_rows(self.history, returning=False)
        insert_rows(self.trades)
        fills = []
        for trade, fill in self.fills:
            fill.trade = trade
            fills.append(fill)
        insert_rows(fills)
        bulk_update_rows(OrderCommand, self.commands, ["result", "processed_at"])
        instrument = self.instrument
        instrument.engine_seq = self.book.sequence
        instrument.book_version += 1
        instrument.updated_at = self.now
        bulk_update_rows(Instrument, [instrument], _INSTRUMENT_FIELDS)

    def write_orders_and_settle(self) -> None:
        """The rows placements, cancels and amends also lock: the orders, then
        the holds and accounts of the settlement. Last before commit, so that
        those requests wait for a run's commit only, not for all of its writes
        (with a run of hundreds of commands, that wait was most of a batch
        cancel's latency)."""
        changed = sorted(self.changed_orders.values(), key=lambda order: order.pk)
        # Lock the rows in pk order first, like every other writer of orders
        # (cancel-all), so the update below cannot deadlock with them.
        rows_lock(Order, sorted(order.pk for order in changed))
        bulk_update_rows(Order, changed, _ORDER_FIELDS)
        if self.journals:
            # fresh: its references name the commands this run applies
            ledger_post_batch(journals=self.journals, fresh=True)


def _hold_key(order: Order) -> int:
    """`_Batch.hold_remaining`'s key: the hold (shared by an OCO pair), or for
    an order without one a key of its own."""
    return order.hold_id if order.hold_id is not None else -order.pk


def _order_ids(event) -> tuple[int, ...]:
    if isinstance(event, TradeEvent):
        return (event.maker_order_id, event.taker_order_id)
    order_id = getattr(event, "order_id", None)
    return (order_id,) if isinstance(order_id, int) else ()
