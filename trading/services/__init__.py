"""Every write of the trading app. Import from here: `trading.services.order_place`."""

from trading.services.alerts import (
    price_alert_create,
    price_alert_delete,
    price_alert_update,
)
from trading.services.batch import CancelResult, order_cancel_batch
from trading.services.fees import fee_override_remove, fee_override_set
from trading.services.instruments import (
    instrument_create,
    instrument_set_status,
    instrument_update,
)
from trading.services.matching import matching_run, matching_schedule
from trading.services.oco import order_place_oco
from trading.services.orders import (
    PlaceResult,
    order_amend,
    order_cancel,
    order_cancel_all,
    order_place,
    order_place_batch,
    order_place_judge,
)
from trading.services.preview import (
    OrderPreview,
    order_preview,
    trading_preference_set,
)
from trading.services.watchlist import watchlist_add, watchlist_remove

__all__ = [
    "CancelResult",
    "OrderPreview",
    "PlaceResult",
    "fee_override_remove",
    "fee_override_set",
    "instrument_create",
    "instrument_set_status",
    "instrument_update",
    "matching_run",
    "matching_schedule",
    "order_amend",
    "order_cancel",
    "order_cancel_all",
    "order_cancel_batch",
    "order_place",
    "order_place_batch",
    "order_place_oco",
    "price_alert_create",
    "price_alert_delete",
    "price_alert_update",
    "order_place_judge",
    "order_preview",
    "trading_preference_set",
    "watchlist_add",
    "watchlist_remove",
]
