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


@admin.register(Account)
class AccountAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("id", "owner", "asset", "kind", "balance_display")
    list_filter = ("kind", "asset")
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
