"""Fee overrides in the back office: set and removed only through the audited
services; users are picked by search, never typed as ids."""

import pytest

from accounts.models import AuditCode, AuditEvent
from accounts.roles import Role
from accounts.testing import admin_client_for, make_user
from config.errors import ApplicationError
from trading.models import FeeOverride
from trading.services import fee_override_remove, fee_override_set
from trading.tests.helpers import make_btc_usd

pytestmark = pytest.mark.django_db
FEES = "/admin/trading/feeoverride/"


@pytest.fixture
def operator():
    return make_user(email="op@example.com", roles=(Role.OPERATOR,), is_staff=True)


@pytest.fixture
def alice():
    return make_user(email="alice@example.com")


def test_operator_sets_an_override_through_the_service(operator, alice):
    # Given BTC-USD and a trader
    instrument = make_btc_usd()
    client = admin_client_for(operator)
    # When the operator gives alice 2/5 bps on BTC-USD
    response = client.post(
        f"{FEES}add/",
        {
            "user": alice.pk,
            "instrument": instrument.pk,
            "maker_fee_bps": 2,
            "taker_fee_bps": 5,
            "_save": "Save",
        },
    )
    # Then the override exists and the audit names both people and the rates
    assert response.status_code == 302
    override = FeeOverride.objects.get()
    assert (override.user, override.instrument) == (alice, instrument)
    assert (override.maker_fee_bps, override.taker_fee_bps) == (2, 5)
    event = AuditEvent.objects.get(code=AuditCode.FEE_OVERRIDE_SET)
    assert (event.user, event.acting_user) == (alice, operator)
    assert event.target_id == str(override.pk)
    assert event.extra == {
        "instrument": "BTC-USD",
        "old": None,
        "new": {"maker_fee_bps": 2, "taker_fee_bps": 5},
    }


def test_the_user_field_is_an_autocomplete_not_a_raw_id(operator):
    page = admin_client_for(operator).get(f"{FEES}add/").content.decode()
    assert "admin-autocomplete" in page
    assert "vForeignKeyRawIdAdminField" not in page


def test_editing_changes_the_rates_with_old_and_new_and_keeps_the_pair(operator, alice):
    # Given alice's default override (every instrument) of 1/1 bps
    override = fee_override_set(
        user=alice, instrument=None, maker_fee_bps=1, taker_fee_bps=1
    )
    other = make_user(email="other@example.com")
    client = admin_client_for(operator)
    # When the operator changes the taker rate (and tries to move the user)
    response = client.post(
        f"{FEES}{override.pk}/change/",
        {"user": other.pk, "maker_fee_bps": 1, "taker_fee_bps": 7, "_save": "Save"},
    )
    # Then only the rates changed
    assert response.status_code == 302
    override.refresh_from_db()
    assert (override.user, override.instrument) == (alice, None)
    assert (override.maker_fee_bps, override.taker_fee_bps) == (1, 7)
    event = AuditEvent.objects.filter(code=AuditCode.FEE_OVERRIDE_SET).latest("pk")
    assert event.acting_user == operator
    assert event.extra == {
        "instrument": "*",
        "old": {"maker_fee_bps": 1, "taker_fee_bps": 1},
        "new": {"maker_fee_bps": 1, "taker_fee_bps": 7},
    }


def test_a_second_override_for_the_same_pair_is_a_form_error(operator, alice):
    instrument = make_btc_usd()
    fee_override_set(
        user=alice, instrument=instrument, maker_fee_bps=1, taker_fee_bps=1
    )
    response = admin_client_for(operator).post(
        f"{FEES}add/",
        {
            "user": alice.pk,
            "instrument": instrument.pk,
            "maker_fee_bps": 3,
            "taker_fee_bps": 3,
            "_save": "Save",
        },
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert FeeOverride.objects.get().maker_fee_bps == 1
    assert AuditEvent.objects.filter(code=AuditCode.FEE_OVERRIDE_SET).count() == 1


def test_remove_action_goes_through_the_service_and_delete_is_off(operator, alice):
    # Given an override
    override = fee_override_set(
        user=alice, instrument=None, maker_fee_bps=0, taker_fee_bps=0
    )
    client = admin_client_for(operator)
    # Then the delete page is refused
    assert client.get(f"{FEES}{override.pk}/delete/").status_code == 403
    # When the operator removes it with the action
    response = client.post(
        FEES,
        {"action": "remove_selected", "_selected_action": [override.pk]},
        follow=True,
    )
    # Then it is gone and the removal is audited with the old rates
    assert b"1 override(s) removed." in response.content
    assert not FeeOverride.objects.exists()
    event = AuditEvent.objects.get(code=AuditCode.FEE_OVERRIDE_REMOVED)
    assert (event.user, event.acting_user) == (alice, operator)
    assert event.extra == {
        "instrument": "*",
        "old": {"maker_fee_bps": 0, "taker_fee_bps": 0},
        "new": None,
    }


def test_support_cannot_set_or_remove(alice):
    override = fee_override_set(
        user=alice, instrument=None, maker_fee_bps=4, taker_fee_bps=4
    )
    support = make_user(roles=(Role.SUPPORT,), is_staff=True)
    client = admin_client_for(support)
    assert client.get(FEES).status_code == 200
    assert client.get(f"{FEES}add/").status_code == 403
    client.post(FEES, {"action": "remove_selected", "_selected_action": [override.pk]})
    response = client.post(
        f"{FEES}{override.pk}/change/",
        {"maker_fee_bps": 0, "taker_fee_bps": 0, "_save": "Save"},
    )
    assert response.status_code == 403
    override.refresh_from_db()
    assert (override.maker_fee_bps, override.taker_fee_bps) == (4, 4)
    assert not AuditEvent.objects.filter(
        code__in=(AuditCode.FEE_OVERRIDE_SET, AuditCode.FEE_OVERRIDE_REMOVED),
        acting_user=support,
    ).exists()


def test_service_refuses_rates_out_of_range_naming_the_field(alice):
    with pytest.raises(ApplicationError) as error:
        fee_override_set(
            user=alice, instrument=None, maker_fee_bps=0, taker_fee_bps=1001
        )
    assert error.value.code == "invalid_fee"
    assert (
        error.value.message == "taker_fee_bps: must be between 0 and 1000 basis points."
    )
    assert not FeeOverride.objects.exists()


def test_setting_the_same_rates_again_writes_nothing(alice):
    first = fee_override_set(
        user=alice, instrument=None, maker_fee_bps=2, taker_fee_bps=3
    )
    again = fee_override_set(
        user=alice, instrument=None, maker_fee_bps=2, taker_fee_bps=3
    )
    assert again.pk == first.pk
    assert AuditEvent.objects.filter(code=AuditCode.FEE_OVERRIDE_SET).count() == 1
    assert fee_override_remove(override=first) is True
    assert fee_override_remove(override=first) is False
    assert AuditEvent.objects.filter(code=AuditCode.FEE_OVERRIDE_REMOVED).count() == 1
