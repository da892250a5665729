"""Every kind of notification the platform sends: its category, the channels it
uses unless the user says otherwise, and whether it is a security notice.

Security notices cannot be turned off: they always go in-app and by email, and
by SMS when the user has a verified phone (the "sms" sender skips a user without
one: `NoTarget`). Other types start with `default_channels` and follow the
user's preferences (notifications.models.Preference).
"""

from __future__ import annotations

from dataclasses import dataclass

IN_APP = "in_app"
EMAIL = "email"
SMS = "sms"
WEBPUSH = "webpush"
MOBILE = "mobile"

# In display order (the preferences grid's columns). In-app is the Notification
# row itself; every other channel is a Delivery row sent by the delivery task.
CHANNELS: tuple[str, ...] = (IN_APP, EMAIL, SMS, WEBPUSH, MOBILE)
CHANNEL_LABELS = {
    IN_APP: "In-app",
    EMAIL: "Email",
    SMS: "SMS",
    WEBPUSH: "Browser push",
    MOBILE: "Mobile push",
}
SECURITY_CHANNELS = frozenset({IN_APP, EMAIL, SMS})

ORDERS = "orders"
MONEY = "money"
ACCOUNT = "account"
ALERTS = "alerts"
CATEGORY_LABELS = {
    ORDERS: "Orders",
    MONEY: "Money",
    ACCOUNT: "Account and security",
    ALERTS: "Alerts",
}

_PUSH = frozenset({IN_APP, WEBPUSH, MOBILE})
_PUSH_AND_EMAIL = _PUSH | {EMAIL}


@dataclass(frozen=True)
class EventType:
    code: str
    label: str
    category: str
    default_channels: frozenset[str]
    security: bool = False


def _security(code: str, label: str) -> EventType:
    return EventType(code, label, ACCOUNT, SECURITY_CHANNELS, security=True)


TYPES: tuple[EventType, ...] = (
    # orders
    EventType("order_filled", "Order filled", ORDERS, _PUSH_AND_EMAIL),
    EventType("order_partially_filled", "Order partially filled", ORDERS, _PUSH),
    EventType(
        "order_cancelled",
        "Order cancelled or expired by the system",
        ORDERS,
        _PUSH_AND_EMAIL,
    ),
    EventType(
        "order_rejected", "Order rejected by the matcher", ORDERS, _PUSH_AND_EMAIL
    ),
    EventType("stop_triggered", "Stop order triggered", ORDERS, _PUSH),
    # money
    EventType("deposit_credited", "Deposit credited", MONEY, _PUSH_AND_EMAIL),
    EventType("withdrawal_approved", "Withdrawal approved", MONEY, _PUSH_AND_EMAIL),
    EventType("withdrawal_rejected", "Withdrawal rejected", MONEY, _PUSH_AND_EMAIL),
    EventType("withdrawal_sent", "Withdrawal sent", MONEY, _PUSH_AND_EMAIL),
    EventType("withdrawal_completed", "Withdrawal completed", MONEY, _PUSH_AND_EMAIL),
    EventType("withdrawal_failed", "Withdrawal failed", MONEY, _PUSH_AND_EMAIL),
    EventType("transfer_received", "Transfer received", MONEY, _PUSH_AND_EMAIL),
    EventType("adjustment_posted", "Balance adjustment posted", MONEY, _PUSH_AND_EMAIL),
    # account and security
    EventType(
        "kyc_decided", "Identity verification decision", ACCOUNT, _PUSH_AND_EMAIL
    ),
    _security("new_device_sign_in", "Sign-in from a new device"),
    _security("password_changed", "Password changed"),
    _security("email_changed", "Email address changed"),
    _security("second_factor_added", "Second factor added"),
    _security("second_factor_removed", "Second factor removed"),
    _security("backup_codes_regenerated", "Backup codes regenerated"),
    _security("phone_changed", "Phone number changed"),
    _security("api_key_changed", "API key changed"),
    _security("staff_action", "Action by our staff on your account"),
    # alerts
    EventType("price_alert", "Price alert", ALERTS, _PUSH_AND_EMAIL),
    EventType("balance_low", "Balance below your minimum", ALERTS, _PUSH_AND_EMAIL),
)

BY_CODE: dict[str, EventType] = {event_type.code: event_type for event_type in TYPES}
EVENT_TYPE_CHOICES = [(t.code, t.label) for t in TYPES]


def event_type(code: str) -> EventType:
    return BY_CODE[code]


def default_enabled(code: str, channel: str) -> bool:
    return channel in BY_CODE[code].default_channels
