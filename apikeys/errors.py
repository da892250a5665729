from enum import StrEnum


class ApiKeyErrorCode(StrEnum):
    """What a signed request or the key management can be refused with
    (docs/api-keys.md; the names are shared with the rate limiter and the
    example client)."""

    HEADERS_INVALID = "api_key_headers_invalid"
    SIGNATURE_INVALID = "signature_invalid"
    REVOKED = "api_key_revoked"
    EXPIRED = "api_key_expired"
    TIMESTAMP_OUTSIDE_WINDOW = "timestamp_outside_window"
    SIGNATURE_REPLAYED = "signature_replayed"
    ADDRESS_NOT_ALLOWED = "address_not_allowed"
    SCOPE_MISSING = "scope_missing"
    # management
    SECOND_FACTOR_REQUIRED = "second_factor_required"
    OTP_REQUIRED = "otp_required"
    OTP_INVALID = "otp_invalid"
    KEY_NOT_FOUND = "api_key_not_found"
    KEY_LIMIT = "api_key_limit"
