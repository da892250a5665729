"""One time zone per person, everywhere on the pages (docs/retail-pages.md).

The zone is the user's own setting (`User.time_zone`, an IANA name); when it is
empty, the browser's zone, which static/js/timezone.js reads with `Intl` and
keeps in the `tz` cookie; before the browser has said, UTC. `TimeZoneMiddleware`
activates it for the request, so Django's `date` filter and `localtime` use it,
and `zone_label` names it the way people read it ("IST", "CET", "UTC-03")."""

from __future__ import annotations

import functools
from datetime import datetime, tzinfo
from urllib.parse import unquote
from zoneinfo import ZoneInfo, available_timezones

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

TZ_COOKIE = "tz"


@functools.cache
def zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def zone_valid(name: str) -> bool:
    return name in zone_names()


def zone_for_request(request: HttpRequest) -> str:
    """The zone this request's pages are shown in: the user's setting, else the
    browser's (the cookie), else the site's (UTC)."""
    user = getattr(request, "user", None)
    own = getattr(user, "time_zone", "") if user is not None else ""
    if own and user is not None and user.is_authenticated and zone_valid(own):
        return own
    # set by js/timezone.js with encodeURIComponent ("Asia%2FKolkata")
    browser = unquote(request.COOKIES.get(TZ_COOKIE, ""))
    if browser and zone_valid(browser):
        return browser
    return str(settings.TIME_ZONE)


def zone_label(moment: datetime, zone: tzinfo | None = None) -> str:
    """The zone's short name at that moment: "IST", "CET" / "CEST" (with summer
    time), "UTC"; a zone without a letter abbreviation reads "UTC+05:45"."""
    zone = zone or timezone.get_current_timezone()
    local = moment.astimezone(zone)
    name = local.tzname() or ""
    if name and name[0] in "+-":
        offset = local.utcoffset()
        minutes = int(offset.total_seconds() // 60) if offset is not None else 0
        sign = "-" if minutes < 0 else "+"
        hours, rest = divmod(abs(minutes), 60)
        return f"UTC{sign}{hours:02d}" + (f":{rest:02d}" if rest else "")
    return name or "UTC"


class TimeZoneMiddleware:
    """After the auth middleware: activates the request's zone for the page and
    exposes its name as `request.time_zone` (the base template puts it on
    `<body data-time-zone>` for the scripts)."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        name = zone_for_request(request)
        request.time_zone = name  # type: ignore[attr-defined]
        timezone.activate(ZoneInfo(name))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
