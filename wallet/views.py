"""Browser pages of the wallet (thin: forms in, one service call, redirect)."""

from __future__ import annotations

import re
import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts.http import AuthenticatedHttpRequest
from accounts.models import IdempotencyKey
from accounts.selectors import user_has_two_factor
from accounts.services import RequestMeta
from config.errors import ApplicationError, NotFound
from config.page_messages import form_add_error, group_digits, page_message
from kyc.selectors import kyc_is_verified
from wallet import selectors, services
from wallet.destinations import destination_display
from wallet.errors import WalletErrorCode as Code
from wallet.exports import statement_csv_response
from wallet.forms import (
    AlertForm,
    BeneficiaryConfirmForm,
    BeneficiaryForm,
    DepositForm,
    StatementFilterForm,
    TransferForm,
    WithdrawalForm,
)
from wallet.models import Beneficiary, Deposit, Withdrawal
from wallet.money import format_units, to_units

STATEMENT_PAGE_SIZE = 25
_FORM_KEY_RE = re.compile(r"^[A-Za-z0-9-]{8,64}$")


def _first_submit(request: AuthenticatedHttpRequest, scope: str) -> bool:
    """Double-submit guard for money forms: each rendered form carries a one-time
    `form_key`; it is claimed in the caller's transaction (so a refused action frees
    it again). False when the same form was already submitted."""
    key = request.POST.get("form_key", "")
    if not _FORM_KEY_RE.match(key):
        return True
    try:
        with transaction.atomic():
            IdempotencyKey.objects.create(
                user=request.user,
                scope=f"wallet.page.{scope}",
                key=key,
                request_fingerprint="",
                response_status=302,
                response_body={},
            )
    except IntegrityError:
        return False
    return True


def _already_submitted(request: AuthenticatedHttpRequest) -> HttpResponse:
    messages.info(request, "That form was already submitted; nothing was repeated.")
    return redirect("wallet:home")


def _add_error(form, exc: ApplicationError) -> None:
    """In plain words on the form (config/page_messages.py)."""
    form_add_error(form, exc)


# Four forms on one page: each has its own ids, so every label points at its field
# ("id_deposit_amount", "id_withdrawal_amount", ...); the field names stay.
DEPOSIT_IDS = "id_deposit_%s"
WITHDRAWAL_IDS = "id_withdrawal_%s"
TRANSFER_IDS = "id_transfer_%s"
ALERT_IDS = "id_alert_%s"


def _home(
    request: AuthenticatedHttpRequest, *, status: int = 200, **forms
) -> HttpResponse:
    user = request.user
    balances = selectors.balance_list(user=user)
    rows = [
        {
            "asset": b.asset,
            "available": b.fmt(b.available),
            "held": b.fmt(b.held),
            "total": b.fmt(b.total),
            "minimum": b.fmt(b.minimum),
            "below_minimum": b.below_minimum,
        }
        for b in balances
    ]
    verified = kyc_is_verified(user=user)
    context = {
        "form_key": uuid.uuid4().hex,
        "balances": rows,
        "kyc_verified": verified,
        "can_deposit": verified or not settings.WALLET_DEPOSITS_NEED_KYC,
        "deposit_form": forms.get("deposit_form") or DepositForm(auto_id=DEPOSIT_IDS),
        "withdrawal_form": forms.get("withdrawal_form")
        or WithdrawalForm(user=user, auto_id=WITHDRAWAL_IDS),
        "transfer_form": forms.get("transfer_form")
        or TransferForm(auto_id=TRANSFER_IDS),
        "alert_form": forms.get("alert_form") or AlertForm(auto_id=ALERT_IDS),
        "deposits": _fmt(selectors.deposit_list(user=user).order_by("-id")[:10]),
        "withdrawals": _fmt(selectors.withdrawal_list(user=user).order_by("-id")[:10]),
        "transfers": [
            {
                "obj": t,
                "amount": format_units(t.amount, t.asset.decimals),
                "sent": t.sender_id == user.pk,
                "counterparty": (
                    t.recipient.email if t.sender_id == user.pk else t.sender.email
                ),
            }
            for t in selectors.transfer_list(user=user).order_by("-id")[:10]
        ],
    }
    return render(request, "wallet/home.html", context, status=status)


def _fmt(objects) -> list[dict]:
    return [
        {"obj": o, "amount": format_units(o.amount, o.asset.decimals)} for o in objects
    ]


def _parse(form, *, field: str = "amount"):
    data = form.cleaned_data
    asset = services.asset_get(code=data["asset"])
    return asset, to_units(data[field], decimals=asset.decimals, field=field)


@login_required
def wallet_home(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _home(request)


@login_required
@require_POST
def deposit_submit(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = DepositForm(request.POST, auto_id=DEPOSIT_IDS)
    if form.is_valid():
        try:
            with transaction.atomic():
                if not _first_submit(request, "deposit"):
                    return _already_submitted(request)
                asset, units = _parse(form)
                deposit = services.deposit_create(
                    user=request.user,
                    asset=asset,
                    amount=units,
                    provider=form.cleaned_data.get("provider"),
                    meta=RequestMeta.from_request(request),
                )
        except ApplicationError as exc:
            _add_error(form, exc)
        else:
            return redirect(deposit.checkout_url)
    return _home(request, deposit_form=form, status=400)


@login_required
@require_POST
def withdrawal_submit(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = WithdrawalForm(request.POST, user=request.user, auto_id=WITHDRAWAL_IDS)
    if form.is_valid():
        try:
            with transaction.atomic():
                if not _first_submit(request, "withdrawal"):
                    return _already_submitted(request)
                asset, units = _parse(form)
                beneficiary = selectors.beneficiary_get(
                    user=request.user, pk=form.cleaned_data["beneficiary"]
                )
                if beneficiary is None:  # removed since the form was shown
                    raise NotFound(Code.NOT_FOUND, "beneficiary: no such beneficiary.")
                services.withdrawal_request(
                    user=request.user,
                    asset=asset,
                    amount=units,
                    beneficiary=beneficiary,
                    otp=form.cleaned_data.get("otp", ""),
                    meta=RequestMeta.from_request(request),
                )
        except ApplicationError as exc:
            _add_error(form, exc)
        else:
            messages.success(
                request, "Withdrawal requested; the funds are held until approval."
            )
            return redirect("wallet:home")
    return _home(request, withdrawal_form=form, status=400)


@login_required
@require_POST
def withdrawal_cancel_submit(
    request: AuthenticatedHttpRequest, pk: int
) -> HttpResponse:
    withdrawal = Withdrawal.objects.filter(pk=pk, user=request.user).first()
    if withdrawal is None:
        raise Http404
    try:
        services.withdrawal_cancel(
            withdrawal=withdrawal,
            user=request.user,
            meta=RequestMeta.from_request(request),
        )
    except ApplicationError as exc:
        messages.error(request, page_message(exc))
    else:
        messages.success(request, "Withdrawal cancelled; the funds are available.")
    return redirect("wallet:home")


@login_required
@require_POST
def transfer_submit(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = TransferForm(request.POST, auto_id=TRANSFER_IDS)
    if form.is_valid():
        try:
            with transaction.atomic():
                if not _first_submit(request, "transfer"):
                    return _already_submitted(request)
                asset, units = _parse(form)
                transfer = services.transfer_create(
                    sender=request.user,
                    to_email=form.cleaned_data["to"],
                    asset=asset,
                    amount=units,
                    note=form.cleaned_data["note"],
                    meta=RequestMeta.from_request(request),
                )
        except ApplicationError as exc:
            _add_error(form, exc)
        else:
            messages.success(
                request,
                f"Sent {group_digits(format_units(transfer.amount, asset.decimals))} "
                f"{asset.code} "
                f"to {transfer.recipient.email}.",
            )
            return redirect("wallet:home")
    return _home(request, transfer_form=form, status=400)


@login_required
@require_POST
def alert_submit(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = AlertForm(request.POST, auto_id=ALERT_IDS)
    if form.is_valid():
        meta = RequestMeta.from_request(request)
        try:
            asset = services.asset_get(code=form.cleaned_data["asset"])
            if form.cleaned_data["minimum"].strip():
                minimum = to_units(
                    form.cleaned_data["minimum"],
                    decimals=asset.decimals,
                    field="minimum",
                )
                services.balance_alert_set(
                    user=request.user, asset=asset, minimum=minimum, meta=meta
                )
                messages.success(request, f"Alert set for {asset.code}.")
            else:
                services.balance_alert_delete(user=request.user, asset=asset, meta=meta)
                messages.success(request, f"Alert removed for {asset.code}.")
        except ApplicationError as exc:
            _add_error(form, exc)
        else:
            return redirect("wallet:home")
    return _home(request, alert_form=form, status=400)


def _statement_entries(request: AuthenticatedHttpRequest, form: StatementFilterForm):
    data = form.cleaned_data if form.is_valid() else {}
    asset = None
    if data.get("asset"):
        asset = services.asset_get(code=data["asset"], active=False)
    return selectors.statement_entries(
        user=request.user,
        asset=asset,
        kind=data.get("kind") or None,
        date_from=data.get("date_from"),
        date_to=data.get("date_to"),
    )


@login_required
def statement(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Keyset paging: `?before=<entry id>` shows the next older page."""
    form = StatementFilterForm(request.GET or None)
    entries = _statement_entries(request, form)
    before = request.GET.get("before", "")
    if before.isdigit():
        entries = entries.filter(pk__lt=int(before))
    page = list(entries[: STATEMENT_PAGE_SIZE + 1])
    has_more = len(page) > STATEMENT_PAGE_SIZE
    page = page[:STATEMENT_PAGE_SIZE]
    rows = [
        {
            "entry": e,
            "amount": format_units(e.amount, e.account.asset.decimals),
            "balance_after": format_units(e.balance_after, e.account.asset.decimals),
            "description": selectors.entry_description(e, user=request.user),
        }
        for e in page
    ]
    query = request.GET.copy()
    query.pop("before", None)
    filters = query.urlencode()
    next_url = ""
    if has_more:
        query["before"] = str(page[-1].pk)
        next_url = f"{reverse('wallet:statement')}?{query.urlencode()}"
    context = {
        "form": form,
        "rows": rows,
        "next_url": next_url,
        "first_url": f"{reverse('wallet:statement')}?{filters}" if before else "",
        "csv_url": f"{reverse('wallet:statement-csv')}?{filters}",
    }
    return render(request, "wallet/statement.html", context)


@login_required
def statement_csv(request: AuthenticatedHttpRequest) -> StreamingHttpResponse:
    form = StatementFilterForm(request.GET or None)
    return statement_csv_response(_statement_entries(request, form), user=request.user)


@login_required
@require_http_methods(["GET", "POST"])
def sandbox_checkout(request: AuthenticatedHttpRequest, reference: str) -> HttpResponse:
    """The sandbox provider's hosted checkout page (owner only)."""
    deposit = (
        Deposit.objects.select_related("asset")
        .filter(provider="sandbox", provider_reference=reference, user=request.user)
        .first()
    )
    if deposit is None:
        raise Http404
    if request.method == "POST":
        outcome = {"pay": "succeeded", "fail": "failed"}.get(
            request.POST.get("action", "")
        )
        if outcome and deposit.status == Deposit.Status.PENDING:
            services.sandbox_checkout_complete(
                deposit=deposit, user=request.user, outcome=outcome
            )
            deposit.refresh_from_db()
            if deposit.status == Deposit.Status.CREDITED:
                messages.success(request, "Payment received: your wallet is credited.")
            elif deposit.status == Deposit.Status.FAILED:
                messages.error(request, "The payment failed; nothing was charged.")
            else:
                messages.info(
                    request, "Payment sent; the wallet is credited when it confirms."
                )
            return redirect("wallet:home")
    context = {
        "deposit": deposit,
        "amount": format_units(deposit.amount, deposit.asset.decimals),
    }
    return render(request, "wallet/sandbox_checkout.html", context)


# --- Beneficiaries (the withdrawal address book) -------------------------------------


def _beneficiaries_page(
    request: AuthenticatedHttpRequest,
    *,
    status: int = 200,
    add_form=None,
    confirm_errors=None,
) -> HttpResponse:
    user = request.user
    rows = [
        {
            "obj": b,
            "destination": destination_display(rail=b.rail, destination=b.destination),
            "usable": b.is_usable(),
            "confirm_form": BeneficiaryConfirmForm(user=user),
            "errors": (confirm_errors or {}).get(b.pk, []),
        }
        for b in selectors.beneficiary_list(user=user)
    ]
    context = {
        "rows": rows,
        "add_form": add_form or BeneficiaryForm(),
        "two_factor": user_has_two_factor(user=user),
        "cooloff_hours": settings.WALLET_BENEFICIARY_COOLOFF_HOURS,
    }
    return render(request, "wallet/beneficiaries.html", context, status=status)


def _own_beneficiary(request: AuthenticatedHttpRequest, pk: int) -> Beneficiary:
    beneficiary = selectors.beneficiary_get(user=request.user, pk=pk)
    if beneficiary is None:
        raise Http404
    return beneficiary


def _site_url(request: AuthenticatedHttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


@login_required
def beneficiaries(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _beneficiaries_page(request)


@login_required
@require_POST
def beneficiary_add_submit(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = BeneficiaryForm(request.POST)
    if form.is_valid():
        try:
            beneficiary = services.beneficiary_add(
                user=request.user,
                rail=form.cleaned_data["rail"],
                destination=form.cleaned_data["destination"],
                label=form.cleaned_data["label"],
                site_url=_site_url(request),
                meta=RequestMeta.from_request(request),
            )
        except ApplicationError as exc:
            _add_error(form, exc)
        else:
            if user_has_two_factor(user=request.user):
                messages.success(
                    request,
                    f"Added {beneficiary.label}: confirm it with your two-factor code.",
                )
            else:
                messages.success(
                    request,
                    f"Added {beneficiary.label}: open the link we emailed to "
                    f"{request.user.email} to confirm it.",
                )
            return redirect("wallet:beneficiaries")
    return _beneficiaries_page(request, add_form=form, status=400)


@login_required
@require_POST
def beneficiary_confirm_submit(
    request: AuthenticatedHttpRequest, pk: int
) -> HttpResponse:
    beneficiary = _own_beneficiary(request, pk)
    try:
        beneficiary = services.beneficiary_confirm(
            beneficiary=beneficiary,
            user=request.user,
            otp=request.POST.get("otp", ""),
            meta=RequestMeta.from_request(request),
        )
    except ApplicationError as exc:
        return _beneficiaries_page(
            request, confirm_errors={beneficiary.pk: [page_message(exc)]}, status=400
        )
    messages.success(request, _confirmed_message(beneficiary))
    return redirect("wallet:beneficiaries")


def _confirmed_message(beneficiary: Beneficiary) -> str:
    assert beneficiary.usable_from is not None  # set on confirmation (a CHECK)
    when = beneficiary.usable_from.strftime("%Y-%m-%d %H:%M UTC")
    return f"{beneficiary.label} is confirmed; you can withdraw to it from {when}."


@login_required
@require_POST
def beneficiary_resend_submit(
    request: AuthenticatedHttpRequest, pk: int
) -> HttpResponse:
    try:
        services.beneficiary_link_resend(
            beneficiary=_own_beneficiary(request, pk),
            user=request.user,
            site_url=_site_url(request),
        )
    except ApplicationError as exc:
        messages.error(request, page_message(exc))
    else:
        messages.success(request, f"A new link is on its way to {request.user.email}.")
    return redirect("wallet:beneficiaries")


@login_required
@require_POST
def beneficiary_remove_submit(
    request: AuthenticatedHttpRequest, pk: int
) -> HttpResponse:
    try:
        beneficiary = services.beneficiary_remove(
            beneficiary=_own_beneficiary(request, pk),
            user=request.user,
            meta=RequestMeta.from_request(request),
        )
    except ApplicationError as exc:
        messages.error(request, page_message(exc))
    else:
        messages.success(request, f"Removed {beneficiary.label}.")
    return redirect("wallet:beneficiaries")


@login_required
@require_http_methods(["GET", "POST"])
def beneficiary_confirm_link(
    request: AuthenticatedHttpRequest, token: str
) -> HttpResponse:
    """The emailed link. GET only shows what is being confirmed (mail scanners
    open links); the button POSTs. The link works for its owner, logged in."""
    error = ""
    beneficiary = None
    try:
        pk = services.beneficiary_link_read(token=token)
    except ApplicationError as exc:
        error = page_message(exc)
    else:
        beneficiary = _own_beneficiary(request, pk)
        if request.method == "POST":
            try:
                beneficiary = services.beneficiary_confirm(
                    beneficiary=beneficiary,
                    user=request.user,
                    token=token,
                    meta=RequestMeta.from_request(request),
                )
            except ApplicationError as exc:
                error = page_message(exc)
            else:
                messages.success(request, _confirmed_message(beneficiary))
                return redirect("wallet:beneficiaries")
        elif beneficiary.status != Beneficiary.Status.PENDING:
            error = "This link was already used: the beneficiary is " + (
                beneficiary.get_status_display().lower() + "."
            )
    context = {
        "beneficiary": beneficiary,
        "destination": beneficiary
        and destination_display(
            rail=beneficiary.rail, destination=beneficiary.destination
        ),
        "error": error,
    }
    return render(
        request,
        "wallet/beneficiary_confirm.html",
        context,
        status=400 if error else 200,
    )
