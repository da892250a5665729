"""Channel-layer group names of the streams. What is published, and when, lives
in marketdata (`marketdata.services.market_batch_record`, called by the matching
batch; `marketdata.publish` puts it on the layer after commit)."""

from __future__ import annotations


def market_group(symbol: str) -> str:
    return f"market.{symbol}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"
