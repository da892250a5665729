"""The KYC back office: a review queue and one screen per case. Every button posts
to a small admin view that calls one service; nothing here writes a model."""

from django.contrib import admin

from accounts.admin import ReadOnlyAdminMixin
from kyc.admin.case import KycCaseAdmin
from kyc.models import KycProfile, KycStatusEvent

__all__ = ["KycCaseAdmin"]


@admin.register(KycProfile)
class KycProfileAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Profiles, read-only, identity numbers masked (the case screen unmasks them
    for the reviewer who claimed the case)."""

    list_display = ("user", "legal_name", "country", "status", "updated_at")
    list_filter = ("status",)
    search_fields = ("user__email", "legal_name")
    list_select_related = ("user",)
    fields = (
        "user",
        "status",
        "legal_name",
        "date_of_birth",
        "country",
        "address_line1",
        "address_line2",
        "city",
        "postal_code",
        "id_type",
        "id_number_masked",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    @admin.display(description="Identity number")
    def id_number_masked(self, profile):
        return profile.id_number_masked


@admin.register(KycStatusEvent)
class KycStatusEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The append-only history: nobody adds, changes or deletes, not even a
    superuser."""

    list_display = (
        "created_at",
        "case",
        "action",
        "from_status",
        "to_status",
        "document",
        "actor",
        "reason_codes",
    )
    list_filter = ("action", "to_status")
    search_fields = ("case__profile__user__email", "case__legal_name", "actor__email")
    list_select_related = ("case", "document", "actor")
    date_hierarchy = "created_at"
