"""Staff powers: what a member of staff can do to a user from the back office,
and what they no longer can (take an account over, grant themselves power)."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts.models import AuditCode, AuditEvent, User
from accounts.roles import Role
from accounts.selectors import (
    staff_acted_on_user_recently,
    user_withdrawal_cooloff_until,
)
from accounts.testing import PASSWORD, admin_client_for, make_user
from config.errors import http_status

pytestmark = pytest.mark.django_db

BACKEND = "accounts.backends.EmailBackend"


@pytest.fixture
def operator():
    return make_user(email="otto@example.com", roles=(Role.OPERATOR,))


@pytest.fixture
def administrator():
    return make_user(email="ada@example.com", roles=(Role.ADMINISTRATOR,))


@pytest.fixture
def trader():
    return make_user(email="tina@example.com", full_name="Tina Trader")


def logged_in(user: User) -> tuple[Client, str]:
    """A browser session (pages) and an access token (API) of `user`."""
    client = Client()
    client.force_login(user, backend=BACKEND)
    tokens = (
        Client()
        .post(
            "/api/v1/auth/login",
            {"email": user.email, "password": PASSWORD},
            content_type="application/json",
        )
        .json()
    )
    return client, tokens["access"]


def session_alive(client: Client) -> bool:
    return client.get("/account/security/").status_code == 200


def token_alive(access: str) -> bool:
    response = Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {access}")
    return response.status_code == 200


def profile_post(user: User, **changes) -> dict:
    data = {"email": user.email, "full_name": user.full_name, "phone": user.phone}
    return {**data, **changes}


# --- The user admin sets no password, flag, group or permission --------------------


def test_ticking_superuser_staff_and_groups_in_the_user_form_changes_nothing(
    operator, trader
):
    # given an operator in the user admin, and the strongest group there is
    client = admin_client_for(operator)
    admin_group = Group.objects.get(name=Role.ADMINISTRATOR)
    permission = Permission.objects.get(codename="grant_role")
    for target in (operator, trader):
        # when they post the change form with superuser, staff, groups and
        # permissions ticked, and a password, on their own account and another's
        response = client.post(
            f"/admin/accounts/user/{target.pk}/change/",
            {
                **profile_post(target),
                "is_superuser": "on",
                "is_staff": "on",
                "groups": [admin_group.pk],
                "user_permissions": [permission.pk],
                "password": "pbkdf2_sha256$1$x$y",
                "password1": "taken-over-42!",
                "password2": "taken-over-42!",
            },
        )
        # then the form saves nothing of it
        assert response.status_code == 302
        target.refresh_from_db()
        assert target.is_superuser is False
        assert target.check_password(PASSWORD)
        assert not target.user_permissions.exists()
        assert admin_group not in target.groups.all()
    operator.refresh_from_db()
    trader.refresh_from_db()
    assert (operator.is_staff, trader.is_staff) == (True, False)
    assert not AuditEvent.objects.filter(
        code__in=[AuditCode.ROLE_GRANTED, AuditCode.STAFF_CONTACT_CHANGED],
        acting_user=operator,
    ).exists()


def test_staff_cannot_see_or_set_a_password(operator, trader):
    client = admin_client_for(operator)
    page = client.get(f"/admin/accounts/user/{trader.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    for field in ("password", "is_superuser", "is_staff", "groups"):
        assert f'name="{field}"' not in html
    assert trader.password not in html
    password_url = f"/admin/accounts/user/{trader.pk}/password/"
    assert client.get(password_url).status_code == 404
    response = client.post(
        password_url, {"password1": "taken-over-42!", "password2": "taken-over-42!"}
    )
    assert response.status_code == 404
    trader.refresh_from_db()
    assert trader.check_password(PASSWORD)
    assert client.get("/admin/accounts/user/add/").status_code == 403


def test_staff_contact_change_is_audited_ends_sessions_and_starts_the_cooloff(
    operator, trader
):
    # given a trader logged in on the web and the API
    browser, access = logged_in(trader)
    assert session_alive(browser) and token_alive(access)
    # when an operator changes their phone, with a reason
    response = admin_client_for(operator).post(
        f"/admin/accounts/user/{trader.pk}/change/",
        profile_post(trader, phone="+91 98765 43210", reason="customer called in"),
    )
    # then the change is saved, audited, and the trader is signed out everywhere
    assert response.status_code == 302
    trader.refresh_from_db()
    assert trader.phone == "+91 98765 43210"
    event = AuditEvent.objects.get(code=AuditCode.STAFF_CONTACT_CHANGED)
    assert (event.user, event.acting_user) == (trader, operator)
    assert event.extra == {
        "changes": {"phone": ["", "+91 98765 43210"]},
        "reason": "customer called in",
        "refresh_tokens": 1,
    }
    assert not session_alive(browser)
    assert not token_alive(access)
    # and their withdrawals wait out the cool-off; the operator may not approve
    # them meanwhile
    assert user_withdrawal_cooloff_until(user=trader) == event.created_at + timedelta(
        hours=48
    )
    assert staff_acted_on_user_recently(staff=operator, user=trader)


def test_staff_name_change_alone_is_a_back_office_change(operator, trader):
    browser, access = logged_in(trader)
    admin_client_for(operator).post(
        f"/admin/accounts/user/{trader.pk}/change/",
        profile_post(trader, full_name="Tina T. Trader", reason="typo in name"),
    )
    trader.refresh_from_db()
    assert trader.full_name == "Tina T. Trader"
    event = AuditEvent.objects.get(code=AuditCode.ADMIN_OBJECT_CHANGED)
    assert event.extra == {
        "changes": {"full_name": ["Tina Trader", "Tina T. Trader"]},
        "reason": "typo in name",
        "model": "accounts.user",
    }
    assert session_alive(browser) and token_alive(access)
    assert user_withdrawal_cooloff_until(user=trader) is None


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"phone": "+1 555 0100"}, "reason", "Say why you change this profile."),
        (
            {"email": "OTTO@example.com", "reason": "typo"},
            "email",
            "another account has this email.",
        ),
        ({"phone": "call me!", "reason": "typo"}, "phone", "digits, spaces"),
    ],
)
def test_bad_profile_changes_show_on_their_field(
    operator, trader, changes, field, message
):
    response = admin_client_for(operator).post(
        f"/admin/accounts/user/{trader.pk}/change/", profile_post(trader, **changes)
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert message in " ".join(errors[field])
    trader.refresh_from_db()
    assert (trader.email, trader.phone) == ("tina@example.com", "")
    assert not AuditEvent.objects.filter(acting_user=operator).exists()


def test_staff_cannot_edit_their_own_profile_in_the_admin(operator):
    response = admin_client_for(operator).post(
        f"/admin/accounts/user/{operator.pk}/change/",
        profile_post(operator, phone="+1 555 0100", reason="mine"),
    )
    assert response.status_code == 200
    operator.refresh_from_db()
    assert operator.phone == ""


def test_support_sees_users_read_only(trader):
    support = make_user(email="sam@example.com", roles=(Role.SUPPORT,))
    client = admin_client_for(support)
    page = client.get(f"/admin/accounts/user/{trader.pk}/change/")
    assert page.status_code == 200
    assert b'name="email"' not in page.content
    response = client.post(
        f"/admin/accounts/user/{trader.pk}/change/",
        profile_post(trader, phone="+1 555 0100", reason="x"),
    )
    assert response.status_code == 403
    assert (
        client.post(
            f"/admin/accounts/user/{trader.pk}/lock/", {"reason": "x"}
        ).status_code
        == 403
    )


# --- Staff actions on a user --------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "code"),
    [
        ("end-sessions", AuditCode.STAFF_SESSIONS_ENDED),
        ("lock", AuditCode.STAFF_ACCOUNT_LOCKED),
    ],
)
def test_staff_action_ends_tokens_and_sessions_and_starts_the_cooloff(
    operator, trader, action, code
):
    # given a trader signed in on the web and the API
    browser, access = logged_in(trader)
    # when an operator presses the button with a reason
    response = admin_client_for(operator).post(
        f"/admin/accounts/user/{trader.pk}/{action}/", {"reason": "stolen phone"}
    )
    # then the old access token is refused and the old session is logged out
    assert response.status_code == 302
    assert response["Location"] == f"/admin/accounts/user/{trader.pk}/change/"
    assert not token_alive(access)
    assert not session_alive(browser)
    assert OutstandingToken.objects.get(user=trader).blacklistedtoken is not None
    event = AuditEvent.objects.get(code=code)
    assert (event.user, event.acting_user) == (trader, operator)
    assert event.extra["reason"] == "stolen phone"
    assert event.extra["refresh_tokens"] == 1
    assert user_withdrawal_cooloff_until(user=trader) == event.created_at + timedelta(
        hours=48
    )


def test_unlock_reactivates_and_audits(operator, trader):
    client = admin_client_for(operator)
    client.post(f"/admin/accounts/user/{trader.pk}/lock/", {"reason": "fraud"})
    client.post(f"/admin/accounts/user/{trader.pk}/unlock/", {"reason": "cleared"})
    trader.refresh_from_db()
    assert trader.status == User.Status.ACTIVE
    event = AuditEvent.objects.get(code=AuditCode.STAFF_ACCOUNT_UNLOCKED)
    assert (event.user, event.acting_user) == (trader, operator)
    assert (event.extra["old"], event.extra["new"]) == ("suspended", "active")
    assert event.extra["reason"] == "cleared"


def test_a_staff_action_needs_a_reason(operator, trader):
    response = admin_client_for(operator).post(
        f"/admin/accounts/user/{trader.pk}/lock/", {"reason": "  "}, follow=True
    )
    assert [str(m) for m in response.context["messages"]] == [
        "reason: say why (it goes into the audit trail)."
    ]
    trader.refresh_from_db()
    assert trader.status == User.Status.ACTIVE
    assert not AuditEvent.objects.filter(acting_user=operator).exists()


def test_staff_actions_are_not_used_on_oneself(operator):
    response = admin_client_for(operator).post(
        f"/admin/accounts/user/{operator.pk}/end-sessions/",
        {"reason": "testing"},
        follow=True,
    )
    assert "not used on your own account" in response.content.decode()
    assert not AuditEvent.objects.filter(code=AuditCode.STAFF_SESSIONS_ENDED).exists()


def test_the_users_own_password_change_keeps_their_session(trader):
    browser, _ = logged_in(trader)
    response = browser.post(
        "/account/security/",
        {
            "action": "password",
            "old_password": PASSWORD,
            "new_password": "a-brand-new-pass-77",
        },
    )
    assert response.status_code == 302
    assert session_alive(browser)
    assert user_withdrawal_cooloff_until(user=trader) is None


def test_staff_accounts_are_administrators_business(operator, administrator):
    # given a second operator, signed in
    colleague = make_user(email="olga@example.com", roles=(Role.OPERATOR,))
    browser, access = logged_in(colleague)
    # when the first operator tries to lock them or change their email
    client = admin_client_for(operator)
    response = client.post(
        f"/admin/accounts/user/{colleague.pk}/lock/", {"reason": "x"}, follow=True
    )
    assert [str(m) for m in response.context["messages"]] == [
        "user: this is a staff account; only an administrator acts on it."
    ]
    response = client.post(
        f"/admin/accounts/user/{colleague.pk}/change/",
        profile_post(colleague, email="mine@example.com", reason="x"),
    )
    assert response.status_code == 200
    # then nothing happened
    colleague.refresh_from_db()
    assert (colleague.status, colleague.email) == ("active", "olga@example.com")
    assert session_alive(browser) and token_alive(access)
    # but an administrator may
    admin_client_for(administrator).post(
        f"/admin/accounts/user/{colleague.pk}/lock/", {"reason": "left the firm"}
    )
    colleague.refresh_from_db()
    assert colleague.status == User.Status.SUSPENDED
    assert not session_alive(browser)


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"email": "not-an-address !!"}, "email_invalid", "email"),
        ({"email": "OTTO@example.com"}, "email_taken", "email"),
        ({"phone": "call me!"}, "phone_invalid", "phone"),
        ({"phone": "+1 555 0100", "reason": " "}, "reason_required", "reason"),
    ],
)
def test_the_profile_service_names_the_field_it_refuses(
    operator, trader, changes, code, field
):
    from accounts.services import user_profile_update_by_staff
    from config.errors import ApplicationError

    with pytest.raises(ApplicationError) as exc:
        user_profile_update_by_staff(
            user=trader, staff=operator, **{"reason": "ticket 9", **changes}
        )
    assert (exc.value.code, list(exc.value.details)) == (code, [field])
    assert http_status(exc.value) in (400, 409)
    trader.refresh_from_db()
    assert (trader.email, trader.phone) == ("tina@example.com", "")


def test_support_clears_a_login_lockout_with_a_reason(trader, settings):
    # given a trader locked out after failed logins
    settings.LOGIN_LOCKOUT_FAILURES = 2
    client = Client()

    def api_login(password):
        return client.post(
            "/api/v1/auth/login",
            {"email": trader.email, "password": password},
            content_type="application/json",
        )

    api_login("wrong-pass-1")
    api_login("wrong-pass-1")
    assert api_login(PASSWORD).status_code == 429
    support = make_user(email="sam@example.com", roles=(Role.SUPPORT,))
    staff_client = admin_client_for(support)
    page = staff_client.get(f"/admin/accounts/user/{trader.pk}/change/")
    assert b'data-testid="clear-lockout"' in page.content
    # when support clears it
    response = staff_client.post(
        f"/admin/accounts/user/{trader.pk}/clear-lockout/",
        {"reason": "verified caller, ticket 12"},
        follow=True,
    )
    # then the trader signs in, and the trail says who cleared what
    assert [str(m) for m in response.context["messages"]] == [
        "Failed logins forgotten: the user may sign in again."
    ]
    assert api_login(PASSWORD).status_code == 200
    event = AuditEvent.objects.get(code=AuditCode.ADMIN_OBJECT_CHANGED)
    assert (event.user, event.acting_user) == (trader, support)
    assert event.extra == {
        "model": "axes.accessattempt",
        "action": "login_lockout_cleared",
        "attempts": 1,
        "reason": "verified caller, ticket 12",
    }
    assert user_withdrawal_cooloff_until(user=trader) is None
    # and with nothing left to clear, the button says so
    again = staff_client.post(
        f"/admin/accounts/user/{trader.pk}/clear-lockout/",
        {"reason": "again"},
        follow=True,
    )
    assert [str(m) for m in again.context["messages"]] == [
        "This user has no failed logins on record."
    ]
