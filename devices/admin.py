"""The back office sees a user's notification devices, read-only: what was
verified or registered, and when; never a code or a full push token."""

from __future__ import annotations

from django.contrib import admin

from accounts.admin.common import ReadOnlyAdminMixin
from devices.models import (
    MobileDevice,
    PhoneChallenge,
    PhoneNumber,
    WebPushSubscription,
)


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """A user's device row: read-only (accounts' mixin), found by the email."""

    list_select_related = ("user",)
    raw_id_fields = ("user",)
    search_fields = ("user__email",)


@admin.register(PhoneNumber)
class PhoneNumberAdmin(ReadOnlyAdmin):
    list_display = ("user", "number", "verified_at")
    fields = ("user", "number", "verified_at")
    readonly_fields = fields


@admin.register(PhoneChallenge)
class PhoneChallengeAdmin(ReadOnlyAdmin):
    list_display = ("user", "number", "created_at", "failed_attempts", "closed_at")
    list_filter = ("closed_at",)
    fields = (
        "user",
        "number",
        "created_at",
        "expires_at",
        "failed_attempts",
        "closed_at",
        "provider_ref",
    )
    readonly_fields = fields


@admin.register(WebPushSubscription)
class WebPushSubscriptionAdmin(ReadOnlyAdmin):
    list_display = ("user", "browser", "push_service", "created_at", "last_sent_at")
    fields = ("user", "browser", "push_service", "created_at", "last_sent_at")
    readonly_fields = fields

    @admin.display(description="Push service")
    def push_service(self, obj: WebPushSubscription) -> str:
        return obj.endpoint.split("/")[2] if "//" in obj.endpoint else ""


@admin.register(MobileDevice)
class MobileDeviceAdmin(ReadOnlyAdmin):
    list_display = (
        "user",
        "platform",
        "name",
        "token_start",
        "created_at",
        "last_sent_at",
    )
    list_filter = ("platform",)
    fields = (
        "user",
        "platform",
        "name",
        "token_start",
        "sign_in",
        "created_at",
        "last_sent_at",
    )
    readonly_fields = fields

    @admin.display(description="Token")
    def token_start(self, obj: MobileDevice) -> str:
        return f"{obj.token[:12]}…"
