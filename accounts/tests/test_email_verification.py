"""Email verification at signup, its guard on KYC, deposits and trading, and
changing the email (the new address verified first, the old one told)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from accounts.events import SecurityNotice
from accounts.models import AuditCode, AuditEvent, User
from accounts.roles import Role
from accounts.testing import PASSWORD, admin_client_for, api_client_for, make_user
from config.errors import http_status
from config.tests.recording import recorded

pytestmark = pytest.mark.django_db

VERIFY = "/api/v1/auth/email/verify"
RESEND = "/api/v1/me/email/verification"


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def _token(link: str) -> str:
    return urlsplit(link).path.rstrip("/").rsplit("/", 1)[-1]


def _post(path: str, data: dict, **extra):
    return Client().post(path, data, content_type="application/json", **extra)


def _guarded_calls(client) -> dict[str, object]:
    """The three guarded services through the API, as `client`'s user."""
    from wallet.tests.helpers import make_asset

    make_asset("USD", 2)
    key = {"HTTP_IDEMPOTENCY_KEY": str(uuid.uuid4())}
    return {
        "kyc": client.post("/api/v1/kyc/submit", {}, format="json"),
        "deposit": client.post(
            "/api/v1/wallet/deposits",
            {"asset": "USD", "amount": "10.00"},
            format="json",
            **key,
        ),
        "order": client.post(
            "/api/v1/orders",
            {"symbol": "BTC-USD", "side": "buy", "price": "1", "quantity": "1"},
            format="json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        ),
        "batch": client.post(
            "/api/v1/orders/batch",
            {"orders": [{"symbol": "BTC-USD", "side": "buy", "quantity": "1"}]},
            format="json",
            HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
        ),
    }


def test_signup_through_the_api_verifies_by_link_before_kyc_deposits_and_trading(
    smtp_server, committed
):
    # given a new account made through the API
    with committed():
        response = _post(
            "/api/v1/auth/register",
            {
                "email": "New@Example.com",
                "password": "a-long-enough-secret",
                "full_name": "New User",
                "accept_terms": True,
            },
        )
    assert response.status_code == 201
    assert response.json()["email_verified"] is False
    user = User.objects.get(email="new@example.com")
    [message] = smtp_server.messages
    assert message["Subject"] == "Confirm your email address"
    # then KYC, deposits, orders and batches are refused, with the same code
    client = api_client_for(user)
    for name, refused in _guarded_calls(client).items():
        assert refused.status_code == 403, (name, refused.content)
        assert refused.json()["error"]["code"] == "email_not_verified", name
    # when the link is followed (the API way: its token)
    token = _token(smtp_server.link(user.email, "/verify-email/"))
    assert _post(VERIFY, {"token": token}).status_code == 204
    # then the address is verified and the guard lets the services judge
    user.refresh_from_db()
    assert user.email_verified_at is not None
    assert client.get("/api/v1/me").json()["email_verified"] is True
    codes = {
        name: r.json()["error"]["code"] for name, r in _guarded_calls(client).items()
    }
    assert "email_not_verified" not in codes.values(), codes
    assert codes["deposit"] == "kyc_required"
    assert list(
        AuditEvent.objects.filter(user=user).values_list("code", flat=True)
    ) == [
        AuditCode.EMAIL_VERIFIED,
        AuditCode.EMAIL_VERIFICATION_SENT,
        AuditCode.USER_REGISTERED,
    ]
    # following it again changes nothing
    assert _post(VERIFY, {"token": token}).status_code == 204
    assert AuditEvent.objects.filter(code=AuditCode.EMAIL_VERIFIED).count() == 1


def test_the_guard_is_in_the_services_so_every_caller_gets_it():
    from config.errors import ApplicationError
    from kyc.services import kyc_submit
    from trading.services import order_place, order_place_batch
    from wallet.services import deposit_create

    user = make_user(email_verified=False)
    calls = [
        lambda: kyc_submit(user=user),
        lambda: deposit_create(user=user, asset=None, amount=1),
        lambda: order_place(user=user, symbol="BTC-USD", side="buy"),
        lambda: order_place_batch(user=user, orders=[]),
    ]
    for call in calls:
        with pytest.raises(ApplicationError) as caught:
            call()
        assert (caught.value.code, http_status(caught.value)) == (
            "email_not_verified",
            403,
        )


def test_the_verification_page_asks_for_a_click_then_verifies(committed):
    from accounts.services.recovery import email_verification_token

    user = make_user(email_verified=False)
    token = email_verification_token(user=user)
    browser = Client()
    page = browser.get(f"/verify-email/{token}/")
    assert page.status_code == 200
    assert b'data-testid="email-verify"' in page.content
    user.refresh_from_db()
    assert user.email_verified_at is None  # a mail scanner's GET verifies nothing
    done = browser.post(f"/verify-email/{token}/")
    assert f"{user.email} is confirmed." in done.content.decode()
    user.refresh_from_db()
    assert user.email_verified_at is not None


def test_a_verification_link_expires(settings):
    from accounts.services.recovery import email_verification_token

    settings.EMAIL_VERIFICATION_TIMEOUT = 3600
    user = make_user(email_verified=False)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        token = email_verification_token(user=user)
        traveller.shift(timedelta(seconds=3601))
        response = _post(VERIFY, {"token": token})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "link_expired"
    forged = _post(VERIFY, {"token": token[:-2] + "xx"})
    assert forged.json()["error"]["code"] == "link_invalid"


def test_resend_is_limited_with_retry_after_and_refused_once_verified(
    settings, committed, mailoutbox
):
    settings.EMAIL_VERIFICATION_RATE_PER_ACCOUNT = "2/h"
    user = make_user(email_verified=False)
    start = timezone.now().replace(minute=0, second=0, microsecond=0)
    with time_machine.travel(start + timedelta(minutes=50), tick=False):
        client = api_client_for(user)
        for _ in range(2):
            with committed():
                assert client.post(RESEND).status_code == 202
        limited = client.post(RESEND)
    assert (limited.status_code, limited["Retry-After"]) == (429, "600")
    assert limited.json()["error"]["details"] == {"retry_after_seconds": 600}
    assert len(mailoutbox) == 2
    assert (
        AuditEvent.objects.filter(
            user=user, code=AuditCode.EMAIL_VERIFICATION_SENT
        ).count()
        == 2
    )
    # the security page offers the resend while unverified, and says when waiting
    browser = Client()
    browser.force_login(user, backend="accounts.backends.EmailBackend")
    page = browser.get("/account/security/")
    assert b'data-testid="email-verification-send"' in page.content
    with time_machine.travel(start + timedelta(minutes=55), tick=False):
        waited = browser.post("/account/email/verification/")
    assert (waited.status_code, waited["Retry-After"]) == (429, "300")
    User.objects.filter(pk=user.pk).update(email_verified_at=timezone.now())
    again = api_client_for(user).post(RESEND)
    assert again.json()["error"]["code"] == "email_already_verified"


# --- Changing the email -------------------------------------------------------------


def test_changing_the_email_through_the_api_verifies_the_new_address_first(
    user, smtp_server, committed
):
    client = api_client_for(user)
    no_password = client.patch("/api/v1/me", {"email": "new@example.com"})
    assert no_password.status_code == 400
    assert no_password.json()["error"]["code"] == "invalid_credentials"
    with committed():
        response = client.patch(
            "/api/v1/me",
            {"email": "New@Example.com", "password": PASSWORD},
            format="json",
        )
    assert response.status_code == 200
    assert response.json()["email"] == "trader@example.com"  # not yet
    [told] = smtp_server.to("trader@example.com")
    assert "new@example.com" in smtp_server.body(told)
    link = smtp_server.link("new@example.com", "/verify-email/")
    with committed(), recorded(SecurityNotice) as notices:
        assert _post(VERIFY, {"token": _token(link)}).status_code == 204
    user.refresh_from_db()
    assert (user.email, user.email_verified_at is not None) == (
        "new@example.com",
        True,
    )
    # the old address is told, by notifications from this event
    [notice] = notices
    assert (notice.user_id, notice.kind, dict(notice.detail)) == (
        user.pk,
        "email_changed",
        {"old_email": "trader@example.com", "new_email": "new@example.com"},
    )
    requested = AuditEvent.objects.get(code=AuditCode.EMAIL_CHANGE_REQUESTED)
    assert requested.extra == {
        "old": "trader@example.com",
        "new": "new@example.com",
        "sent": True,
    }
    event = AuditEvent.objects.get(code=AuditCode.EMAIL_CHANGED)
    assert event.extra == {"old": "trader@example.com", "new": "new@example.com"}
    # the link worked once: the account's address is no longer the one it names
    again = _post(VERIFY, {"token": _token(link)})
    assert again.json()["error"]["code"] == "link_invalid"


def test_a_change_to_a_registered_address_answers_the_same_and_tells_that_address(
    user, committed, mailoutbox
):
    make_user(email="taken@example.com")
    browser = Client()
    browser.force_login(user, backend="accounts.backends.EmailBackend")
    with committed():
        response = browser.post(
            "/account/email/",
            {"email": "taken@example.com", "password": PASSWORD},
            follow=True,
        )
    assert response.redirect_chain == [("/account/security/", 302)]
    assert "We sent a link to taken@example.com" in response.content.decode()
    subjects = {(m.to[0], m.subject) for m in mailoutbox}
    assert subjects == {
        ("trader@example.com", "A change of your email address was asked for"),
        ("taken@example.com", "Someone tried to use your email address"),
    }
    assert "/verify-email/" not in "".join(m.body for m in mailoutbox)


def test_a_staff_email_change_waits_for_the_link_and_starts_the_cooloff(
    user, smtp_server, committed
):
    from accounts.selectors import user_withdrawal_cooloff_until

    operator = make_user(email="otto@example.com", roles=(Role.OPERATOR,))
    with committed():
        response = admin_client_for(operator).post(
            f"/admin/accounts/user/{user.pk}/change/",
            {
                "email": "tina.new@example.com",
                "full_name": user.full_name,
                "phone": "",
                "reason": "customer asked by phone",
            },
        )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.email == "trader@example.com"
    event = AuditEvent.objects.get(code=AuditCode.STAFF_CONTACT_CHANGED)
    assert event.extra["email_requested"] == "tina.new@example.com"
    assert user_withdrawal_cooloff_until(user=user) is not None
    # the old address hears of it: support's request, and the security notice
    # of the staff action (notifications)
    told = [
        m
        for m in smtp_server.to("trader@example.com")
        if "Our support team asked" in smtp_server.body(m)
    ]
    assert len(told) == 1
    assert len(smtp_server.to("trader@example.com")) == 2
    link = smtp_server.link("tina.new@example.com", "/verify-email/")
    browser = Client()
    browser.post(urlsplit(link).path)
    user.refresh_from_db()
    assert user.email == "tina.new@example.com"


# --- Signup on the pages: nothing told -------------------------------------------


def test_page_signup_with_a_registered_email_answers_the_same(
    user, committed, mailoutbox
):
    answers = []
    for email in ("fresh@example.com", user.email):
        with committed():
            response = Client().post(
                "/signup/",
                {
                    "email": email,
                    "full_name": "X Y",
                    "password": "a-long-enough-pw",
                    "accept_terms": "on",
                },
                follow=True,
            )
        answers.append((response.redirect_chain, response.content))
    assert answers[0] == answers[1]
    assert User.objects.filter(email=user.email).count() == 1
    assert {(m.to[0], m.subject) for m in mailoutbox} == {
        ("fresh@example.com", "Confirm your email address"),
        (user.email, "Someone tried to sign up with your email address"),
    }
    # the API keeps its documented 409
    taken = _post(
        "/api/v1/auth/register",
        {
            "email": user.email,
            "password": "a-long-enough-pw",
            "full_name": "X",
            "accept_terms": True,
        },
    )
    assert taken.status_code == 409


# --- Who counts as verified ---------------------------------------------------------


def test_test_users_demo_users_and_createsuperuser_are_verified():
    from accounts.seed import DEMO_USERS, seed

    assert make_user().email_verified_at is not None
    assert make_user(email_verified=False).email_verified_at is None
    seed(out=lambda line: None)
    demo = User.objects.filter(email__in=[d.email for d in DEMO_USERS])
    assert demo.count() == len(DEMO_USERS)
    assert not demo.filter(email_verified_at__isnull=True).exists()
    root = User.objects.create_superuser(email="root@example.com", password="x")
    assert root.email_verified_at is not None


@pytest.mark.django_db(transaction=True)
def test_the_migration_marks_existing_users_verified():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    before = [("accounts", "0009_audit_codes_identity")]
    executor.migrate(before)
    old_apps = executor.loader.project_state(before).apps
    OldUser = old_apps.get_model("accounts", "User")  # noqa: N806
    OldUser.objects.create(email="old@example.com", full_name="Old", password="!")
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    old = User.objects.get(email="old@example.com")
    assert old.email_verified_at == old.date_joined
