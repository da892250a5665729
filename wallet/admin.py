"""Back office for the wallet. The ledger is read-only; withdrawals and
adjustments (`wallet.admin_approvals`) move only through their own pages' steps,
each calling one service (four eyes, typed notes, no bulk actions)."""

from __future__ import annotations

from django.contrib import admin

from accounts.admin import ReadOnlyAdminMixin
from wallet.admin_approvals import AdjustmentAdmin, WithdrawalAdmin
from wallet.models import (
    Account,
    Asset,
    BalanceAlert,
    Deposit,
    DepositStatusChange,
    Entry,
    Hold,
    Journal,
    Transfer,
)
from wallet.money import format_units


def _money(obj, field: str = "amount") -> str:
    return format_units(getattr(obj, field), obj.asset.decimals)


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "kind", "decimals", "is_active", "limit")
    list_filter = ("kind", "is_active")
    search_fields = ("code", "name")

    def get_readonly_fields(self, request, obj=None):
        # Changing code or decimals would re-value every stored amount.
        return ("code", "decimals") if obj is not None else ()

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Daily withdrawal limit")
    def limit(self, obj):
        return (
            _money(obj, "daily_withdrawal_limit") if obj.daily_withdrawal_limit else "—"
        )


@admin.register(Account)
class AccountAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "owner", "asset", "kind", "balance_display")
    list_filter = ("kind", "asset")
    search_fields = ("owner__email",)
    list_select_related = ("owner", "asset")
    raw_id_fields = ("owner",)

    @admin.display(description="Balance")
    def balance_display(self, obj):
        return _money(obj, "balance")


class EntryInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = Entry
    fields = ("account", "amount", "balance_after")
    readonly_fields = fields
    extra = 0


@admin.register(Journal)
class JournalAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "kind", "reference", "created_at")
    list_filter = ("kind",)
    search_fields = ("reference",)
    date_hierarchy = "created_at"
    inlines = [EntryInline]


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "user",
        "asset",
        "reference_kind",
        "reference_id",
        "amount",
        "remaining_amount",
        "status",
    )
    list_filter = ("status", "reference_kind", "asset")
    search_fields = ("user__email", "reference_id")
    list_select_related = ("user", "asset")


class DepositHistoryInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = DepositStatusChange
    fields = ("created_at", "old_status", "new_status", "acting_user", "note")
    readonly_fields = fields
    extra = 0


@admin.register(Deposit)
class DepositAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "user",
        "asset",
        "amount_display",
        "provider",
        "status",
        "created_at",
    )
    list_filter = ("status", "provider", "asset")
    search_fields = ("user__email", "provider_reference")
    list_select_related = ("user", "asset")
    inlines = [DepositHistoryInline]

    @admin.display(description="Amount")
    def amount_display(self, obj):
        return _money(obj)


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "sender",
        "recipient",
        "asset",
        "amount_display",
        "created_at",
    )
    search_fields = ("sender__email", "recipient__email")
    list_select_related = ("sender", "recipient", "asset")

    @admin.display(description="Amount")
    def amount_display(self, obj):
        return _money(obj)


@admin.register(BalanceAlert)
class BalanceAlertAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("user", "asset", "minimum_display", "updated_at")
    list_select_related = ("user", "asset")
    search_fields = ("user__email",)

    @admin.display(description="Minimum")
    def minimum_display(self, obj):
        return _money(obj, "minimum")


__all__ = ["AdjustmentAdmin", "WithdrawalAdmin"]
