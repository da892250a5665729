"""The audit trail and idempotency keys: read-only everywhere."""

from django.contrib import admin

from accounts.admin.common import ReadOnlyAdminMixin
from accounts.models import AuditEvent, IdempotencyKey


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "code", "event", "user", "acting_user", "ip_address")
    list_filter = ("code",)
    search_fields = ("user__email", "acting_user__email", "target_id")
    list_select_related = ("user", "acting_user")
    date_hierarchy = "created_at"

    @admin.display(description="Event")
    def event(self, obj):
        return obj.get_code_display()


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "user", "scope", "key", "response_status")
    search_fields = ("user__email", "key")
    list_select_related = ("user",)
