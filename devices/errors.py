"""The devices app's error codes (the `code` of the API's error body)."""

from __future__ import annotations

from enum import StrEnum


class DevicesErrorCode(StrEnum):
    PHONE_INVALID = "phone_invalid"
    PHONE_CODE_RATE_LIMITED = "phone_code_rate_limited"
    PHONE_CODE_WRONG = "phone_code_wrong"
    PHONE_CODE_EXPIRED = "phone_code_expired"
    PHONE_CODE_LOCKED = "phone_code_locked"
    PHONE_NO_PENDING_CODE = "phone_no_pending_code"
    PHONE_ALREADY_VERIFIED = "phone_already_verified"
    PHONE_NOT_FOUND = "phone_not_found"
    SMS_UNAVAILABLE = "sms_unavailable"
    SMS_REFUSED = "sms_refused"
    WEBPUSH_UNAVAILABLE = "webpush_unavailable"
    WEBPUSH_ENDPOINT_INVALID = "webpush_endpoint_invalid"
    WEBPUSH_KEYS_INVALID = "webpush_keys_invalid"
    SUBSCRIPTION_NOT_FOUND = "subscription_not_found"
    MOBILE_DEVICE_NOT_FOUND = "mobile_device_not_found"
    MOBILE_TOKEN_INVALID = "mobile_token_invalid"
