from enum import StrEnum


class ReportsErrorCode(StrEnum):
    INVALID_DATE = "invalid_date"
