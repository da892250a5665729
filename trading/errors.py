from enum import StrEnum


class TradingErrorCode(StrEnum):
    UNKNOWN_SYMBOL = "unknown_symbol"
    INSTRUMENT_NOT_TRADING = "instrument_not_trading"
    TIME_IN_FORCE_NOT_IN_CALL = "time_in_force_not_in_call"
    INVALID_INSTRUMENT = "invalid_instrument"
    INVALID_FEE = "invalid_fee"
    INVALID_ORDER = "invalid_order"
    INVALID_TICK = "invalid_tick"
    INVALID_LOT = "invalid_lot"
    BELOW_MIN_QUANTITY = "below_min_quantity"
    BELOW_MIN_NOTIONAL = "below_min_notional"
    PRICE_OUT_OF_BAND = "price_out_of_band"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    TOO_MANY_OPEN_ORDERS = "too_many_open_orders"
    CLIENT_ORDER_ID_REUSED = "client_order_id_reused"
    ORDER_NOT_FOUND = "order_not_found"
    ORDER_NOT_OPEN = "order_not_open"
    ORDER_NOT_AMENDABLE = "order_not_amendable"
    PRICE_ALERT_NOT_FOUND = "price_alert_not_found"
    TOO_MANY_PRICE_ALERTS = "too_many_price_alerts"
    INVALID_PRICE_ALERT = "invalid_price_alert"
