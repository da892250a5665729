"""One time zone per reader (accounts/timezones.py): the user's own setting, else
the browser's (the `tz` cookie), else UTC; every page shows it, labelled."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.test import Client
from django.utils import timezone

from accounts.models import AuditCode, AuditEvent
from accounts.testing import api_client_for, make_user
from accounts.timezones import zone_label

pytestmark = pytest.mark.django_db

MOMENT = datetime(2026, 12, 7, 8, 35, tzinfo=UTC)


@pytest.mark.parametrize(
    "zone,label",
    [
        ("Asia/Kolkata", "IST"),
        ("Europe/Paris", "CET"),
        ("UTC", "UTC"),
        ("America/Sao_Paulo", "UTC-03"),  # no letters: the offset
        ("Asia/Kathmandu", "UTC+05:45"),
    ],
)
def test_zone_labels_read_as_people_say_them(zone, label):
    assert zone_label(MOMENT, ZoneInfo(zone)) == label


def test_zoned_filter_formats_in_the_active_zone_with_its_label():
    template = Template("{% load zoned %}{{ when|zoned }}|{{ when|zoned:'time' }}")
    with timezone.override(ZoneInfo("Asia/Kolkata")):
        text = template.render(Context({"when": MOMENT}))
    assert text == (
        '<time datetime="2026-12-07T08:35:00+00:00">2026-12-07 14:05 IST</time>|'
        '<time datetime="2026-12-07T08:35:00+00:00">14:05 IST</time>'
    )


def _zone_of(client: Client, path: str = "/wallet/") -> str:
    page = client.get(path).content.decode()
    return page.split('data-time-zone="', 1)[1].split('"', 1)[0]


def test_the_users_setting_wins_then_the_browsers_cookie_then_utc():
    user = make_user(email="tz@example.com")
    client = Client()
    client.force_login(user, backend="accounts.backends.EmailBackend")
    assert _zone_of(client) == "UTC"
    client.cookies["tz"] = "America%2FNew_York"  # as js/timezone.js writes it
    assert _zone_of(client) == "America/New_York"
    client.cookies["tz"] = "Not/AZone"
    assert _zone_of(client) == "UTC"
    user.time_zone = "Asia/Kolkata"
    user.save(update_fields=["time_zone"])
    client.cookies["tz"] = "America/New_York"
    assert _zone_of(client) == "Asia/Kolkata"
    # a visitor's page follows the browser too
    visitor = Client()
    visitor.cookies["tz"] = "Europe/Paris"
    assert _zone_of(visitor, "/login/") == "Europe/Paris"


def test_security_page_times_are_in_the_users_zone_and_labelled():
    user = make_user(email="tz2@example.com")
    user.time_zone = "Asia/Kolkata"
    user.save(update_fields=["time_zone"])
    AuditEvent.objects.create(
        code=AuditCode.PASSWORD_CHANGED, user=user, created_at=MOMENT
    )
    client = Client()
    client.force_login(user, backend="accounts.backends.EmailBackend")
    page = client.get("/account/security/").content.decode()
    assert "2026-12-07 14:05 IST</time>" in page
    assert "Times are shown in Asia/Kolkata" in page


def test_me_shows_and_patch_sets_the_time_zone_and_display_currency():
    user = make_user(email="tz3@example.com")
    client = api_client_for(user)
    body = client.get("/api/v1/me").json()
    assert (body["time_zone"], body["display_currency"]) == ("", "")
    response = client.patch(
        "/api/v1/me",
        {"time_zone": "Asia/Kolkata", "display_currency": "inr"},
        format="json",
    )
    assert response.status_code == 200
    assert (response.json()["time_zone"], response.json()["display_currency"]) == (
        "Asia/Kolkata",
        "INR",
    )
    event = AuditEvent.objects.filter(code=AuditCode.PROFILE_UPDATED).latest("id")
    assert event.extra["changes"]["time_zone"] == ["", "Asia/Kolkata"]
    bad = client.patch("/api/v1/me", {"time_zone": "Mars/Olympus"}, format="json")
    assert bad.status_code == 400
    assert "time_zone" in bad.json()["error"]["details"]
    # a currency code of the wrong shape is bad input too (the API contract)
    bad = client.patch("/api/v1/me", {"display_currency": "=P`"}, format="json")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_currency"
    assert "display_currency" in bad.json()["error"]["details"]
    user.refresh_from_db()
    assert user.time_zone == "Asia/Kolkata"
