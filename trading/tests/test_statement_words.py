"""The statement in people's words: an order's hold, fills and release grouped
under the order, each row saying what happened (trading/templatetags/
statement_words.py, loaded by templates/wallet/statement.html)."""

import re

import pytest
from django.test import Client

from kyc.testing import make_verified_user
from trading.services import order_cancel, order_place
from trading.tests.helpers import fund, make_btc_usd, match

pytestmark = pytest.mark.django_db


def _rows(html: str) -> list[tuple[str, str]]:
    """(class, text) of each statement row, cells joined by " | "."""
    body = html.split('<table id="statement">')[1].split("</table>")[0]
    rows = []
    for cls, cells in re.findall(
        r'<tr(?: class="([\w-]+)")?[^>]*>(.*?)</tr>', body, re.S
    ):
        texts = [
            re.sub(r"<[^>]+>", "", c).strip()
            for c in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)
        ]
        if texts:
            rows.append((cls, " | ".join(texts)))
    return rows


def test_holds_fills_and_releases_are_grouped_under_their_order():
    instrument = make_btc_usd()
    alice = make_verified_user(email="alice@example.com")
    bob = make_verified_user(email="bob@example.com")
    fund(alice, instrument.quote, 100_000_00)
    fund(bob, instrument.base, 10**8)
    # bob rests 0.1 BTC at 95,000; alice buys 0.3 at 95,000: 0.1 fills, she cancels
    order_place(user=bob, symbol="BTC-USD", side="sell", price="95000", quantity="0.1")
    match(instrument)
    buy, _ = order_place(
        user=alice, symbol="BTC-USD", side="buy", price="95000", quantity="0.3"
    )
    match(instrument)
    order_cancel(user=alice, order_id=buy.pk)
    match(instrument)
    client = Client()
    client.force_login(alice, backend="accounts.backends.EmailBackend")
    rows = _rows(client.get("/wallet/statement/").content.decode())
    head = f"Buy order #{buy.pk} · BTC-USD · cancelled"
    # the time column aside
    what = [(cls, text.split(" | ", 1)[-1]) for cls, text in rows]
    assert what == [
        ("group-head", head),
        (
            "in-group",
            f"19,000.00 USD back to available from buy order #{buy.pk}"
            " | USD available | +19,000.00 | 90,500.00",
        ),
        (
            "in-group",
            f"Released 19,000.00 USD from buy order #{buy.pk}"
            " | USD held | -19,000.00 | 0.00",
        ),
        (
            "in-group",
            "Paid 9,500.00 USD for 0.1 BTC at 95,000.00 USD"
            " | USD held | -9,500.00 | 19,000.00",
        ),
        (
            "in-group",
            "Bought 0.1 BTC at 95,000.00 USD"
            " | BTC available | +0.09980000 | 0.09980000",
        ),
        (
            "in-group",
            f"Set aside 28,500.00 USD for buy order #{buy.pk}"
            " | USD available | -28,500.00 | 71,500.00",
        ),
        (
            "in-group",
            f"Held 28,500.00 USD for buy order #{buy.pk}"
            " | USD held | +28,500.00 | 28,500.00",
        ),
        ("", "Deposited 100,000.00 USD | USD available | +100,000.00 | 100,000.00"),
    ]
