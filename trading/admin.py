"""Back office for trading. Instruments change only through their services (the
exactness rule, audited halts); orders, trades, fills and the matcher's queue are
read-only, and an operator cancels orders through a service that audits it.
Money columns are decimal strings (trading.units)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect
from django.utils.html import format_html

from accounts.admin import ReadOnlyAdminMixin
from accounts.services import RequestMeta
from config.errors import ApplicationError
from trading.fees import fee_policy_default, order_fee_asset
from trading.models import (
    FeeOverride,
    Fill,
    Instrument,
    Order,
    OrderCommand,
    OrderStatusChange,
    PriceAlert,
    Trade,
)
from trading.services import (
    fee_override_remove,
    fee_override_set,
    instrument_create,
    instrument_set_status,
    instrument_update,
)
from trading.services.instruments import SYMBOL_RE, instrument_validate
from trading.services.operator import order_cancel_by_operator
from trading.units import base_str, lots_to_quantity, quote_str, ticks_to_price
from wallet.money import format_units, to_units

CROSSED_MARK = "crossed"


def _run(request, objects, action, done: str) -> None:
    ok = 0
    for obj in objects:
        try:
            action(obj)
        except ApplicationError as exc:
            messages.error(request, f"{obj}: {exc.message}")
        else:
            ok += 1
    if ok:
        messages.success(request, f"{ok} {done}.")


def _details_to_form(form: forms.Form, exc: ApplicationError, fields: dict) -> None:
    """Put a service error on the form field it names (`fields` maps service
    field names to form field names)."""
    for name in exc.details or {}:
        if fields.get(name) in form.fields:
            form.add_error(fields[name], exc.message.split(": ", 1)[-1])
            return
    form.add_error(None, exc.message)


# --- Instruments --------------------------------------------------------------------


class InstrumentCreateForm(forms.ModelForm):
    """Steps and minimums as decimal strings of the instrument's assets; validated
    by the same rule `instrument_create` applies (tick x lot exactness)."""

    tick_size_text = forms.CharField(
        label="Tick size",
        max_length=40,
        help_text="Price step in the quote asset, e.g. 1.00 (USD per whole BTC).",
    )
    lot_size_text = forms.CharField(
        label="Lot size",
        max_length=40,
        help_text="Quantity step in the base asset, e.g. 0.01 (BTC).",
    )
    min_quantity_text = forms.CharField(
        label="Minimum quantity", max_length=40, initial="0", help_text="Base asset."
    )
    min_notional_text = forms.CharField(
        label="Minimum order value",
        max_length=40,
        initial="0",
        help_text="Quote asset.",
    )
    fee_policy = forms.ChoiceField(
        label="Fee policy",
        choices=[("", "Default: quote for 0 decimals or a 1-unit lot, else received")]
        + list(Instrument.FeePolicy.choices),
        required=False,
        help_text="Which asset each side pays its fee in; fixed once created.",
    )

    SERVICE_FIELDS = {
        "symbol": "symbol",
        "quote": "quote",
        "tick_size": "tick_size_text",
        "lot_size": "lot_size_text",
        "maker_fee_bps": "maker_fee_bps",
        "taker_fee_bps": "taker_fee_bps",
        "fee_policy": "fee_policy",
    }

    class Meta:
        model = Instrument
        fields = (
            "symbol",
            "base",
            "quote",
            "maker_fee_bps",
            "taker_fee_bps",
            "price_band_percent",
        )

    def clean_symbol(self) -> str:
        symbol = self.cleaned_data["symbol"].strip().upper()
        if not SYMBOL_RE.match(symbol):
            raise forms.ValidationError("Use BASE-QUOTE, e.g. BTC-USD.")
        return symbol

    def _units(self, field: str, asset, *, allow_zero: bool = False) -> int | None:
        try:
            return to_units(
                self.cleaned_data.get(field, ""),
                decimals=asset.decimals,
                field=field,
                allow_zero=allow_zero,
            )
        except ApplicationError as exc:
            self.add_error(field, exc.message.split(": ", 1)[-1])
            return None

    def clean(self):
        data = super().clean()
        base, quote = data.get("base"), data.get("quote")
        if base is None or quote is None:
            return data
        tick = self._units("tick_size_text", quote)
        lot = self._units("lot_size_text", base)
        data["min_quantity"] = self._units("min_quantity_text", base, allow_zero=True)
        data["min_notional"] = self._units("min_notional_text", quote, allow_zero=True)
        if tick is None or lot is None:
            return data
        data["tick_size"], data["lot_size"] = tick, lot
        data["fee_policy"] = data.get("fee_policy") or fee_policy_default(
            base=base, lot_size=lot
        )
        try:
            instrument_validate(
                base=base,
                quote=quote,
                tick_size=tick,
                lot_size=lot,
                maker_fee_bps=data.get("maker_fee_bps") or 0,
                taker_fee_bps=data.get("taker_fee_bps") or 0,
                fee_policy=data["fee_policy"],
            )
        except ApplicationError as exc:
            _details_to_form(self, exc, self.SERVICE_FIELDS)
        return data


class InstrumentChangeForm(forms.ModelForm):
    """Only the rules `instrument_update` may change."""

    min_quantity_text = forms.CharField(
        label="Minimum quantity", max_length=40, help_text="Base asset."
    )
    min_notional_text = forms.CharField(
        label="Minimum order value", max_length=40, help_text="Quote asset."
    )

    class Meta:
        model = Instrument
        fields = ("maker_fee_bps", "taker_fee_bps", "price_band_percent")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        instrument = self.instance
        self.fields["min_quantity_text"].initial = base_str(
            instrument, instrument.min_quantity
        )
        self.fields["min_notional_text"].initial = quote_str(
            instrument, instrument.min_notional
        )

    def clean(self):
        data = super().clean()
        instrument = self.instance
        for field, asset in (
            ("min_quantity_text", instrument.base),
            ("min_notional_text", instrument.quote),
        ):
            try:
                data[field.removesuffix("_text")] = to_units(
                    data.get(field, ""),
                    decimals=asset.decimals,
                    field=field,
                    allow_zero=True,
                )
            except ApplicationError as exc:
                self.add_error(field, exc.message.split(": ", 1)[-1])
        try:
            instrument_validate(
                base=instrument.base,
                quote=instrument.quote,
                tick_size=instrument.tick_size,
                lot_size=instrument.lot_size,
                maker_fee_bps=data.get("maker_fee_bps") or 0,
                taker_fee_bps=data.get("taker_fee_bps") or 0,
                fee_policy=instrument.fee_policy,
            )
        except ApplicationError as exc:
            _details_to_form(
                self, exc, {f: f for f in ("maker_fee_bps", "taker_fee_bps")}
            )
        return data

    def changes(self) -> dict:
        """What `instrument_update` should receive."""
        changed = set(self.changed_data)
        result: dict[str, Any] = {
            field: self.cleaned_data[field]
            for field in ("maker_fee_bps", "taker_fee_bps", "price_band_percent")
            if field in changed
        }
        for field in ("min_quantity", "min_notional"):
            # Not model fields of this form: the instance still has the old value.
            if self.cleaned_data[field] != getattr(self.instance, field):
                result[field] = self.cleaned_data[field]
        return result


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = (
        "symbol",
        "status_badge",
        "alert",
        "last_price",
        "engine_seq",
        "tick",
        "lot",
        "maker_fee_bps",
        "taker_fee_bps",
        "fee_policy",
    )
    list_filter = ("status", "fee_policy")
    search_fields = ("symbol",)
    list_select_related = ("base", "quote")
    actions = ("halt_selected", "resume_selected", "close_selected")
    _fixed = (
        "symbol",
        "base",
        "quote",
        "tick",
        "lot",
        "fee_policy",
        "status",
        "status_reason",
        "last_price",
        "engine_seq",
        "book_version",
        # set in the calendars admin (instrument calendars), audited there
        "calendar",
        "volatility_band_bps",
        "volatility_call_seconds",
        "volatility_random_seconds",
        "created_at",
        "updated_at",
    )

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = (
            InstrumentChangeForm if obj is not None else InstrumentCreateForm
        )
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return (
                "symbol",
                "base",
                "quote",
                "tick_size_text",
                "lot_size_text",
                "min_quantity_text",
                "min_notional_text",
                "maker_fee_bps",
                "taker_fee_bps",
                "fee_policy",
                "price_band_percent",
            )
        return (
            *self._fixed,
            "min_quantity_text",
            "min_notional_text",
            "maker_fee_bps",
            "taker_fee_bps",
            "price_band_percent",
        )

    def get_readonly_fields(self, request, obj=None):
        # Steps and assets are fixed once created: every stored price and
        # quantity is counted in them.
        return self._fixed if obj is not None else ()

    def has_delete_permission(self, request, obj=None):
        return False

    def save_related(self, request, form, formsets, change):
        """An instrument has no related rows to save here."""

    def save_model(self, request, obj, form, change):
        if change:
            changes = form.changes()
            if changes:
                instrument_update(
                    instrument=obj,
                    acting_user=request.user,
                    meta=RequestMeta.from_request(request),
                    **changes,
                )
            return
        data = form.cleaned_data
        created = instrument_create(
            symbol=data["symbol"],
            base=data["base"],
            quote=data["quote"],
            tick_size=data["tick_size"],
            lot_size=data["lot_size"],
            min_quantity=data["min_quantity"],
            min_notional=data["min_notional"],
            maker_fee_bps=data["maker_fee_bps"],
            taker_fee_bps=data["taker_fee_bps"],
            price_band_percent=data["price_band_percent"],
            fee_policy=data["fee_policy"],
            acting_user=request.user,
            meta=RequestMeta.from_request(request),
        )
        obj.pk = created.pk
        obj.__dict__.update(
            {k: v for k, v in created.__dict__.items() if not k.startswith("_")}
        )

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ApplicationError as exc:  # e.g. a symbol created meanwhile
            messages.error(request, exc.message)
            return redirect(request.path)

    def changelist_view(self, request, extra_context=None):
        crossed = Instrument.objects.filter(
            status=Instrument.Status.HALTED, status_reason__icontains=CROSSED_MARK
        ).values_list("symbol", "status_reason")
        for symbol, reason in crossed:
            messages.warning(request, f"{symbol} is halted: {reason}")
        return super().changelist_view(request, extra_context)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        css = {"trading": "ok", "halted": "warn", "closed": "bad"}[obj.status]
        return format_html('<span class="badge {}">{}</span>', css, obj.status)

    @admin.display(description="Alert")
    def alert(self, obj):
        if obj.status == Instrument.Status.HALTED and CROSSED_MARK in (
            obj.status_reason.lower()
        ):
            return format_html(
                '<strong style="color:#b00">⚠ {}</strong>', obj.status_reason
            )
        return obj.status_reason or "—"

    @admin.display(description="Last price")
    def last_price(self, obj):
        return ticks_to_price(obj, obj.last_price_ticks) or "—"

    @admin.display(description="Tick size")
    def tick(self, obj):
        return f"{format_units(obj.tick_size, obj.quote.decimals)} {obj.quote.code}"

    @admin.display(description="Lot size")
    def lot(self, obj):
        return f"{format_units(obj.lot_size, obj.base.decimals)} {obj.base.code}"

    def _set_status(self, request, queryset, status: str, reason: str, done: str):
        _run(
            request,
            queryset.order_by("pk"),
            lambda i: instrument_set_status(
                instrument=i, status=status, reason=reason, acting_user=request.user
            ),
            done,
        )

    @admin.action(
        description="Halt selected (keep books, cancels only)", permissions=["change"]
    )
    def halt_selected(self, request, queryset):
        self._set_status(
            request,
            queryset,
            Instrument.Status.HALTED,
            f"Halted by {request.user.email}.",
            "instrument(s) halted",
        )

    @admin.action(description="Resume trading on selected", permissions=["change"])
    def resume_selected(self, request, queryset):
        self._set_status(
            request, queryset, Instrument.Status.TRADING, "", "instrument(s) resumed"
        )

    @admin.action(description="Close selected (for good)", permissions=["change"])
    def close_selected(self, request, queryset):
        self._set_status(
            request,
            queryset,
            Instrument.Status.CLOSED,
            f"Closed by {request.user.email}.",
            "instrument(s) closed",
        )


@admin.register(FeeOverride)
class FeeOverrideAdmin(admin.ModelAdmin):
    """Per-user fee rates, set through `fee_override_set` and removed through
    `fee_override_remove` (both audited). An order keeps the rates of the moment
    it was placed, so a change here applies to new orders only."""

    list_display = ("user", "instrument_label", "maker_fee_bps", "taker_fee_bps")
    list_select_related = ("user", "instrument")
    search_fields = ("user__email",)
    list_filter = ("instrument",)
    autocomplete_fields = ("user",)
    actions = ("remove_selected",)

    def get_fields(self, request, obj=None):
        return ("user", "instrument", "maker_fee_bps", "taker_fee_bps")

    def get_readonly_fields(self, request, obj=None):
        # Who and where are the override's identity: to move it, remove it and
        # set a new one.
        return ("user", "instrument") if obj is not None else ()

    def has_delete_permission(self, request, obj=None):
        return False

    def has_remove_permission(self, request):
        return request.user.has_perm("trading.delete_feeoverride")

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        saved = fee_override_set(
            user=obj.user,
            instrument=obj.instrument,
            maker_fee_bps=data["maker_fee_bps"],
            taker_fee_bps=data["taker_fee_bps"],
            acting_user=request.user,
            meta=RequestMeta.from_request(request),
        )
        obj.pk = saved.pk

    def save_related(self, request, form, formsets, change):
        """A fee override has no related rows to save here."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect(request.path)

    @admin.action(
        description="Remove selected overrides (back to the instrument's rates)",
        permissions=["remove"],
    )
    def remove_selected(self, request, queryset):
        meta = RequestMeta.from_request(request)
        _run(
            request,
            queryset.order_by("pk"),
            lambda override: fee_override_remove(
                override=override, acting_user=request.user, meta=meta
            ),
            "override(s) removed",
        )

    @admin.display(description="Instrument")
    def instrument_label(self, obj):
        return obj.instrument.symbol if obj.instrument else "all instruments"


# --- Orders and what the matcher wrote ----------------------------------------------


class OrderHistoryInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = OrderStatusChange
    fields = ("created_at", "from_status", "to_status", "reason", "engine_seq")
    readonly_fields = fields
    extra = 0


class _InstrumentMoney:
    """Decimal-string columns for models with `instrument`, `price_ticks`,
    `quantity_lots`."""

    @admin.display(description="Price")
    def price(self, obj):
        return ticks_to_price(obj.instrument, obj.price_ticks) or "market"

    @admin.display(description="Quantity")
    def quantity(self, obj):
        return lots_to_quantity(obj.instrument, obj.quantity_lots) or "—"


@admin.register(Order)
class OrderAdmin(_InstrumentMoney, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "user",
        "instrument",
        "side",
        "type",
        "price",
        "quantity",
        "filled",
        "status",
        "reason",
        "created_at",
    )
    list_filter = ("status", "instrument", "side", "type")
    search_fields = ("user__email", "client_order_id")
    list_select_related = ("user", "instrument__base", "instrument__quote")
    date_hierarchy = "created_at"
    inlines = [OrderHistoryInline]
    actions = ("cancel_selected",)
    fields = (
        "id",
        "user",
        "instrument",
        "client_order_id",
        "side",
        "type",
        "time_in_force",
        "post_only",
        "stp",
        "price",
        "stop_price",
        "trailing_amount",
        "trail_bps",
        "expire_at",
        "oco_partner",
        "quantity",
        "quote_budget",
        "filled",
        "remaining",
        "filled_value",
        "fees",
        "status",
        "reason",
        "stop_triggered",
        "hold",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("user", "instrument__base", "instrument__quote")
        )

    @admin.display(description="Stop price")
    def stop_price(self, obj):
        return ticks_to_price(obj.instrument, obj.stop_price_ticks) or "—"

    @admin.display(description="Trailing amount")
    def trailing_amount(self, obj):
        return ticks_to_price(obj.instrument, obj.trail_amount_ticks) or "—"

    @admin.display(description="Quote budget")
    def quote_budget(self, obj):
        return quote_str(obj.instrument, obj.quote_quantity) or "—"

    @admin.display(description="Filled")
    def filled(self, obj):
        return lots_to_quantity(obj.instrument, obj.filled_lots)

    @admin.display(description="Remaining")
    def remaining(self, obj):
        return lots_to_quantity(obj.instrument, obj.open_lots)

    @admin.display(description="Filled value")
    def filled_value(self, obj):
        return f"{quote_str(obj.instrument, obj.filled_quote)} {obj.instrument.quote}"

    @admin.display(description="Fees paid")
    def fees(self, obj):
        asset = order_fee_asset(obj, obj.instrument)
        return f"{format_units(obj.fees_paid, asset.decimals)} {asset.code}"

    def has_cancel_permission(self, request):
        return request.user.has_perm("trading.change_order")

    @admin.action(
        description="Cancel selected orders (as an operator)", permissions=["cancel"]
    )
    def cancel_selected(self, request, queryset):
        meta = RequestMeta.from_request(request)
        _run(
            request,
            queryset.select_related("user").order_by("pk"),
            lambda order: order_cancel_by_operator(
                order=order, operator=request.user, meta=meta
            ),
            "cancel(s) requested",
        )


@admin.register(Trade)
class TradeAdmin(_InstrumentMoney, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "instrument",
        "seq",
        "price",
        "quantity",
        "value",
        "taker_side",
        "auction",
        "maker_order_id",
        "taker_order_id",
        "created_at",
    )
    list_filter = ("instrument", "taker_side", "auction")
    search_fields = ("=maker_order__id", "=taker_order__id")
    list_select_related = ("instrument__base", "instrument__quote")
    date_hierarchy = "created_at"
    raw_id_fields = ("maker_order", "taker_order")

    @admin.display(description="Value")
    def value(self, obj):
        return quote_str(obj.instrument, obj.quote_amount)


@admin.register(Fill)
class FillAdmin(_InstrumentMoney, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "user",
        "instrument",
        "side",
        "liquidity",
        "price",
        "quantity",
        "value",
        "fee_display",
        "order_id",
        "trade_id",
        "created_at",
    )
    list_filter = ("instrument", "side", "liquidity")
    search_fields = ("user__email", "=order__id")
    list_select_related = ("user", "instrument__base", "instrument__quote", "fee_asset")
    date_hierarchy = "created_at"
    raw_id_fields = ("order", "trade")

    @admin.display(description="Value")
    def value(self, obj):
        return quote_str(obj.instrument, obj.quote_amount)

    @admin.display(description="Fee")
    def fee_display(self, obj):
        return f"{format_units(obj.fee, obj.fee_asset.decimals)} {obj.fee_asset.code}"


@admin.register(OrderCommand)
class OrderCommandAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The matcher's queue: a command with no `processed_at` is still waiting."""

    list_display = (
        "id",
        "instrument",
        "order_id",
        "kind",
        "result",
        "created_at",
        "processed_at",
    )
    list_filter = ("kind", "instrument", ("processed_at", admin.EmptyFieldListFilter))
    search_fields = ("=order__id",)
    list_select_related = ("instrument",)
    raw_id_fields = ("order",)


@admin.register(PriceAlert)
class PriceAlertAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Users' price alerts, read-only: the users manage them (API, trade screen);
    the matcher fires them (docs/alerts.md)."""

    list_display = (
        "id",
        "user",
        "instrument",
        "condition",
        "price",
        "repeating",
        "cooldown_seconds",
        "active",
        "cooldown_until",
        "triggered_count",
        "last_triggered_at",
        "created_at",
    )
    list_filter = ("instrument", "condition", "active", "repeating")
    search_fields = ("user__email",)
    list_select_related = ("user", "instrument__base", "instrument__quote")
    raw_id_fields = ("user", "last_trade")

    @admin.display(description="Price")
    def price(self, obj):
        return ticks_to_price(obj.instrument, obj.price_ticks)
