"""Assets in the back office: created and edited only through the audited
services, and the asset list opens on the demo data (it used to answer 500)."""

import io

import pytest
from django.core.management import call_command

from accounts.models import AuditCode, AuditEvent, User
from accounts.roles import Role
from accounts.testing import admin_client_for, make_user
from config.errors import ApplicationError, Conflict
from wallet import services
from wallet.models import Asset

pytestmark = pytest.mark.django_db
ASSETS = "/admin/wallet/asset/"


@pytest.fixture
def operator():
    return make_user(email="op@example.com", roles=(Role.OPERATOR,), is_staff=True)


def _change(asset):
    return f"{ASSETS}{asset.pk}/change/"


def test_asset_pages_open_on_the_seeded_demo_data():
    # Given the demo data exactly as `make run` seeds it
    call_command("seed_demo", stdout=io.StringIO())
    operator = User.objects.get(email="operator@example.com")
    client = admin_client_for(operator)
    # When the operator opens the list and each asset's page
    listing = client.get(ASSETS)
    # Then the list shows each daily limit as a decimal string of its asset
    assert listing.status_code == 200
    content = listing.content.decode()
    for shown in ("50000.00", "2000000.00", "2.00000000", "50.00000000"):
        assert shown in content
    for asset in Asset.objects.all():
        page = client.get(_change(asset))
        assert page.status_code == 200, asset.code
    usd = Asset.objects.get(code="USD")
    page = client.get(_change(usd)).content.decode()
    assert 'name="limit_text"' in page and 'value="50000.00"' in page


def test_operator_creates_an_asset_through_the_service(operator):
    # Given an operator in the back office
    client = admin_client_for(operator)
    # When they add SOL with a daily limit of 1500.5
    response = client.post(
        f"{ASSETS}add/",
        {
            "code": "sol",
            "name": "Solana",
            "kind": "crypto",
            "decimals": 9,
            "is_active": "on",
            "limit_text": "1500.5",
            "_save": "Save",
        },
    )
    # Then the asset exists with the limit in its smallest units, audited
    assert response.status_code == 302
    asset = Asset.objects.get(code="SOL")
    assert (asset.name, asset.kind, asset.decimals, asset.is_active) == (
        "Solana",
        "crypto",
        9,
        True,
    )
    assert asset.daily_withdrawal_limit == 1_500_500_000_000
    event = AuditEvent.objects.get(code=AuditCode.ASSET_CREATED)
    assert (event.acting_user, event.target_id) == (operator, str(asset.pk))
    assert event.extra == {
        "old": None,
        "new": {
            "code": "SOL",
            "name": "Solana",
            "decimals": 9,
            "kind": "crypto",
            "is_active": True,
            "daily_withdrawal_limit": "1500.500000000",
        },
    }


def test_operator_edits_an_asset_through_the_service_with_old_and_new(operator):
    # Given USD with a limit of 500.00
    usd = services.asset_create(
        code="USD",
        name="US Dollar",
        decimals=2,
        kind="fiat",
        daily_withdrawal_limit=500_00,
    )
    client = admin_client_for(operator)
    # When the operator deactivates it and raises the limit; code is read-only
    response = client.post(
        _change(usd),
        {
            "name": "US Dollar",
            "limit_text": "750.25",
            "code": "EUR",
            "decimals": 8,
            "_save": "Save",
        },
    )
    # Then only the editable fields changed, and the audit says old and new
    assert response.status_code == 302
    usd.refresh_from_db()
    assert (usd.code, usd.decimals, usd.is_active) == ("USD", 2, False)
    assert usd.daily_withdrawal_limit == 750_25
    event = AuditEvent.objects.get(code=AuditCode.ASSET_UPDATED)
    assert event.acting_user == operator
    assert event.extra == {
        "code": "USD",
        "old": {"is_active": True, "daily_withdrawal_limit": "500.00"},
        "new": {"is_active": False, "daily_withdrawal_limit": "750.25"},
    }


def test_saving_an_unchanged_asset_writes_no_event(operator):
    usd = services.asset_create(code="USD", name="US Dollar", decimals=2, kind="fiat")
    response = admin_client_for(operator).post(
        _change(usd),
        {"name": "US Dollar", "is_active": "on", "limit_text": "0", "_save": "Save"},
    )
    assert response.status_code == 302
    assert not AuditEvent.objects.filter(code=AuditCode.ASSET_UPDATED).exists()


@pytest.mark.parametrize(
    "overrides,field,message",
    [
        ({"limit_text": "1.234"}, "limit_text", "more than 2 decimal places"),
        ({"limit_text": "-1"}, "limit_text", "must not be negative"),
        ({"code": "U$D"}, "code", "capital letters or digits"),
        ({"decimals": 19}, "decimals", "At most 18"),
    ],
)
def test_invalid_asset_shows_a_field_error_and_creates_nothing(
    operator, overrides, field, message
):
    payload = {
        "code": "USD",
        "name": "US Dollar",
        "kind": "fiat",
        "decimals": 2,
        "limit_text": "0",
        "_save": "Save",
        **overrides,
    }
    response = admin_client_for(operator).post(f"{ASSETS}add/", payload)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert field in errors, errors
    assert message in " ".join(errors[field])
    assert not Asset.objects.exists()
    assert not AuditEvent.objects.filter(code=AuditCode.ASSET_CREATED).exists()


def test_assets_cannot_be_deleted(operator):
    usd = services.asset_create(code="USD", name="US Dollar", decimals=2, kind="fiat")
    superuser = make_user(roles=(Role.OPERATOR,), is_staff=True, is_superuser=True)
    assert admin_client_for(superuser).get(f"{ASSETS}{usd.pk}/delete/").status_code == (
        403
    )
    assert Asset.objects.filter(pk=usd.pk).exists()


def test_support_sees_assets_but_cannot_add_or_change():
    usd = services.asset_create(code="USD", name="US Dollar", decimals=2, kind="fiat")
    support = make_user(roles=(Role.SUPPORT,), is_staff=True)
    client = admin_client_for(support)
    assert client.get(_change(usd)).status_code == 200
    assert client.get(f"{ASSETS}add/").status_code == 403
    response = client.post(
        _change(usd), {"name": "Renamed", "limit_text": "0", "_save": "Save"}
    )
    assert response.status_code == 403
    usd.refresh_from_db()
    assert usd.name == "US Dollar"


def test_asset_services_refuse_bad_input_naming_the_field():
    services.asset_create(code="USD", name="US Dollar", decimals=2, kind="fiat")
    with pytest.raises(Conflict) as exists:
        services.asset_create(code="usd", name="Again", decimals=2, kind="fiat")
    assert exists.value.code == "asset_exists"
    assert exists.value.details == {"code": ["An asset with this code exists."]}
    with pytest.raises(ApplicationError) as kind:
        services.asset_create(code="XAU", name="Gold", decimals=2, kind="metal")
    assert (kind.value.code, list(kind.value.details)) == ("invalid_asset", ["kind"])
    usd = Asset.objects.get(code="USD")
    with pytest.raises(ApplicationError) as fixed:
        services.asset_update(asset=usd, decimals=8)
    assert fixed.value.message == "decimals: cannot be changed on an asset."
    assert AuditEvent.objects.filter(code=AuditCode.ASSET_UPDATED).count() == 0
