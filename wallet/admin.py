"""Back office for the wallet. The ledger is read-only; withdrawals and
adjustments (`wallet.admin_approvals`) move only through their own pages' steps,
each calling one service (four eyes, typed notes, no bulk actions)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect

from accounts.admin import ReadOnlyAdminMixin
from accounts.services import RequestMeta
from config.errors import ApplicationError
from wallet import services
from wallet.admin_approvals import AdjustmentAdmin, WithdrawalAdmin
from wallet.models import (
    Account,
    Asset,
    BalanceAlert,
    Beneficiary,
    BeneficiaryStatusChange,
    Deposit,
    DepositReversal,
    DepositStatusChange,
    Entry,
    Hold,
    Journal,
    Transfer,
)
from wallet.money import format_units, to_units
from wallet.services.assets import CODE_RE as ASSET_CODE_RE
from wallet.services.assets import MAX_DECIMALS as ASSET_MAX_DECIMALS


def _money(obj, field: str = "amount") -> str:
    return format_units(getattr(obj, field), obj.asset.decimals)


class AssetForm(forms.ModelForm):
    """The daily withdrawal limit as a decimal string of the asset (0 = none)."""

    limit_text = forms.CharField(
        label="Daily withdrawal limit",
        max_length=40,
        initial="0",
        help_text="Per user per UTC day, in the asset (e.g. 50000.00); 0 = no limit.",
    )

    class Meta:
        model = Asset
        fields = ("code", "name", "kind", "decimals", "is_active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.fields["limit_text"].initial = format_units(
                self.instance.daily_withdrawal_limit, self.instance.decimals
            )

    def clean_code(self) -> str:
        code = self.cleaned_data["code"].strip().upper()
        if not ASSET_CODE_RE.match(code):
            raise forms.ValidationError("Use 2 to 16 capital letters or digits.")
        return code

    def clean_decimals(self) -> int:
        decimals = self.cleaned_data["decimals"]
        if decimals > ASSET_MAX_DECIMALS:
            raise forms.ValidationError(f"At most {ASSET_MAX_DECIMALS}.")
        return decimals

    def clean(self):
        data = super().clean()
        decimals = (
            self.instance.decimals
            if self.instance.pk is not None
            else data.get("decimals")
        )
        if decimals is None or "limit_text" not in data:
            return data
        try:
            data["daily_withdrawal_limit"] = to_units(
                data["limit_text"],
                decimals=decimals,
                field="daily_withdrawal_limit",
                allow_zero=True,
            )
        except ApplicationError as exc:
            self.add_error("limit_text", exc.message.split(": ", 1)[-1])
        return data


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    """Assets are created and edited through `asset_create` / `asset_update`
    (audited); code, decimals and kind are fixed once the asset exists."""

    form = AssetForm
    list_display = ("code", "name", "kind", "decimals", "is_active", "limit")
    list_filter = ("kind", "is_active")
    search_fields = ("code", "name")
    _fixed = ("code", "decimals", "kind")

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("code", "name", "kind", "decimals", "is_active", "limit_text")
        return (*self._fixed, "name", "is_active", "limit_text")

    def get_readonly_fields(self, request, obj=None):
        # Changing code or decimals would re-value every stored amount.
        return self._fixed if obj is not None else ()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        meta = RequestMeta.from_request(request)
        if change:
            services.asset_update(
                asset=obj,
                acting_user=request.user,
                meta=meta,
                name=data["name"],
                is_active=data["is_active"],
                daily_withdrawal_limit=data["daily_withdrawal_limit"],
            )
            obj.refresh_from_db()
            return
        created = services.asset_create(
            code=data["code"],
            name=data["name"],
            decimals=data["decimals"],
            kind=data["kind"],
            is_active=data["is_active"],
            daily_withdrawal_limit=data["daily_withdrawal_limit"],
            acting_user=request.user,
            meta=meta,
        )
        obj.pk = created.pk
        obj.__dict__.update(
            {k: v for k, v in created.__dict__.items() if not k.startswith("_")}
        )

    def save_related(self, request, form, formsets, change):
        """An asset has no related rows to save here."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ApplicationError as exc:  # e.g. the same code created meanwhile
            messages.error(request, exc.message)
            return redirect(request.path)

    @admin.display(description="Daily withdrawal limit")
    def limit(self, obj):
        if not obj.daily_withdrawal_limit:
            return "—"
        return format_units(obj.daily_withdrawal_limit, obj.decimals)


class OwingFilter(admin.SimpleListFilter):
    """Receivables below zero: users who owe after a refund or a chargeback of
    money they had spent (restricted until repaid)."""

    title = "owing"
    parameter_name = "owing"

    def lookups(self, request, model_admin):
        return [("1", "Owing")]

    def queryset(self, request, queryset):
        if self.value() == "1":
            return queryset.filter(kind=Account.Kind.RECEIVABLE, balance__lt=0)
        return queryset


@admin.register(Account)
class AccountAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "owner", "asset", "kind", "balance_display")
    list_filter = (OwingFilter, "kind", "asset")
    search_fields = ("owner__email",)
    list_select_related = ("owner", "asset")

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


class DepositReversalInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = DepositReversal
    fields = ("created_at", "kind", "provider_id", "amount", "covered", "shortfall")
    readonly_fields = fields
    extra = 0


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
    search_fields = ("user__email", "provider_reference", "payment_id")
    list_select_related = ("user", "asset")
    inlines = [DepositHistoryInline, DepositReversalInline]

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


class BeneficiaryHistoryInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = BeneficiaryStatusChange
    fields = ("created_at", "old_status", "new_status", "acting_user", "note")
    readonly_fields = fields
    extra = 0


@admin.register(Beneficiary)
class BeneficiaryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Users' withdrawal destinations: read-only here (only the user adds,
    confirms or removes one, through wallet.services.beneficiaries)."""

    list_display = (
        "id",
        "user",
        "rail",
        "label",
        "destination",
        "status",
        "confirmed_at",
        "usable_from",
        "created_at",
    )
    list_filter = ("status", "rail")
    search_fields = ("user__email", "destination", "label")
    list_select_related = ("user",)
    inlines = (BeneficiaryHistoryInline,)


__all__ = ["AdjustmentAdmin", "WithdrawalAdmin"]
