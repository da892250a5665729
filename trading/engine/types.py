"""Vocabulary shared by commands, events and the book.

All enums are ``StrEnum`` so that snapshots and events serialise to readable JSON
("buy", "expire_taker") and compare equal to the plain strings an adapter may pass.
"""

from enum import StrEnum


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"
    STOP_LIMIT = "stop_limit"
    STOP_MARKET = "stop_market"


class TimeInForce(StrEnum):
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"
    #: Good till date: as GTC until the order's ``expire_at`` (see ExpireDue).
    GTD = "gtd"
    #: As GTC until the trading day ends: ``ExpireDay`` expires it (limit and
    #: stop orders; a plain market order reads it as IOC, as it does GTC).
    DAY = "day"


class Phase(StrEnum):
    """Trading phase of a book (see docs/engine.md, "Call auctions")."""

    #: Orders match on arrival (the default; older snapshots restore to it).
    CONTINUOUS = "continuous"
    #: Orders collect without matching, crossed or not, until the uncross.
    CALL = "call"
    #: New orders and amends are refused; cancels and expiries still work.
    CLOSED = "closed"


class STP(StrEnum):
    """Self-trade prevention mode of the incoming (taker) order; it alone decides."""

    EXPIRE_TAKER = "expire_taker"
    EXPIRE_MAKER = "expire_maker"
    EXPIRE_BOTH = "expire_both"


class RejectReason(StrEnum):
    """Why a command changed nothing. A rejected command consumes no sequence."""

    UNKNOWN_COMMAND = "unknown_command"
    UNKNOWN_ORDER = "unknown_order"
    DUPLICATE_ORDER_ID = "duplicate_order_id"
    INVALID_ORDER = "invalid_order"
    INVALID_PRICE = "invalid_price"
    INVALID_STOP_PRICE = "invalid_stop_price"
    INVALID_QUANTITY = "invalid_quantity"
    INVALID_QUOTE_LIMIT = "invalid_quote_limit"
    POST_ONLY_WOULD_TAKE = "post_only_would_take"
    FOK_NOT_FILLABLE = "fok_not_fillable"
    NO_LIQUIDITY = "no_liquidity"
    NOT_AMENDABLE = "not_amendable"
    NOTHING_TO_AMEND = "nothing_to_amend"
    INVALID_EXPIRY = "invalid_expiry"
    INVALID_TRAIL = "invalid_trail"
    NO_REFERENCE_PRICE = "no_reference_price"
    INVALID_OCO = "invalid_oco"
    #: A place or amend while the book is CLOSED.
    MARKET_CLOSED = "market_closed"
    #: IOC or FOK during a call phase: nothing matches until the uncross.
    NOT_IN_CALL = "not_in_call"
    #: SetPhase/Uncross not allowed from the current phase, or a bad phase value.
    INVALID_PHASE = "invalid_phase"
    #: SetBand with a band or reference outside its range.
    INVALID_BAND = "invalid_band"


class DoneReason(StrEnum):
    """How an accepted order left the engine for good."""

    FILLED = "filled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class DoneDetail(StrEnum):
    """The finer cause carried next to a DoneReason."""

    NONE = ""
    USER = "user"
    IOC = "ioc"
    FOK = "fok"
    STP = "stp"
    NO_LIQUIDITY = "no_liquidity"
    QUOTE_LIMIT = "quote_limit"
    POST_ONLY = "post_only"
    GTD = "gtd"  # expired at its expire_at
    OCO = "oco"  # its OCO partner filled, triggered or left
    AUCTION = "auction"  # a market order's remainder after the uncross
    DAY = "day"  # a DAY order at the end of the trading day (ExpireDay)


#: Upper bound (exclusive) for prices, stop prices and quantities. It keeps every
#: value a machine-sized integer and leaves room for the engine's sentinels.
MAX_VALUE = 1 << 62
