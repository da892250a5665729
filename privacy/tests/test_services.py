"""The data export and closing an account, through the API and the pages."""

import json

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.authentication import TOKEN_VERSION_CLAIM
from accounts.models import AuditCode, AuditEvent, User
from accounts.roles import Role
from accounts.services import user_lock
from accounts.testing import PASSWORD, api_client_for, make_user
from accounts.tests.conftest import totp_code
from config.errors import ApplicationError
from marketdata.models import UserEvent
from trading.models import PriceAlert
from trading.tests.helpers import make_btc_usd
from wallet.models import Account
from wallet.tests.helpers import balances, fund, make_asset

pytestmark = pytest.mark.django_db


def _export(client) -> dict:
    response = client.get("/api/v1/me/export")
    assert response.status_code == 200, response
    assert response["Content-Disposition"].startswith("attachment; filename=")
    return json.loads(b"".join(response.streaming_content))


def _close(client, **body):
    return client.post(
        "/api/v1/me/close",
        {"password": PASSWORD, "confirm": True, **body},
        format="json",
    )


def test_the_export_holds_the_users_data_and_no_one_elses():
    user = make_user(email="ann@example.com", full_name="Ann Example")
    other = make_user(email="bob@example.com")
    usd = make_asset("USD")
    fund(user, usd, 12_345)
    fund(other, usd, 999)

    document = _export(api_client_for(user))

    assert document["format"] == "exchange-data-export/1"
    assert document["profile"]["email"] == "ann@example.com"
    assert document["profile"]["full_name"] == "Ann Example"
    assert [c["document"] for c in document["consents"]] == ["terms", "privacy"]
    assert document["kyc"] is None
    assert [(e["asset"], e["amount"]) for e in document["ledger_statement"]] == [
        ("USD", "123.45")
    ]
    assert document["orders"] == [] and document["fills"] == []
    codes = [event["code"] for event in document["security_events"]]
    assert codes == [AuditCode.USER_REGISTERED, AuditCode.DATA_EXPORTED]
    assert "bob@example.com" not in json.dumps(document)


def test_exports_are_limited_per_hour_with_retry_after(settings):
    settings.PRIVACY_EXPORTS_PER_HOUR = 2
    user = make_user()
    client = APIClient()
    client.force_authenticate(user)  # the clock travels past an access token's life
    with time_machine.travel("2026-12-07 10:00:00+00:00", tick=False):
        _export(client)
    with time_machine.travel("2026-12-07 10:20:00+00:00", tick=False):
        _export(client)
        refused = client.get("/api/v1/me/export")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "export_rate_limited"
    assert refused["Retry-After"] == "2400"  # the first export ages out at 11:00
    assert refused.json()["error"]["details"] == {"retry_after_seconds": 2400}
    with time_machine.travel("2026-12-07 11:00:01+00:00", tick=False):
        _export(client)
    assert (
        AuditEvent.objects.filter(user=user, code=AuditCode.DATA_EXPORTED).count() == 3
    )


def test_an_account_with_money_or_open_business_cannot_be_closed():
    user = make_user()
    fund(user, make_asset("USD"), 5_000)

    response = _close(api_client_for(user))

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "account_not_empty"
    assert error["details"]["blockers"] == [
        {
            "code": "balance",
            "message": "50.00 USD available: withdraw or transfer it first.",
        }
    ]
    user.refresh_from_db()
    assert user.status == User.Status.ACTIVE
    assert not AuditEvent.objects.filter(code=AuditCode.ACCOUNT_CLOSED).exists()


def test_closing_needs_the_password_the_second_factor_and_confirmation(user_with_2fa):
    user, device = user_with_2fa
    client = api_client_for(user)

    assert _close(client, password="wrong-password-1").json()["error"]["code"] == (
        "invalid_credentials"
    )
    no_code = _close(client)
    assert no_code.status_code == 400
    assert no_code.json()["error"]["code"] == "otp_invalid"
    unconfirmed = _close(client, confirm=False, otp=totp_code(device))
    assert unconfirmed.status_code == 400
    assert "confirm" in unconfirmed.json()["error"]["details"]
    user.refresh_from_db()
    assert user.status == User.Status.ACTIVE

    assert _close(client, otp=totp_code(device)).status_code == 204
    assert not TOTPDevice.objects.filter(user=user).exists()


def test_closing_ends_everything_masks_the_person_and_keeps_the_records(
    django_capture_on_commit_callbacks,
):
    user = make_user(email="leaving@example.com", full_name="Lee Leaving")
    usd = make_asset("USD")
    fund(user, usd, 1_000)
    Account.objects.filter(owner=user).update(balance=0)  # withdrawn, as a test does
    refresh = RefreshToken.for_user(user)
    refresh[TOKEN_VERSION_CLAIM] = user.token_version
    browser = Client()
    browser.force_login(user)
    UserEvent.objects.create(user=user, type=UserEvent.Type.BALANCE, data={})
    PriceAlert.objects.create(
        user=user, instrument=make_btc_usd(), condition="above", price_ticks=1
    )
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = _close(api_client_for(user))

    assert response.status_code == 204
    user.refresh_from_db()
    assert user.status == User.Status.CLOSED
    assert user.closed_at is not None
    assert user.email == f"closed-{user.pk}@closed.invalid"
    assert (user.full_name, user.phone) == ("Closed account", "")
    assert not user.has_usable_password()
    # every way in is gone
    login = APIClient().post(
        "/api/v1/auth/login",
        {"email": "leaving@example.com", "password": PASSWORD},
        format="json",
    )
    assert login.status_code == 401
    refreshed = APIClient().post(
        "/api/v1/auth/refresh", {"refresh": str(refresh)}, format="json"
    )
    assert refreshed.status_code == 401
    assert browser.get("/wallet/").status_code == 302  # the session ended
    # what the law keeps stays; the stream's replay buffer goes
    assert balances(user) == {}
    assert user.audit_events.filter(code=AuditCode.USER_REGISTERED).exists()
    assert not UserEvent.objects.filter(user=user).exists()
    assert not PriceAlert.objects.filter(user=user).exists()  # they fire no more
    closed = AuditEvent.objects.get(user=user, code=AuditCode.ACCOUNT_CLOSED)
    assert closed.acting_user == user
    # told at the address the account had
    assert [m.to for m in mail.outbox] == [["leaving@example.com"]]
    assert mail.outbox[0].subject == "Your account is closed"


def test_staff_cannot_act_on_a_closed_account():
    user = make_user()
    _close(api_client_for(user))
    operator = make_user(email="operator@example.com", roles=(Role.OPERATOR,))

    with pytest.raises(ApplicationError) as caught:
        user_lock(staff=operator, user=User.objects.get(pk=user.pk), reason="check")

    assert caught.value.code == "account_closed"
    assert User.objects.get(pk=user.pk).status == User.Status.CLOSED


def test_the_privacy_page_lists_what_blocks_closure_then_closes(settings):
    user = make_user(email="page@example.com")
    fund(user, make_asset("USD"), 250)
    client = Client()
    client.force_login(user)

    page = client.get("/account/privacy/")

    assert page.status_code == 200
    assert [b.code for b in page.context["blockers"]] == ["balance"]
    assert "2.50 USD available" in page.content.decode()

    Account.objects.filter(owner=user).update(balance=0)
    wrong = client.post("/account/privacy/", {"password": "nope", "confirm": "on"})
    assert wrong.status_code == 400
    assert "password" in wrong.context["form"].errors

    download = client.post("/account/privacy/export/")
    assert download.status_code == 200
    assert json.loads(b"".join(download.streaming_content))["profile"]["id"] == user.pk

    closed = client.post("/account/privacy/", {"password": PASSWORD, "confirm": "on"})
    assert closed.status_code == 302
    assert closed["Location"] == "/login/"
    assert User.objects.get(pk=user.pk).status == User.Status.CLOSED
    assert timezone.now() >= User.objects.get(pk=user.pk).closed_at
