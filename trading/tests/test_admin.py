"""The trading back office: instruments through services, read-only order books of
record, the audited operator cancel, and who may see what."""

import pytest

from accounts.models import AuditCode, AuditEvent
from accounts.roles import Role
from accounts.testing import admin_client_for, make_user
from kyc.testing import make_verified_user
from trading.models import Instrument, Order
from trading.services import instrument_set_status, order_place
from trading.tests.helpers import assert_ledger_ok, balances, fund, make_btc_usd, match
from wallet.tests.helpers import make_asset

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    return make_user(email="op@example.com", roles=(Role.OPERATOR,), is_staff=True)


@pytest.fixture
def book():
    """BTC-USD with one trade and one resting buy of alice."""
    instrument = make_btc_usd()
    alice = make_verified_user(email="alice@example.com")
    bob = make_verified_user(email="bob@example.com")
    fund(alice, instrument.quote, 100_000_00)
    fund(bob, instrument.base, 10**8)
    order_place(user=bob, symbol="BTC-USD", side="sell", price="95000", quantity="0.1")
    match(instrument)
    order_place(user=alice, symbol="BTC-USD", side="buy", price="95000", quantity="0.1")
    resting, _ = order_place(
        user=alice,
        symbol="BTC-USD",
        side="buy",
        price="90000",
        quantity="0.5",
        client_order_id="alice-1",
    )
    match(instrument)
    return instrument, alice, resting


def _action(client, url, action, pks):
    return client.post(url, {"action": action, "_selected_action": pks}, follow=True)


@pytest.mark.parametrize(
    "url",
    [
        "/admin/trading/instrument/",
        "/admin/trading/instrument/add/",
        "/admin/trading/feeoverride/",
        "/admin/trading/order/",
        "/admin/trading/order/?status__exact=open&side__exact=buy",
        "/admin/trading/order/?q=alice",
        "/admin/trading/trade/",
        "/admin/trading/fill/",
        "/admin/trading/ordercommand/",
    ],
)
def test_operator_sees_the_trading_back_office(operator, book, url):
    assert admin_client_for(operator).get(url).status_code == 200


def test_lists_and_detail_pages_show_decimal_strings(operator, book):
    instrument, _, resting = book
    client = admin_client_for(operator)
    instruments = client.get("/admin/trading/instrument/").content.decode()
    assert "95000.00" in instruments  # last price
    assert "1.00 USD" in instruments and "0.01000000 BTC" in instruments
    orders = client.get("/admin/trading/order/").content.decode()
    assert "90000.00" in orders and "0.50000000" in orders
    detail = client.get(f"/admin/trading/order/{resting.pk}/change/")
    assert detail.status_code == 200
    assert b"45000.00" not in detail.content  # nothing filled: value is 0.00
    assert b"0.00 USD" in detail.content
    assert b"pending" in detail.content  # the history inline
    fills = client.get("/admin/trading/fill/").content.decode()
    assert "0.00020000 BTC" in fills and "9.50 USD" in fills


def test_instrument_edit_page_shows_steps_read_only(operator, book):
    instrument, *_ = book
    client = admin_client_for(operator)
    page = client.get(f"/admin/trading/instrument/{instrument.pk}/change/")
    assert page.status_code == 200
    assert b'name="tick_size_text"' not in page.content
    assert b'name="base"' not in page.content
    assert b'name="min_notional_text"' in page.content


def test_halt_and_resume_actions_call_the_service_and_are_audited(operator, book):
    instrument, *_ = book
    client = admin_client_for(operator)
    response = _action(
        client, "/admin/trading/instrument/", "halt_selected", [instrument.pk]
    )
    assert b"1 instrument(s) halted." in response.content
    instrument.refresh_from_db()
    assert instrument.status == Instrument.Status.HALTED
    assert instrument.status_reason == "Halted by op@example.com."
    halted = AuditEvent.objects.get(code=AuditCode.INSTRUMENT_HALTED)
    assert halted.acting_user == operator
    assert halted.target_id == str(instrument.pk)
    assert halted.extra["old"] == "trading"

    _action(client, "/admin/trading/instrument/", "resume_selected", [instrument.pk])
    instrument.refresh_from_db()
    assert (instrument.status, instrument.status_reason) == ("trading", "")
    resumed = AuditEvent.objects.get(code=AuditCode.INSTRUMENT_RESUMED)
    assert resumed.acting_user == operator


def test_closed_instrument_cannot_resume(operator, book):
    instrument, *_ = book
    client = admin_client_for(operator)
    _action(client, "/admin/trading/instrument/", "close_selected", [instrument.pk])
    response = _action(
        client, "/admin/trading/instrument/", "resume_selected", [instrument.pk]
    )
    assert b"a closed instrument stays closed" in response.content
    instrument.refresh_from_db()
    assert instrument.status == Instrument.Status.CLOSED


def test_instrument_halted_by_a_crossed_rebuild_is_flagged(operator, book):
    instrument, *_ = book
    instrument_set_status(
        instrument=instrument,
        status=Instrument.Status.HALTED,
        reason="Rebuilt book crossed (best bid 96000 >= best ask 95000); halted.",
    )
    page = admin_client_for(operator).get("/admin/trading/instrument/")
    content = page.content.decode()
    assert "BTC-USD is halted: Rebuilt book crossed" in content  # a message
    assert "⚠ Rebuilt book crossed" in content  # and the list column


def _create_payload(base, quote, **overrides):
    return {
        "symbol": "ETH-USD",
        "base": base.pk,
        "quote": quote.pk,
        "tick_size_text": "0.10",
        "lot_size_text": "0.1",
        "min_quantity_text": "0",
        "min_notional_text": "10",
        "maker_fee_bps": 10,
        "taker_fee_bps": 20,
        "price_band_percent": 10,
        "_save": "Save",
        **overrides,
    }


def test_create_instrument_through_the_service(operator):
    eth, usd = make_asset("ETH", 8), make_asset("USD", 2)
    client = admin_client_for(operator)
    response = client.post(
        "/admin/trading/instrument/add/", _create_payload(eth, usd), follow=True
    )
    assert response.status_code == 200
    instrument = Instrument.objects.get(symbol="ETH-USD")
    assert (instrument.tick_size, instrument.lot_size) == (10, 10**7)
    assert (instrument.min_quantity, instrument.min_notional) == (0, 10_00)
    assert instrument.fee_policy == "received"  # left blank: the default rule
    event = AuditEvent.objects.get(code=AuditCode.INSTRUMENT_CREATED)
    assert event.acting_user == operator
    assert event.target_id == str(instrument.pk)
    assert event.extra["fee_policy"] == "received"


def test_create_instrument_with_a_fee_policy(operator):
    eth, usd = make_asset("ETH", 8), make_asset("USD", 2)
    response = admin_client_for(operator).post(
        "/admin/trading/instrument/add/",
        _create_payload(eth, usd, fee_policy="quote"),
        follow=True,
    )
    assert response.status_code == 200
    assert Instrument.objects.get(symbol="ETH-USD").fee_policy == "quote"


@pytest.mark.parametrize(
    "overrides,field,message",
    [
        (
            {"tick_size_text": "0.01", "lot_size_text": "0.0001"},
            "tick_size_text",
            "must be a multiple of 100000000",
        ),
        ({"tick_size_text": "0.001"}, "tick_size_text", "more than 2 decimal places"),
        ({"lot_size_text": "0"}, "lot_size_text", "must be greater than zero"),
        ({"symbol": "eth_usd"}, "symbol", "Use BASE-QUOTE"),
        ({"maker_fee_bps": 5000}, "maker_fee_bps", "between 0 and 1000"),
        (
            {
                "tick_size_text": "1000000.00",  # x 1 satoshi: 1.00 USD, exact
                "lot_size_text": "0.00000001",
                "fee_policy": "received",
            },
            "fee_policy",
            "received needs a lot of at least 2 ETH units",
        ),
    ],
)
def test_invalid_instrument_shows_a_field_error_and_creates_nothing(
    operator, overrides, field, message
):
    eth, usd = make_asset("ETH", 8), make_asset("USD", 2)
    response = admin_client_for(operator).post(
        "/admin/trading/instrument/add/", _create_payload(eth, usd, **overrides)
    )
    assert response.status_code == 200  # the form again, with its errors
    errors = response.context["adminform"].form.errors
    assert field in errors, errors
    assert message in " ".join(errors[field])
    assert not Instrument.objects.exists()
    assert not AuditEvent.objects.filter(code=AuditCode.INSTRUMENT_CREATED).exists()


def test_edit_goes_through_instrument_update_and_steps_stay(operator, book):
    instrument, *_ = book
    client = admin_client_for(operator)
    response = client.post(
        f"/admin/trading/instrument/{instrument.pk}/change/",
        {
            "min_quantity_text": "0.01",
            "min_notional_text": "25.00",
            "maker_fee_bps": 5,
            "taker_fee_bps": 20,
            "price_band_percent": 0,
            "tick_size_text": "0.01",  # read-only: ignored
            "_save": "Save",
        },
        follow=True,
    )
    assert response.status_code == 200
    instrument.refresh_from_db()
    assert (instrument.min_quantity, instrument.min_notional) == (10**6, 25_00)
    assert (instrument.maker_fee_bps, instrument.tick_size) == (5, 100)
    event = AuditEvent.objects.get(code=AuditCode.INSTRUMENT_UPDATED)
    assert event.acting_user == operator
    assert event.extra["new"] == {
        "maker_fee_bps": 5,
        "min_quantity": 10**6,
        "min_notional": 25_00,
    }


def test_orders_are_read_only(operator, book):
    _, _, resting = book
    client = admin_client_for(operator)
    assert client.get("/admin/trading/order/add/").status_code == 403
    page = client.get(f"/admin/trading/order/{resting.pk}/change/")
    assert b'name="_save"' not in page.content
    assert client.get(f"/admin/trading/order/{resting.pk}/delete/").status_code == 403
    for model in ("trade", "fill", "ordercommand"):
        assert client.get(f"/admin/trading/{model}/add/").status_code == 403


def test_cancel_action_cancels_as_the_user_and_audits_the_operator(operator, book):
    instrument, alice, resting = book
    client = admin_client_for(operator)
    response = _action(client, "/admin/trading/order/", "cancel_selected", [resting.pk])
    assert b"1 cancel(s) requested." in response.content
    match(instrument)  # on_commit does not run in these tests
    resting.refresh_from_db()
    assert resting.status == Order.Status.CANCELLED
    assert balances(alice)["USD"] == (100_000_00 - 9_500_00, 0)
    event = AuditEvent.objects.get(code=AuditCode.ORDER_CANCELLED_BY_OPERATOR)
    assert (event.user, event.acting_user) == (alice, operator)
    assert event.target_id == str(resting.pk)
    assert event.extra["client_order_id"] == "alice-1"

    again = _action(client, "/admin/trading/order/", "cancel_selected", [resting.pk])
    assert b"is already cancelled" in again.content
    assert (
        AuditEvent.objects.filter(code=AuditCode.ORDER_CANCELLED_BY_OPERATOR).count()
        == 1
    )
    assert_ledger_ok()


def test_support_reads_but_cannot_cancel_or_halt(book):
    instrument, _, resting = book
    support = make_user(roles=(Role.SUPPORT,), is_staff=True)
    client = admin_client_for(support)
    page = client.get("/admin/trading/order/")
    assert page.status_code == 200
    assert b"cancel_selected" not in page.content
    _action(client, "/admin/trading/order/", "cancel_selected", [resting.pk])
    _action(client, "/admin/trading/instrument/", "halt_selected", [instrument.pk])
    match(instrument)
    resting.refresh_from_db()
    instrument.refresh_from_db()
    assert (resting.status, instrument.status) == ("open", "trading")
    assert client.get("/admin/trading/instrument/add/").status_code == 403


def test_kyc_reviewer_gets_403(book):
    reviewer = make_user(roles=(Role.KYC_REVIEWER,), is_staff=True)
    client = admin_client_for(reviewer)
    assert client.get("/admin/trading/order/").status_code == 403
    assert client.get("/admin/trading/instrument/").status_code == 403
