import io

import pytest
from django.core.management import call_command

from accounts.models import AuditCode, AuditEvent
from trading.models import Instrument
from trading.tests.helpers import assert_ledger_ok

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_the_instruments_once():
    first = io.StringIO()
    call_command("seed_demo", stdout=first)
    second = io.StringIO()
    call_command("seed_demo", stdout=second)

    rows = Instrument.objects.order_by("symbol").values_list(
        "symbol", "base__code", "quote__code", "tick_size", "lot_size", "status"
    )
    assert list(rows) == [
        ("BTC-USD", "BTC", "USD", 100, 10**6, "trading"),
        ("ETH-USD", "ETH", "USD", 10, 10**7, "trading"),
        ("RELIANCE-INR", "RELIANCE", "INR", 5, 1, "trading"),
        ("TCS-INR", "TCS", "INR", 5, 1, "trading"),
    ]
    for instrument in Instrument.objects.select_related("base"):
        assert (
            instrument.tick_size * instrument.lot_size % 10**instrument.base.decimals
            == 0
        )
    policies = dict(Instrument.objects.values_list("symbol", "fee_policy"))
    assert policies == {
        "BTC-USD": "received",
        "ETH-USD": "received",
        "RELIANCE-INR": "quote",
        "TCS-INR": "quote",
    }
    assert AuditEvent.objects.filter(code=AuditCode.INSTRUMENT_CREATED).count() == 4
    assert "BTC-USD (created): tick 1.00 USD, lot 0.01000000 BTC" in first.getvalue()
    assert "TCS-INR (exists): tick 0.05 INR, lot 1 TCS" in second.getvalue()
    assert_ledger_ok()
