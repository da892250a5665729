from enum import StrEnum


class BackofficeErrorCode(StrEnum):
    PERMISSION_DENIED = "permission_denied"
    USER_NOT_FOUND = "user_not_found"
