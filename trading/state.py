"""What a trading process keeps in memory from one request or matching run to
the next, in one object: a test resets it with one call, and a reader sees every
per-process cache in one place. Each is safe to lose: a process rebuilds them
from the database."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trading.engine import Book
    from trading.models import Instrument, Order
    from wallet.models import Account


@dataclass(eq=False)
class MatcherState:
    # instrument id -> (book_version it is valid for, book)
    books: dict[int, tuple[int, Book]] = field(default_factory=dict)
    # instrument id -> its open orders (with their holds) as the last run left
    # them, valid exactly as long as its `books` entry: a run finds the makers it
    # trades with here instead of reading each from the database (a round trip
    # each, most of a small run's waiting). Only the matcher changes an open
    # order and its hold, but for an amend request, which grows the hold up
    # front: an order with an amend waiting is read again.
    orders: dict[int, dict[int, Order]] = field(default_factory=dict)
    # (owner id, asset id, kind) -> ledger account. Safe to keep: accounts are
    # never deleted, their identity never changes, and the ledger re-reads
    # balances under its locks. Only accounts that existed before the run go in
    # (one created by a run that then rolls back must not be remembered). Under
    # load runs are small, and looking the accounts up again was a sixth of each.
    accounts: dict[tuple[int | None, int, str], Account] = field(default_factory=dict)
    # Instruments by symbol as placement last read them, base and quote
    # included (trading.selectors.instrument_for_order says why that is safe).
    placement_instruments: dict[str, Instrument] = field(default_factory=dict)
    # Fault injection for the crash tests: when set, called with the instrument
    # inside the matching transaction, after every write and before commit.
    fault_hook: Callable[[Instrument], None] | None = None
    # When this process last finished a matching run (time.monotonic).
    last_run_ended: float = 0.0

    def forget(self, instrument_id: int) -> None:
        """Drop the instrument's book and orders: they may be ahead of the
        database (a run that failed)."""
        self.books.pop(instrument_id, None)
        self.orders.pop(instrument_id, None)

    def reset(self) -> None:
        """Forget everything, as a fresh process would start (in place: the
        modules that keep a reference to a cache see it emptied)."""
        self.books.clear()
        self.orders.clear()
        self.accounts.clear()
        self.placement_instruments.clear()
        self.fault_hook = None
        self.last_run_ended = 0.0


matcher_state = MatcherState()
