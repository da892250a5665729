"""Adjustments: one operator adds, a different one approves or rejects on the
adjustment's own page with a typed note; no bulk actions."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from accounts.admin import ReadOnlyAdminMixin
from accounts.selectors import staff_acted_on_user_recently
from accounts.services import RequestMeta
from config.errors import ApplicationError
from wallet import services
from wallet.admin_approvals.common import QueueFilter, form_problems, money
from wallet.forms import OperatorNoteForm
from wallet.models import (
    Adjustment,
    AdjustmentStatusChange,
)
from wallet.money import to_units

ADJUSTMENT_PERMISSION = "wallet.approve_adjustment"


class AdjustmentQueueFilter(QueueFilter):
    statuses = Adjustment.Status
    queues = {"pending": ("Waiting for a checker", (Adjustment.Status.PENDING,))}


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
    """Maker-checker: one operator adds, a different one approves or rejects on
    the adjustment's own page with a typed note."""

    form = AdjustmentAddForm
    change_form_template = "admin/wallet/adjustment/change_form.html"
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
    list_filter = (AdjustmentQueueFilter, "asset")
    search_fields = ("user__email", "reason")
    list_select_related = ("user", "asset", "requested_by", "decided_by")
    autocomplete_fields = ("user",)
    ordering = ("created_at", "id")
    actions = None
    inlines = [AdjustmentHistoryInline]
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

    @admin.display(description="Amount")
    def amount_display(self, obj):
        return money(obj)

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

    # --- Deciding one adjustment ------------------------------------------------------

    def get_urls(self):
        def post(view):
            return self.admin_site.admin_view(require_POST(view))

        return [
            path(
                "<int:adjustment_id>/approve/",
                post(self.approve_view),
                name="wallet_adjustment_approve",
            ),
            path(
                "<int:adjustment_id>/reject/",
                post(self.reject_view),
                name="wallet_adjustment_reject",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        adjustment = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if adjustment is not None:
            extra.update(self._decision_context(request, adjustment))
        return super().change_view(request, object_id, form_url, extra)

    def _decision_context(self, request, adjustment: Adjustment) -> dict:
        me = request.user
        can_decide = (
            me.is_staff
            and me.has_perm(ADJUSTMENT_PERMISSION)
            and adjustment.status == Adjustment.Status.PENDING
        )
        blockers = []
        if adjustment.requested_by_id == me.pk:
            blockers.append("You requested this adjustment: a second operator decides.")
        if adjustment.user_id == me.pk:
            blockers.append("This adjustment is on your own wallet.")
        if can_decide and staff_acted_on_user_recently(staff=me, user=adjustment.user):
            blockers.append(
                "You performed a staff action on this user recently: another "
                "operator must approve their money."
            )
        return {
            "can_decide": can_decide,
            "can_approve": can_decide and not blockers,
            "can_reject": can_decide
            and me.pk not in (adjustment.requested_by_id, adjustment.user_id),
            "blockers": blockers,
            "note_form": OperatorNoteForm(),
        }

    def _step(self, request, adjustment_id: int, act, done: str) -> HttpResponse:
        if not (request.user.is_staff and request.user.has_perm(ADJUSTMENT_PERMISSION)):
            raise PermissionDenied
        adjustment = get_object_or_404(Adjustment, pk=adjustment_id)
        back = HttpResponseRedirect(
            reverse("admin:wallet_adjustment_change", args=[adjustment_id])
        )
        form = OperatorNoteForm(request.POST)
        if not form.is_valid():
            messages.error(request, form_problems(form))
            return back
        try:
            act(
                adjustment, form.cleaned_data["note"], RequestMeta.from_request(request)
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, done)
        return back

    def approve_view(self, request, adjustment_id: int) -> HttpResponse:
        return self._step(
            request,
            adjustment_id,
            lambda a, note, meta: services.adjustment_approve(
                adjustment=a, operator=request.user, note=note, meta=meta
            ),
            "Adjustment approved and posted.",
        )

    def reject_view(self, request, adjustment_id: int) -> HttpResponse:
        return self._step(
            request,
            adjustment_id,
            lambda a, note, meta: services.adjustment_reject(
                adjustment=a, operator=request.user, reason=note, meta=meta
            ),
            "Adjustment rejected.",
        )
