"""The back office sees API keys read-only (never a secret); revoking one goes
through the service, with a reason, audited (913) and told to the owner."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm

from accounts.admin.common import ReadOnlyAdminMixin
from accounts.services import RequestMeta
from apikeys.models import ApiKey
from apikeys.services import REVOKE_PERMISSION, api_key_revoke_by_staff
from config.domain_errors import ApplicationError


class RevokeActionForm(ActionForm):
    reason = forms.CharField(
        required=False, max_length=255, help_text="Why (for the audit trail)."
    )


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "key_id",
        "user",
        "kind",
        "label",
        "scope_list",
        "created_at",
        "last_used_at",
        "last_used_ip",
        "expires_at",
        "revoked_at",
    )
    list_filter = ("kind", "revoked_at", "created_at")
    search_fields = ("=key_id", "user__email", "label")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    date_hierarchy = "created_at"
    fields = (
        "key_id",
        "user",
        "kind",
        "label",
        "scopes",
        "ip_allowlist",
        "expires_at",
        "created_at",
        "last_used_at",
        "last_used_ip",
        "revoked_at",
    )
    readonly_fields = fields
    actions = ["revoke_selected"]
    action_form = RevokeActionForm

    @admin.display(description="Scopes")
    def scope_list(self, obj: ApiKey) -> str:
        return ", ".join(obj.scopes)

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm(REVOKE_PERMISSION)

    @admin.action(description="Revoke selected keys (say why)", permissions=["revoke"])
    def revoke_selected(self, request, queryset) -> None:
        meta = RequestMeta.from_request(request)
        revoked, refused = 0, []
        for key in queryset.select_related("user").order_by("pk"):
            try:
                api_key_revoke_by_staff(
                    key=key,
                    staff=request.user,
                    reason=request.POST.get("reason", ""),
                    meta=meta,
                )
                revoked += 1
            except ApplicationError as exc:
                refused.append(f"{key.key_id}: {exc.message}")
        if revoked:
            self.message_user(request, f"{revoked} key(s) revoked.")
        for message in refused:
            self.message_user(request, message, level=messages.WARNING)
