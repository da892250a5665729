"""The back office is two-factor, and history is read-only in it."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AuditCode, AuditEvent, User
from accounts.roles import Role
from accounts.services import backup_codes_ensure
from accounts.testing import admin_client_for, make_user
from accounts.tests.conftest import totp_code

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser():
    return make_user(
        email="root@example.com",
        roles=(Role.OPERATOR,),
        is_staff=True,
        is_superuser=True,
    )


def test_admin_needs_a_verified_second_factor(superuser):
    client = Client()
    client.force_login(superuser, backend="accounts.backends.EmailBackend")
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert admin_client_for(superuser).get("/admin/").status_code == 200


def admin_login(client, email, code):
    return client.post(
        "/admin/login/?next=/admin/",
        {
            "username": email,
            "password": "correct-horse-battery-42",
            "otp_token": code,
            "next": "/admin/",
        },
    )


def test_admin_login_with_backup_code_on_the_first_submit(superuser):
    # given staff with backup codes and an authenticator
    codes = backup_codes_ensure(user=superuser, count=2)
    TOTPDevice.objects.create(user=superuser, name="Authenticator", confirmed=True)
    client = Client()
    page = client.get("/admin/login/")
    assert 'name="otp_token"' in page.content.decode()
    assert 'name="otp_device"' not in page.content.decode()
    # when they send email, password and a backup code once, no device picked
    response = admin_login(client, superuser.email, codes[0])
    # then they are in, and the code is spent
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert not StaticToken.objects.filter(token=codes[0]).exists()
    event = AuditEvent.objects.filter(code=AuditCode.LOGIN_SUCCEEDED).get()
    assert (event.user, event.extra) == (superuser, {"channel": "admin"})
    # and the authenticator was not charged with a failed attempt
    assert TOTPDevice.objects.get(user=superuser).throttling_failure_count == 0
    # the same code does not work twice
    again = admin_login(Client(), superuser.email, codes[0])
    assert again.status_code == 200
    assert "the code is wrong, expired or already used" in again.content.decode()


def test_admin_login_with_authenticator_code(superuser):
    device = TOTPDevice.objects.create(
        user=superuser, name="Authenticator", confirmed=True
    )
    client = Client()
    response = admin_login(client, superuser.email, totp_code(device))
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_admin_login_refusals(superuser, user):
    # staff without a second factor are told to set one up
    response = admin_login(Client(), superuser.email, "123456")
    assert "needs a second factor" in response.content.decode()
    # a wrong code is refused and audited
    codes = backup_codes_ensure(user=superuser, count=1)
    client = Client()
    response = admin_login(client, superuser.email, "wrongcode")
    assert response.status_code == 200
    assert client.get("/admin/").status_code == 302
    failed = AuditEvent.objects.get(code=AuditCode.LOGIN_FAILED, user=superuser)
    assert failed.extra["reason"] == "otp_invalid"
    assert StaticToken.objects.filter(token=codes[0]).exists()
    # a trader does not get in, with or without a code
    backup_codes_ensure(user=user, count=1)
    trader_code = StaticToken.objects.filter(device__user=user).first().token
    response = admin_login(Client(), user.email, trader_code)
    assert response.status_code == 200
    assert StaticToken.objects.filter(token=trader_code).exists()


def test_trader_cannot_enter_admin(user):
    assert admin_client_for(user).get("/admin/").status_code == 302


def test_audit_events_are_read_only_even_for_superuser(superuser, user):
    client = admin_client_for(superuser)
    event = AuditEvent.objects.filter(user=user).first()
    assert client.get("/admin/accounts/auditevent/").status_code == 200
    detail = client.get(f"/admin/accounts/auditevent/{event.pk}/change/")
    assert detail.status_code == 200
    assert b'name="_save"' not in detail.content
    assert client.get("/admin/accounts/auditevent/add/").status_code == 403
    assert (
        client.post(
            f"/admin/accounts/auditevent/{event.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_lock_button_uses_the_service_and_audits(superuser, user):
    client = admin_client_for(superuser)
    response = client.post(
        f"/admin/accounts/user/{user.pk}/lock/", {"reason": "chargeback fraud"}
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.status == User.Status.SUSPENDED
    event = AuditEvent.objects.get(code=AuditCode.STAFF_ACCOUNT_LOCKED)
    assert (event.acting_user, event.user) == (superuser, user)
    assert event.extra["reason"] == "chargeback fraud"


def test_status_is_read_only_in_the_user_form(superuser, user):
    client = admin_client_for(superuser)
    page = client.get(f"/admin/accounts/user/{user.pk}/change/")
    assert page.status_code == 200
    assert b'name="status"' not in page.content


def test_roles_exist_with_their_permissions():
    names = set(Group.objects.values_list("name", flat=True))
    assert {"trader", "kyc_reviewer", "support", "operator"} <= names
    support = Group.objects.get(name="support")
    codenames = set(support.permissions.values_list("codename", flat=True))
    assert {"view_user", "view_auditevent"} <= codenames
    assert "change_user" not in codenames
    trader = Group.objects.get(name="trader")
    assert trader.permissions.count() == 0


def test_third_party_admins_cannot_grant_power_or_take_over(superuser, user):
    client = admin_client_for(superuser)
    group = Group.objects.get(name="operator")
    # roles: visible with their permissions, never edited
    page = client.get(f"/admin/auth/group/{group.pk}/change/")
    assert page.status_code == 200
    assert b"wallet.approve_withdrawal" in page.content
    assert b'name="_save"' not in page.content
    response = client.post(
        f"/admin/auth/group/{group.pk}/change/", {"name": "operator", "permissions": []}
    )
    assert response.status_code == 403
    assert client.get("/admin/auth/group/add/").status_code == 403
    assert group.permissions.filter(codename="approve_withdrawal").exists()
    # OTP devices and JWTs: not in the back office at all
    for url in (
        "/admin/otp_totp/totpdevice/",
        "/admin/otp_totp/totpdevice/add/",
        "/admin/otp_static/staticdevice/add/",
        "/admin/token_blacklist/outstandingtoken/",
        "/admin/token_blacklist/blacklistedtoken/",
    ):
        assert client.get(url).status_code == 404, url
    # lockouts: read-only
    assert client.get("/admin/axes/accessattempt/").status_code == 200
    assert client.get("/admin/axes/accessattempt/add/").status_code == 403


def test_admin_login_failures_count_towards_the_lockout(superuser, settings):
    settings.LOGIN_LOCKOUT_FAILURES = 2
    codes = backup_codes_ensure(user=superuser, count=1)
    client = Client()
    for _ in range(2):
        client.post(
            "/admin/login/",
            {"username": superuser.email, "password": "wrong-pass-1", "otp_token": ""},
        )
    locked = admin_login(client, superuser.email, codes[0])
    assert locked.status_code == 429
    assert client.get("/admin/").status_code == 302
    assert StaticToken.objects.filter(token=codes[0]).exists()
