"""The back office's own admin: ledger verifications (read-only, plus "verify now")
and the one-page view of a user. Both only read; the one write, "verify now", goes
through `backoffice.services`."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpRequest,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from accounts.http import AuthenticatedHttpRequest
from accounts.models import AuditEvent, User
from accounts.services import RequestMeta
from backoffice import services
from backoffice.models import LedgerVerification, UserOverview
from backoffice.selectors import user_page_get
from config.errors import ApplicationError
from trading.models import Order

USER_PAGE_PERMISSION = "accounts.view_user"

_RESULT_COLOURS = {"ok": "#0f9d58", "failed": "#d93025", "error": "#d93025"}


@admin.register(LedgerVerification)
class LedgerVerificationAdmin(admin.ModelAdmin):
    """Every recorded run of the ledger checks, newest first. Read-only; staff
    with `run_ledgerverification` may queue a run now."""

    list_display = (
        "finished_at",
        "result_badge",
        "trigger",
        "requested_by",
        "check_count",
        "problem_count",
        "duration_ms",
    )
    list_filter = ("ok", "trigger")
    list_select_related = ("requested_by",)
    date_hierarchy = "finished_at"
    change_list_template = "admin/backoffice/ledgerverification/change_list.html"
    fields = (
        "run_key",
        "trigger",
        "requested_by",
        "started_at",
        "finished_at",
        "duration_ms",
        "result_badge",
        "check_count",
        "problem_count",
        "problem_list",
        "error",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_run_permission(self, request) -> bool:
        return request.user.has_perm(services.RUN_PERMISSION)

    @admin.display(description="Result", ordering="ok")
    def result_badge(self, obj):
        return format_html(
            '<strong style="color:{}">{}</strong>',
            _RESULT_COLOURS[obj.result],
            obj.result.upper(),
        )

    @admin.display(description="Problems found")
    def problem_list(self, obj):
        if not obj.problems:
            return "—"
        items = format_html_join(
            "",
            "<li><strong>{}</strong>: {}</li>",
            ((p["check"], p["problem"]) for p in obj.problems),
        )
        more = obj.problem_count - len(obj.problems)
        tail = format_html("<p>… and {} more.</p>", more) if more > 0 else ""
        return format_html("<ul>{}</ul>{}", items, tail)

    def get_urls(self):
        return [
            path(
                "verify/",
                self.admin_site.admin_view(self.verify_now_view),
                name="backoffice_ledgerverification_verify",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_run": self.has_run_permission(request),
        }
        return super().changelist_view(request, extra_context)

    def verify_now_view(self, request: AuthenticatedHttpRequest):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_run_permission(request):
            raise PermissionDenied
        try:
            run_key = services.ledger_verification_request(
                staff=request.user, meta=RequestMeta.from_request(request)
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect("admin:backoffice_ledgerverification_changelist")
        row = LedgerVerification.objects.filter(run_key=run_key).first()
        if row is None:
            messages.info(request, "Verification queued; its result appears here.")
        elif row.ok:
            messages.success(request, f"Ledger verified: {row.check_count} checks ok.")
        else:
            messages.error(
                request,
                f"Ledger verification failed: {row.problem_count} problem(s).",
            )
        return redirect("admin:backoffice_ledgerverification_changelist")


class UserPickForm(forms.Form):
    """Pick a user by email or name (the admin's autocomplete, never a raw id)."""

    user = forms.ModelChoiceField(
        queryset=User.objects.all(),
        label="User",
        widget=AutocompleteSelect(AuditEvent._meta.get_field("user"), admin.site),
        help_text="Type part of an email or name.",
    )


@admin.register(UserOverview)
class UserOverviewAdmin(admin.ModelAdmin):
    """The one-page view of a user for support and operators (needs
    `accounts.view_user`). Nothing here writes."""

    list_display = ("email", "full_name", "status", "is_staff", "date_joined")
    list_filter = ("status", "is_staff")
    search_fields = ("email", "full_name", "phone")
    ordering = ("-date_joined",)
    show_full_result_count = False
    change_list_template = "admin/backoffice/useroverview/change_list.html"
    actions = None

    def has_module_permission(self, request):
        return request.user.has_perm(USER_PAGE_PERMISSION)

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm(USER_PAGE_PERMISSION)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path(
                "open/",
                self.admin_site.admin_view(self.open_view),
                name="backoffice_useroverview_open",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "pick_form": UserPickForm()}
        return super().changelist_view(request, extra_context)

    def open_view(self, request: HttpRequest):
        """The picker's target: the chosen user's page."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = UserPickForm(request.GET)
        if not form.is_valid():
            messages.error(request, "user: pick a user from the list.")
            return redirect("admin:backoffice_useroverview_changelist")
        return HttpResponseRedirect(
            reverse(
                "admin:backoffice_useroverview_change",
                args=[form.cleaned_data["user"].pk],
            )
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not self.has_view_permission(request) or request.method == "POST":
            raise PermissionDenied  # the page only reads: nothing to post
        user = (
            User.objects.filter(pk=object_id).first() if object_id.isdigit() else None
        )
        if user is None:
            raise Http404("No such user.")
        page = user_page_get(user=user)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{user.email}",
            "subtitle": user.full_name,
            "page": page,
            "links": _user_links(request, user),
            "pick_form": UserPickForm(),
        }
        return TemplateResponse(
            request, "admin/backoffice/useroverview/user_page.html", context
        )


def _changelist(request: HttpRequest, perm: str, name: str, **query) -> str | None:
    """A filtered changelist's URL, if the viewer may open it."""
    if not request.user.has_perm(perm):
        return None
    return f"{reverse(f'admin:{name}_changelist')}?{urlencode(query)}"


def _user_links(request: HttpRequest, user: User) -> dict[str, str | None]:
    """Each section's "all of them" link: the full filtered changelist."""
    uid = user.pk
    open_statuses = ",".join(Order.OPEN_STATUSES)
    return {
        "user": _changelist(
            request, "accounts.view_user", "accounts_user", q=user.email
        ),
        "kyc_cases": _changelist(
            request, "kyc.view_kyccase", "kyc_kyccase", queue="all", q=user.email
        ),
        "kyc_events": _changelist(
            request, "kyc.view_kycstatusevent", "kyc_kycstatusevent", q=user.email
        ),
        "accounts": _changelist(
            request, "wallet.view_account", "wallet_account", owner__id__exact=uid
        ),
        "holds": _changelist(
            request,
            "wallet.view_hold",
            "wallet_hold",
            user__id__exact=uid,
            status__exact="pending",
        ),
        "orders": _changelist(
            request,
            "trading.view_order",
            "trading_order",
            user__id__exact=uid,
            status__in=open_statuses,
        ),
        "all_orders": _changelist(
            request, "trading.view_order", "trading_order", user__id__exact=uid
        ),
        "fills": _changelist(
            request, "trading.view_fill", "trading_fill", user__id__exact=uid
        ),
        "deposits": _changelist(
            request, "wallet.view_deposit", "wallet_deposit", user__id__exact=uid
        ),
        "withdrawals": _changelist(
            request, "wallet.view_withdrawal", "wallet_withdrawal", user__id__exact=uid
        ),
        "transfers_sent": _changelist(
            request, "wallet.view_transfer", "wallet_transfer", sender__id__exact=uid
        ),
        "transfers_received": _changelist(
            request,
            "wallet.view_transfer",
            "wallet_transfer",
            recipient__id__exact=uid,
        ),
        "security_events": _changelist(
            request,
            "accounts.view_auditevent",
            "accounts_auditevent",
            user__id__exact=uid,
            code__gte=100,
            code__lt=200,
        ),
        "audit": _changelist(
            request,
            "accounts.view_auditevent",
            "accounts_auditevent",
            user__id__exact=uid,
        ),
    }
