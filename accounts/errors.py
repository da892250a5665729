from enum import StrEnum


class AccountsErrorCode(StrEnum):
    EMAIL_TAKEN = "email_taken"
    WEAK_PASSWORD = "weak_password"
    INVALID_CREDENTIALS = "invalid_credentials"
    ACCOUNT_SUSPENDED = "account_suspended"
    LOGIN_LOCKED = "login_locked"
    OTP_REQUIRED = "otp_required"
    OTP_INVALID = "otp_invalid"
    TWO_FACTOR_ALREADY_ENABLED = "two_factor_already_enabled"
    TWO_FACTOR_NOT_ENABLED = "two_factor_not_enabled"
    TWO_FACTOR_SETUP_MISSING = "two_factor_setup_missing"
    TOKEN_INVALID = "token_invalid"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDEMPOTENCY_KEY_INVALID = "idempotency_key_invalid"
