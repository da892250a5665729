"""Sessions and devices: the list, ending one or all others (API and pages), the
new-device security notice, token families and stream tickets."""

import time

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts import services
from accounts.events import SecurityNotice
from accounts.models import AuditCode, AuditEvent, SignIn
from accounts.services.sessions import device_from_user_agent
from accounts.testing import PASSWORD, make_user
from config.tests.recording import recorded

pytestmark = pytest.mark.django_db

CHROME_120 = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
CHROME_121 = CHROME_120.replace("Chrome/120", "Chrome/121")
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)


@pytest.fixture
def user(db):
    # not conftest's trader@example.com: its successful logins would reset the
    # lockout counters another test of that email counts (the cache is shared)
    return make_user(email="devices@example.com")


def api_login(user, agent=FIREFOX, address="198.51.100.7") -> dict:
    response = APIClient().post(
        "/api/v1/auth/login",
        {"email": user.email, "password": PASSWORD},
        format="json",
        HTTP_USER_AGENT=agent,
        REMOTE_ADDR=address,
    )
    assert response.status_code == 200, response.content
    return response.json()


def bearer(tokens: dict) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    return client


def page_login(user, agent=CHROME_120) -> Client:
    browser = Client(HTTP_USER_AGENT=agent)
    response = browser.post("/login/", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return browser


def refresh(token: str):
    return APIClient().post("/api/v1/auth/refresh", {"refresh": token}, format="json")


def test_device_names_and_fingerprints():
    chrome, newer, firefox = map(
        device_from_user_agent, (CHROME_120, CHROME_121, FIREFOX)
    )
    assert chrome.label == "Chrome 120 on Windows 10"
    assert (
        device_from_user_agent(IPHONE).label == "Mobile Safari 17 on iOS 17.1 (iPhone)"
    )
    assert device_from_user_agent("").label == "Unknown device"
    # a browser update is the same device; another browser is not
    assert chrome.fingerprint == newer.fingerprint != firefox.fingerprint


def test_api_lists_web_and_api_sign_ins_marking_this_device(user):
    page_login(user)
    tokens = api_login(user)
    response = bearer(tokens).get("/api/v1/me/sessions")
    assert response.status_code == 200
    rows = response.json()
    assert [(r["kind"], r["device"], r["current"]) for r in rows] == [
        ("api", "Firefox 121 on Linux", True),
        ("web", "Chrome 120 on Windows 10", False),
    ]
    assert rows[0]["ip_address"] == "198.51.100.7"
    assert set(rows[0]) == {
        "id",
        "kind",
        "device",
        "ip_address",
        "first_seen",
        "last_seen",
        "current",
    }
    # the refresh token and the access token carry the family
    family = SignIn.objects.get(kind="api")
    assert str(family.public_id) == rows[0]["id"]
    assert APIClient().get("/api/v1/me/sessions").status_code == 401


def test_refresh_keeps_the_family_and_follows_its_newest_token(user):
    tokens = api_login(user)
    family = SignIn.objects.get(kind="api")
    rotated = refresh(tokens["refresh"]).json()
    assert SignIn.objects.filter(kind="api").count() == 1
    rows = bearer(rotated).get("/api/v1/me/sessions").json()
    assert rows[0]["id"] == str(family.public_id) and rows[0]["current"]
    old_jti = family.refresh_jti
    family.refresh_from_db()
    assert family.refresh_jti != old_jti


def test_api_ends_one_sign_in_and_its_tokens(user):
    browser = page_login(user)
    phone = api_login(user, agent=IPHONE)
    laptop = api_login(user)
    phone_id = SignIn.objects.get(device__startswith="Mobile Safari").public_id

    response = bearer(laptop).delete(f"/api/v1/me/sessions/{phone_id}")
    assert response.status_code == 204
    ended = SignIn.objects.get(public_id=phone_id)
    assert ended.end_reason == "ended_by_user" and ended.ended_at is not None
    assert refresh(phone["refresh"]).status_code == 401
    # no reuse alarm for a token whose sign-in was ended on purpose
    assert not AuditEvent.objects.filter(code=AuditCode.TOKEN_REFRESH_REUSED).exists()
    # a ticket for the ended family is refused at once
    assert bearer(phone).post("/api/v1/stream-tickets").status_code == 401
    event = AuditEvent.objects.get(code=AuditCode.SESSION_ENDED)
    assert event.extra["sign_in"] == str(phone_id)
    assert event.extra["device"] == "Mobile Safari 17 on iOS 17.1 (iPhone)"
    # the others live on
    assert browser.get("/account/sessions/").status_code == 200
    assert refresh(laptop["refresh"]).status_code == 200

    again = bearer(laptop).delete(f"/api/v1/me/sessions/{phone_id}")
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "sign_in_not_found"
    assert bearer(laptop).delete("/api/v1/me/sessions/not-a-uuid").status_code == 404


def test_api_ends_all_other_sign_ins(user):
    browser = page_login(user)
    phone = api_login(user, agent=IPHONE)
    laptop = api_login(user)
    response = bearer(laptop).post("/api/v1/me/sessions/end-others")
    assert response.status_code == 200
    assert response.json() == {"ended": 2}
    assert [r["current"] for r in bearer(laptop).get("/api/v1/me/sessions").json()] == [
        True
    ]
    # the browser session is logged out, the phone's tokens are dead
    assert browser.get("/account/sessions/").status_code == 302
    assert refresh(phone["refresh"]).status_code == 401
    event = AuditEvent.objects.get(code=AuditCode.OTHER_SESSIONS_ENDED)
    assert event.extra["count"] == 2


def test_page_lists_and_ends_sign_ins(user):
    other_browser = page_login(user, agent=FIREFOX)
    api_login(user, agent=IPHONE)
    browser = page_login(user)
    page = browser.get("/account/sessions/")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count("this device") == 1
    assert 'Chrome 120 on Windows 10 <span class="badge ok">this device' in html
    assert "Firefox 121 on Linux" in html and "Mobile Safari 17" in html
    assert "End all other sign-ins (2)" in html

    firefox = SignIn.objects.get(device="Firefox 121 on Linux")
    response = browser.post(
        "/account/sessions/", {"action": "end", "id": str(firefox.public_id)}
    )
    assert response.status_code == 302
    assert other_browser.get("/account/sessions/").status_code == 302  # logged out
    assert AuditEvent.objects.filter(code=AuditCode.SESSION_ENDED).count() == 1

    missing = browser.post("/account/sessions/", {"action": "end", "id": "nope"})
    assert missing.status_code == 404

    response = browser.post("/account/sessions/", {"action": "end-others"})
    assert response.status_code == 302
    assert SignIn.objects.filter(ended_at__isnull=True).count() == 1
    assert (
        AuditEvent.objects.get(code=AuditCode.OTHER_SESSIONS_ENDED).extra["count"] == 1
    )

    mine = SignIn.objects.get(ended_at__isnull=True)
    response = browser.post(
        "/account/sessions/", {"action": "end", "id": str(mine.public_id)}
    )
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert browser.get("/account/sessions/").status_code == 302
    assert SignIn.objects.filter(ended_at__isnull=True).count() == 0


def test_page_needs_login():
    response = Client().get("/account/sessions/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_page_password_change_keeps_this_session_and_ends_the_others(user):
    other = page_login(user, agent=FIREFOX)
    tokens = api_login(user)
    browser = page_login(user)
    response = browser.post(
        "/account/security/",
        {
            "action": "password",
            "old_password": PASSWORD,
            "new_password": "another-long-secret-77",
        },
    )
    assert response.status_code == 302
    assert browser.get("/account/sessions/").status_code == 200
    assert other.get("/account/sessions/").status_code == 302
    assert refresh(tokens["refresh"]).status_code == 401
    live = SignIn.objects.filter(ended_at__isnull=True)
    assert [s.device for s in live] == ["Chrome 120 on Windows 10"]
    assert set(
        SignIn.objects.filter(ended_at__isnull=False).values_list(
            "end_reason", flat=True
        )
    ) == {"password_changed"}


def test_web_logout_ends_the_sign_in(user):
    browser = page_login(user)
    assert browser.post("/logout/").status_code == 302
    assert SignIn.objects.get().end_reason == "logout"


def test_api_logout_ends_the_family(user):
    tokens = api_login(user)
    response = bearer(tokens).post(
        "/api/v1/auth/logout", {"refresh": tokens["refresh"]}, format="json"
    )
    assert response.status_code == 204
    assert SignIn.objects.get().end_reason == "logout"


def test_an_old_session_gets_its_row_without_an_email(user, mailoutbox):
    browser = Client(HTTP_USER_AGENT=FIREFOX)
    browser.force_login(user, backend="accounts.backends.EmailBackend")
    assert browser.get("/account/sessions/").status_code == 200
    assert SignIn.objects.get().device == "Firefox 121 on Linux"
    assert mailoutbox == []


def test_a_new_device_sign_in_records_a_security_notice(user, mailoutbox):
    with recorded(SecurityNotice) as seen:
        page_login(user, agent=CHROME_120)  # the first sign-in ever: no notice
        page_login(user, agent=CHROME_121)  # the same browser, updated: none
        api_login(user, agent=FIREFOX, address="203.0.113.9")  # new: one
    assert seen == [
        SecurityNotice(
            user_id=user.pk,
            kind="new_device_sign_in",
            detail=(("device", "Firefox 121 on Linux"),),
            ip_address="203.0.113.9",
            user_agent=FIREFOX,
        )
    ]
    assert mailoutbox == []  # notifications send it, from the event
    event = AuditEvent.objects.get(code=AuditCode.NEW_DEVICE_SIGN_IN)
    assert event.extra["device"] == "Firefox 121 on Linux"
    assert event.extra["kind"] == "api"
    assert event.ip_address == "203.0.113.9"

    with recorded(SecurityNotice) as again:
        api_login(user, agent=FIREFOX)  # seen now
    assert again == []


def test_a_stream_ticket_works_once(user):
    tokens = api_login(user)
    response = bearer(tokens).post("/api/v1/stream-tickets")
    assert response.status_code == 201
    body = response.json()
    assert body["expires_in"] == 30
    grant = services.stream_ticket_redeem(ticket=body["ticket"])
    assert grant.user_id == user.pk
    assert grant.sign_in == str(SignIn.objects.get().public_id)
    assert services.stream_ticket_redeem(ticket=body["ticket"]) is None
    assert services.stream_ticket_redeem(ticket="x" * 43) is None
    assert APIClient().post("/api/v1/stream-tickets").status_code == 401


def test_a_stream_ticket_expires(user, settings):
    settings.STREAM_TICKET_SECONDS = 1
    tokens = api_login(user)
    ticket = bearer(tokens).post("/api/v1/stream-tickets").json()["ticket"]
    time.sleep(1.2)
    assert services.stream_ticket_redeem(ticket=ticket) is None


def test_a_stream_ticket_dies_with_its_sign_in(user):
    tokens = api_login(user)
    ticket = bearer(tokens).post("/api/v1/stream-tickets").json()["ticket"]
    bearer(tokens).post("/api/v1/auth/logout", {"refresh": tokens["refresh"]})
    assert services.stream_ticket_redeem(ticket=ticket) is None


def test_a_browser_session_gets_a_ticket_too(user):
    browser = page_login(user)
    response = browser.post("/api/v1/stream-tickets")
    assert response.status_code == 201
    grant = services.stream_ticket_redeem(ticket=response.json()["ticket"])
    assert grant.sign_in == str(SignIn.objects.get().public_id)


def test_last_seen_is_written_once_a_minute_and_an_ended_sign_in_logs_out(user):
    from django.utils import timezone

    from accounts.services.sessions import SEEN_SESSION_KEY

    browser = page_login(user)
    sign_in = SignIn.objects.get()
    before = sign_in.last_seen_at
    assert browser.get("/account/sessions/").status_code == 200
    sign_in.refresh_from_db()
    assert sign_in.last_seen_at == before  # within the minute: nothing written

    def a_minute_passes():
        session = browser.session
        session[SEEN_SESSION_KEY] = [session.session_key, 0]
        session.save()

    a_minute_passes()
    assert browser.get("/account/sessions/").status_code == 200
    sign_in.refresh_from_db()
    assert sign_in.last_seen_at > before
    # a sign-in ended while its session survived (a store that cannot delete
    # sessions) is logged out at its next write
    SignIn.objects.update(ended_at=timezone.now())
    a_minute_passes()
    assert browser.get("/account/sessions/").status_code == 302
