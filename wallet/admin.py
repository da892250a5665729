"""Back office for the wallet. The ledger is read-only; withdrawals and
adjustments move only through admin actions that call services (four eyes)."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect

from accounts.admin import ReadOnlyAdminMixin
from accounts.services import RequestMeta
from config.errors import ApplicationError
from wallet import services
from wallet.models import (
    Account,
    Adjustment,
    AdjustmentStatusChange,
    Asset,
    BalanceAlert,
    Beneficiary,
    BeneficiaryStatusChange,
    Deposit,
    DepositStatusChange,
    Entry,
    Hold,
    Journal,
    Transfer,
    Withdrawal,
    WithdrawalStatusChange,
)
from wallet.money import format_units, to_units


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


class WithdrawalHistoryInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = WithdrawalStatusChange
    fields = ("created_at", "old_status", "new_status", "acting_user", "note")
    readonly_fields = fields
    extra = 0


def _run(request, queryset, action, done: str) -> None:
    ok = 0
    for obj in queryset:
        try:
            action(obj)
        except ApplicationError as exc:
            messages.error(request, f"#{obj.pk}: {exc.message}")
        else:
            ok += 1
    if ok:
        messages.success(request, f"{ok} {done}.")


@admin.register(Withdrawal)
class WithdrawalAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The withdrawal queue: filter on `requested`, approve or reject."""

    list_display = (
        "id",
        "user",
        "asset",
        "amount_display",
        "destination",
        "status",
        "created_at",
        "decided_by",
    )
    list_filter = ("status", "asset")
    search_fields = ("user__email", "destination")
    list_select_related = ("user", "asset", "decided_by")
    inlines = [WithdrawalHistoryInline]
    actions = ("approve_selected", "reject_selected")

    @admin.display(description="Amount")
    def amount_display(self, obj):
        return _money(obj)

    def has_approve_permission(self, request):
        return request.user.has_perm("wallet.approve_withdrawal")

    @admin.action(
        description="Approve (pay out) selected withdrawals", permissions=["approve"]
    )
    def approve_selected(self, request, queryset):
        meta = RequestMeta.from_request(request)
        _run(
            request,
            queryset.order_by("pk"),
            lambda w: services.withdrawal_approve(
                withdrawal=w, operator=request.user, meta=meta
            ),
            "withdrawal(s) approved",
        )

    @admin.action(
        description="Reject selected withdrawals (release the funds)",
        permissions=["approve"],
    )
    def reject_selected(self, request, queryset):
        meta = RequestMeta.from_request(request)
        _run(
            request,
            queryset.order_by("pk"),
            lambda w: services.withdrawal_reject(
                withdrawal=w,
                operator=request.user,
                reason="Rejected by an operator.",
                meta=meta,
            ),
            "withdrawal(s) rejected",
        )


class AdjustmentHistoryInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = AdjustmentStatusChange
    fields = ("created_at", "old_status", "new_status", "acting_user", "note")
    readonly_fields = fields
    extra = 0


class AdjustmentAddForm(forms.ModelForm):
    amount_text = forms.CharField(
        label="Amount",
        max_length=64,
        help_text="Decimal string; positive credits the user, negative debits.",
    )

    class Meta:
        model = Adjustment
        fields = ("user", "asset", "amount_text", "reason")

    def clean(self):
        data = super().clean()
        asset, text = data.get("asset"), data.get("amount_text")
        if asset is not None and text:
            try:
                data["amount"] = to_units(
                    text, decimals=asset.decimals, field="amount", allow_negative=True
                )
            except ApplicationError as exc:
                self.add_error("amount_text", exc.message)
        return data


@admin.register(Adjustment)
class AdjustmentAdmin(admin.ModelAdmin):
    """Maker-checker: one operator adds, a different one approves or rejects."""

    form = AdjustmentAddForm
    list_display = (
        "id",
        "user",
        "asset",
        "amount_display",
        "status",
        "requested_by",
        "decided_by",
        "created_at",
    )
    list_filter = ("status", "asset")
    search_fields = ("user__email", "reason")
    list_select_related = ("user", "asset", "requested_by", "decided_by")
    raw_id_fields = ("user",)
    inlines = [AdjustmentHistoryInline]
    actions = ("approve_selected", "reject_selected")
    readonly_fields = (
        "user",
        "asset",
        "amount_display",
        "reason",
        "status",
        "requested_by",
        "decided_by",
        "decided_at",
        "journal",
        "created_at",
    )

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ()

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("user", "asset", "amount_text", "reason")
        return self.readonly_fields

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_approve_permission(self, request):
        return request.user.has_perm("wallet.approve_adjustment")

    @admin.display(description="Amount")
    def amount_display(self, obj):
        return _money(obj)

    def save_model(self, request, obj, form, change):
        created = services.adjustment_request(
            user=form.cleaned_data["user"],
            asset=form.cleaned_data["asset"],
            amount=form.cleaned_data["amount"],
            reason=form.cleaned_data["reason"],
            operator=request.user,
            meta=RequestMeta.from_request(request),
        )
        obj.pk = created.pk
        obj.__dict__.update(
            {k: v for k, v in created.__dict__.items() if not k.startswith("_")}
        )

    def add_view(self, request, form_url="", extra_context=None):
        try:
            return super().add_view(request, form_url, extra_context)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect(request.path)

    @admin.action(
        description="Approve (post) selected adjustments", permissions=["approve"]
    )
    def approve_selected(self, request, queryset):
        meta = RequestMeta.from_request(request)
        _run(
            request,
            queryset.order_by("pk"),
            lambda a: services.adjustment_approve(
                adjustment=a, operator=request.user, meta=meta
            ),
            "adjustment(s) approved",
        )

    @admin.action(description="Reject selected adjustments", permissions=["approve"])
    def reject_selected(self, request, queryset):
        meta = RequestMeta.from_request(request)
        _run(
            request,
            queryset.order_by("pk"),
            lambda a: services.adjustment_reject(
                adjustment=a, operator=request.user, reason="Rejected.", meta=meta
            ),
            "adjustment(s) rejected",
        )


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
    raw_id_fields = ("user",)
    inlines = (BeneficiaryHistoryInline,)
