"""The payment rails in the back office: what each provider told us (read
only), the reversals of deposits, and the reconciliation's differences, each
resolved on its own page with a typed note and, when money had to move, the
adjustment (two-person) that moved it."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from accounts.admin import ReadOnlyAdminMixin
from accounts.services import RequestMeta
from config.errors import ApplicationError
from wallet import services
from wallet.admin_approvals.common import QueueFilter, form_problems
from wallet.forms import ReconciliationResolveForm as ResolveForm
from wallet.models import Adjustment, ProviderEvent, ReconciliationItem
from wallet.services.reconciliation import RESOLVE_PERMISSION


@admin.register(ProviderEvent)
class ProviderEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "received_at",
        "provider",
        "kind",
        "event_id",
        "reference",
        "outcome",
        "deposit",
        "note",
    )
    list_filter = ("provider", "kind", "outcome")
    search_fields = ("event_id", "reference")
    list_select_related = ("deposit",)


class ReconciliationQueueFilter(QueueFilter):
    statuses = ReconciliationItem.Status
    queues = {"pending": ("Open", (ReconciliationItem.Status.OPEN,))}


@admin.register(ReconciliationItem)
class ReconciliationItemAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    change_form_template = "admin/wallet/reconciliationitem/change_form.html"
    list_display = (
        "created_at",
        "provider",
        "day",
        "kind",
        "key",
        "deposit",
        "provider_amount",
        "ledger_amount",
        "currency",
        "status",
    )
    list_filter = (ReconciliationQueueFilter, "provider", "kind")
    search_fields = ("key", "payment_id")
    list_select_related = ("deposit",)
    ordering = ("-created_at",)

    def get_urls(self):
        return [
            path(
                "<int:item_id>/resolve/",
                self.admin_site.admin_view(require_POST(self.resolve_view)),
                name="wallet_reconciliationitem_resolve",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        item = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        extra["can_resolve"] = (
            item is not None
            and item.status == ReconciliationItem.Status.OPEN
            and request.user.has_perm(RESOLVE_PERMISSION)
        )
        extra["resolve_form"] = ResolveForm()
        return super().change_view(request, object_id, form_url, extra)

    def resolve_view(self, request, item_id: int) -> HttpResponse:
        if not (request.user.is_staff and request.user.has_perm(RESOLVE_PERMISSION)):
            raise PermissionDenied
        item = get_object_or_404(ReconciliationItem, pk=item_id)
        back = HttpResponseRedirect(
            reverse("admin:wallet_reconciliationitem_change", args=[item_id])
        )
        form = ResolveForm(request.POST)
        if not form.is_valid():
            messages.error(request, form_problems(form))
            return back
        adjustment = None
        if form.cleaned_data["adjustment"]:
            adjustment = Adjustment.objects.filter(
                pk=form.cleaned_data["adjustment"]
            ).first()
            if adjustment is None:
                messages.error(request, "adjustment: no such adjustment.")
                return back
        try:
            services.reconciliation_resolve(
                item=item,
                operator=request.user,
                note=form.cleaned_data["note"],
                adjustment=adjustment,
                meta=RequestMeta.from_request(request),
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Difference resolved.")
        return back
