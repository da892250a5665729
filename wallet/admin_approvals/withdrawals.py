"""The withdrawal queue and its one-at-a-time review page: each step is a POST
with a typed note calling one service; no bulk actions."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.timesince import timesince
from django.views.decorators.http import require_POST

from accounts.admin import ReadOnlyAdminMixin
from accounts.selectors import staff_acted_on_user_recently
from accounts.services import RequestMeta
from config.errors import ApplicationError
from kyc.selectors import kyc_profile_get
from wallet import selectors, services
from wallet.admin_approvals.common import QueueFilter, form_problems, money
from wallet.forms import OperatorNoteForm, PayoutSentForm
from wallet.models import (
    Withdrawal,
    WithdrawalStatusChange,
)
from wallet.money import format_units

WITHDRAWAL_PERMISSION = "wallet.approve_withdrawal"


class WithdrawalQueueFilter(QueueFilter):
    statuses = Withdrawal.Status
    queues = {
        "pending": ("Waiting for approval", Withdrawal.PENDING_STATUSES),
        "second": (
            "Waiting for a second approval",
            (Withdrawal.Status.FIRST_APPROVED,),
        ),
        "to_send": ("Approved, to be sent", (Withdrawal.Status.APPROVED,)),
        "in_flight": ("Sent, to be confirmed", (Withdrawal.Status.SENT,)),
    }


class WithdrawalHistoryInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = WithdrawalStatusChange
    fields = ("created_at", "old_status", "new_status", "acting_user", "note")
    readonly_fields = fields
    extra = 0


@admin.register(Withdrawal)
class WithdrawalAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The withdrawal queue (pending first, oldest first); each withdrawal opens
    on its review page, where the operator decides it with a typed note."""

    list_display = (
        "id",
        "user",
        "asset",
        "amount_display",
        "destination",
        "status",
        "created_at",
        "waiting",
        "first_approved_by",
        "decided_by",
    )
    list_filter = (WithdrawalQueueFilter, "asset")
    search_fields = ("user__email", "destination", "payout_reference")
    list_select_related = ("user", "asset", "first_approved_by", "decided_by")
    autocomplete_fields = ("user",)
    ordering = ("created_at", "id")
    actions = None
    inlines = [WithdrawalHistoryInline]

    @admin.display(description="Amount")
    def amount_display(self, obj):
        return money(obj)

    @admin.display(description="Waiting")
    def waiting(self, obj):
        if obj.status not in Withdrawal.PENDING_STATUSES:
            return "—"
        return timesince(obj.created_at, timezone.now())

    # --- The review page --------------------------------------------------------------

    def get_urls(self):
        def post(view):
            return self.admin_site.admin_view(require_POST(view))

        steps = [
            ("approve", self.approve_view),
            ("reject", self.reject_view),
            ("sent", self.sent_view),
            ("completed", self.completed_view),
            ("failed", self.failed_view),
        ]
        return [
            path(
                "<int:withdrawal_id>/review/",
                self.admin_site.admin_view(self.review_view),
                name="wallet_withdrawal_review",
            ),
            *(
                path(
                    f"<int:withdrawal_id>/{step}/",
                    post(view),
                    name=f"wallet_withdrawal_{step}",
                )
                for step, view in steps
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return self.review_view(request, int(object_id))

    def review_view(self, request, withdrawal_id: int):
        if request.method == "POST":
            # The page only reads; each decision posts to its own URL.
            raise PermissionDenied
        withdrawal = get_object_or_404(
            Withdrawal.objects.select_related(
                "user",
                "asset",
                "hold",
                "beneficiary",
                "first_approved_by",
                "decided_by",
                "sent_by",
            ),
            pk=withdrawal_id,
        )
        if not self.has_view_permission(request, withdrawal):
            raise PermissionDenied
        return TemplateResponse(
            request,
            "admin/wallet/withdrawal/review.html",
            self._review_context(request, withdrawal),
        )

    def _review_context(self, request, withdrawal: Withdrawal) -> dict:
        me = request.user
        review = selectors.withdrawal_review(withdrawal=withdrawal)
        profile = kyc_profile_get(user=withdrawal.user)
        can_decide = me.is_staff and me.has_perm(WITHDRAWAL_PERMISSION)
        status = Withdrawal.Status(withdrawal.status)
        blockers = []
        if withdrawal.user_id == me.pk:
            blockers.append("This is your own withdrawal.")
        if withdrawal.first_approved_by_id == me.pk:
            blockers.append("You gave the first approval: a second operator decides.")
        if staff_acted_on_user_recently(staff=me, user=withdrawal.user):
            blockers.append(
                "You performed a staff action on this user recently: another "
                "operator must approve their money."
            )
        if review.cooloff_until is not None:
            blockers.append(
                "The user's withdrawals are on cool-off until "
                f"{review.cooloff_until:%Y-%m-%d %H:%M} UTC."
            )
        if status == Withdrawal.Status.REQUESTED and review.needs_two_approvals:
            approve_label = "Give first approval (a second operator must confirm)"
        elif status == Withdrawal.Status.FIRST_APPROVED:
            approve_label = "Give second approval"
        else:
            approve_label = "Approve"
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Withdrawal #{withdrawal.pk}: {money(withdrawal)} "
            f"{withdrawal.asset.code}",
            "subtitle": withdrawal.user.email,
            "withdrawal": withdrawal,
            "review": review,
            "amount": money(withdrawal),
            "threshold": review.fmt(review.threshold),
            "largest_completed": review.fmt(review.largest_completed),
            "kyc_status": profile.get_status_display() if profile else "Not submitted",
            "kyc_approved": bool(profile and profile.status == "approved"),
            "balances": [
                (b.asset.code, b.fmt(b.available), b.fmt(b.held))
                for b in review.balances
            ],
            "holds": [
                (h, format_units(h.remaining_amount, h.asset.decimals))
                for h in review.holds
            ],
            "deposits": [(d, money(d)) for d in review.deposits],
            "other_withdrawals": [(w, money(w)) for w in review.other_withdrawals],
            "blockers": blockers,
            "can_decide": can_decide,
            "can_approve": can_decide
            and status in Withdrawal.PENDING_STATUSES
            and not blockers,
            "can_reject": can_decide
            and Withdrawal.Status.REJECTED in Withdrawal.TRANSITIONS[status]
            and withdrawal.user_id != me.pk,
            "can_send": can_decide
            and status == Withdrawal.Status.APPROVED
            and not blockers,
            "can_settle": can_decide
            and status == Withdrawal.Status.SENT
            and withdrawal.user_id != me.pk,
            "approve_label": approve_label,
            "note_form": OperatorNoteForm(),
            "sent_form": PayoutSentForm(),
        }

    def _back(self, withdrawal_id: int) -> HttpResponseRedirect:
        return HttpResponseRedirect(
            reverse("admin:wallet_withdrawal_review", args=[withdrawal_id])
        )

    def _step(self, request, withdrawal_id: int, form_class, act, done: str):
        if not (request.user.is_staff and request.user.has_perm(WITHDRAWAL_PERMISSION)):
            raise PermissionDenied
        withdrawal = get_object_or_404(Withdrawal, pk=withdrawal_id)
        form = form_class(request.POST)
        if not form.is_valid():
            messages.error(request, form_problems(form))
            return self._back(withdrawal_id)
        try:
            result = act(
                withdrawal, form.cleaned_data, RequestMeta.from_request(request)
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, done.format(status=result.get_status_display()))
        return self._back(withdrawal_id)

    def approve_view(self, request, withdrawal_id: int) -> HttpResponse:
        return self._step(
            request,
            withdrawal_id,
            OperatorNoteForm,
            lambda w, data, meta: services.withdrawal_approve(
                withdrawal=w, operator=request.user, note=data["note"], meta=meta
            ),
            "Approval recorded: {status}.",
        )

    def reject_view(self, request, withdrawal_id: int) -> HttpResponse:
        return self._step(
            request,
            withdrawal_id,
            OperatorNoteForm,
            lambda w, data, meta: services.withdrawal_reject(
                withdrawal=w, operator=request.user, reason=data["note"], meta=meta
            ),
            "Withdrawal rejected; the funds are back in the user's balance.",
        )

    def sent_view(self, request, withdrawal_id: int) -> HttpResponse:
        return self._step(
            request,
            withdrawal_id,
            PayoutSentForm,
            lambda w, data, meta: services.withdrawal_mark_sent(
                withdrawal=w,
                operator=request.user,
                payout_reference=data["payout_reference"],
                note=data["note"],
                meta=meta,
            ),
            "Marked sent; the funds left the user's balance.",
        )

    def completed_view(self, request, withdrawal_id: int) -> HttpResponse:
        return self._step(
            request,
            withdrawal_id,
            OperatorNoteForm,
            lambda w, data, meta: services.withdrawal_complete(
                withdrawal=w, operator=request.user, note=data["note"], meta=meta
            ),
            "Payout confirmed: {status}.",
        )

    def failed_view(self, request, withdrawal_id: int) -> HttpResponse:
        return self._step(
            request,
            withdrawal_id,
            OperatorNoteForm,
            lambda w, data, meta: services.withdrawal_fail(
                withdrawal=w, operator=request.user, note=data["note"], meta=meta
            ),
            "Payout failed: the funds are back in the user's balance.",
        )
