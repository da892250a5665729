"""Back office for notifications: deliveries read-only with filters, a failed
one showing the provider's answer; "send again" goes through a service and is
audited. In-app items are the users' own: read-only too."""

from __future__ import annotations

from django.contrib import admin, messages

from accounts.admin.common import ReadOnlyAdminMixin
from accounts.services import RequestMeta
from config.domain_errors import ApplicationError
from notifications.models import Delivery, Notification
from notifications.services.delivery import delivery_retry


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "created_at",
        "user",
        "event_type",
        "channel",
        "status",
        "attempts",
        "next_attempt_at",
        "answer",
    )
    list_filter = ("status", "channel", "notification__event_type", "created_at")
    search_fields = ("user__email", "key", "provider_reference", "address")
    list_select_related = ("user", "notification")
    raw_id_fields = ("user", "notification")
    date_hierarchy = "created_at"
    actions = ["retry"]

    @admin.display(description="Event type")
    def event_type(self, obj: Delivery) -> str:
        return obj.notification.event_type

    @admin.display(description="Provider answer")
    def answer(self, obj: Delivery) -> str:
        return obj.provider_answer[:120]

    def has_retry_permission(self, request) -> bool:
        return request.user.has_perm("notifications.retry_delivery")

    @admin.action(description="Send again (failed or skipped)", permissions=["retry"])
    def retry(self, request, queryset) -> None:
        sent, refused = 0, []
        for delivery_id in queryset.order_by("pk").values_list("pk", flat=True):
            try:
                delivery_retry(
                    delivery_id=delivery_id,
                    staff=request.user,
                    meta=RequestMeta.from_request(request),
                )
                sent += 1
            except ApplicationError as exc:
                refused.append(exc.message)
        if sent:
            self.message_user(request, f"{sent} delivery(ies) queued again.")
        for message in refused:
            self.message_user(request, message, level=messages.WARNING)


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "created_at", "user", "event_type", "title", "read_at")
    list_filter = ("event_type", "in_app", "created_at")
    search_fields = ("user__email", "key", "title")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    date_hierarchy = "created_at"
