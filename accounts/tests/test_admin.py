"""The back office is two-factor, and history is read-only in it."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from accounts.models import AuditCode, AuditEvent, User
from accounts.roles import Role
from accounts.testing import admin_client_for, make_user

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


def test_admin_login_with_backup_code(superuser):
    from accounts.services import backup_codes_ensure

    codes = backup_codes_ensure(user=superuser, count=2)
    client = Client()
    page = client.get("/admin/login/")
    assert "otp_token" in page.content.decode()
    response = client.post(
        "/admin/login/?next=/admin/",
        {
            "username": superuser.email,
            "password": "correct-horse-battery-42",
            "otp_device": superuser.staticdevice_set.get().persistent_id,
            "otp_token": codes[0],
        },
    )
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


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
