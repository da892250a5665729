"""Times on pages in the reader's zone, labelled: `{{ when|zoned }}` gives
"2026-12-07 14:05 IST" inside a `<time>` element; `{{ when|zoned:"time" }}`
gives "14:05 IST"; `{% zone_name %}` the active zone's IANA name."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html

from accounts.timezones import zone_label

register = template.Library()

FORMATS = {"datetime": "%Y-%m-%d %H:%M", "time": "%H:%M", "date": "%Y-%m-%d"}


def zoned_text(value: datetime, style: str = "datetime") -> str:
    local = timezone.localtime(value)
    text = local.strftime(FORMATS.get(style, FORMATS["datetime"]))
    return f"{text} {zone_label(value)}"


@register.filter
def zoned(value, style: str = "datetime"):
    if not isinstance(value, datetime):
        return value or ""
    return format_html(
        '<time datetime="{}">{}</time>',
        value.isoformat(),
        zoned_text(value, style),
    )


@register.simple_tag
def zone_name() -> str:
    return timezone.get_current_timezone_name()
