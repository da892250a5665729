from enum import StrEnum


class MarketDataErrorCode(StrEnum):
    INVALID_INTERVAL = "invalid_interval"
    INVALID_RANGE = "invalid_range"
