"""Thin wallet API views: parse, convert money at the edge, call one service."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.pagination import BasePagination
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.idempotency import run_idempotent
from accounts.services import RequestMeta
from config.errors import NotFound
from config.openapi import IDEMPOTENCY_KEY_HEADER, error_responses
from config.pagination import CursorPagination, NewestFirstCursorPagination
from wallet import selectors, services
from wallet.api import serializers as s
from wallet.errors import WalletErrorCode as Code
from wallet.exports import statement_csv_response
from wallet.models import Asset, Beneficiary, Withdrawal
from wallet.money import to_units

TAGS = ["wallet"]


def _meta(request) -> RequestMeta:
    return RequestMeta.from_request(request._request)


def _asset_and_units(data: dict, *, field: str = "amount") -> tuple[Asset, int]:
    asset = services.asset_get(code=data["asset"])
    units = to_units(data[field], decimals=asset.decimals, field=field)
    return asset, units


def _site_url(request) -> str:
    return request.build_absolute_uri("/").rstrip("/")


def _beneficiary(request, pk: int, *, field: str | None = None) -> Beneficiary:
    """One of the caller's beneficiaries; another user's id is a 404."""
    beneficiary = selectors.beneficiary_get(user=request.user, pk=pk)
    if beneficiary is None:
        details = {field: ["Not found."]} if field else {}
        prefix = f"{field}: " if field else ""
        raise NotFound(Code.NOT_FOUND, f"{prefix}no such beneficiary.", details=details)
    return beneficiary


class StatementPagination(CursorPagination):
    ordering = ("-id",)
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200


# A list view that `_paginate` pages by its `pagination_class`. (No docstring: the
# schema would take it for its subclasses' operations' description.)
class _PaginatedView(APIView):
    pagination_class: type[BasePagination]


def _paginate(view: _PaginatedView, request, queryset, serializer_class) -> Response:
    """One page of `queryset` by the view's `pagination_class` (which the schema
    documents too: the paginated envelope, `cursor` and `limit`)."""
    paginator = view.pagination_class()
    page: list | None = paginator.paginate_queryset(queryset, request, view=view)
    data = serializer_class(
        page, many=True, context={"request": request, "user": request.user}
    ).data
    return paginator.get_paginated_response(data)


class AssetListView(APIView):
    @extend_schema(
        tags=TAGS,
        responses={200: s.AssetOutputSerializer(many=True), **error_responses(401)},
        summary="Assets the platform knows",
    )
    def get(self, request):
        assets = Asset.objects.order_by("code")
        return Response(s.AssetOutputSerializer(assets, many=True).data)


class BalanceListView(APIView):
    @extend_schema(
        tags=TAGS,
        responses={200: s.BalanceOutputSerializer(many=True), **error_responses(401)},
        summary="Available, held and total per asset",
        description=(
            "Decimal strings at each asset's precision. `below_minimum` is true when "
            "the available balance is below the alert `minimum` the user set."
        ),
    )
    def get(self, request):
        balances = selectors.balance_list(user=request.user)
        return Response(s.BalanceOutputSerializer(balances, many=True).data)


def _statement_queryset(request):
    query = s.StatementQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    params = query.validated_data
    asset = None
    if params.get("asset"):
        asset = services.asset_get(code=params["asset"], active=False)
    return selectors.statement_entries(
        user=request.user,
        asset=asset,
        kind=params.get("kind"),
        date_from=params.get("date_from"),
        date_to=params.get("date_to"),
    )


class StatementView(_PaginatedView):
    pagination_class = StatementPagination

    @extend_schema(
        tags=TAGS,
        parameters=[s.StatementQuerySerializer],
        responses={
            200: s.StatementEntryOutputSerializer(many=True),
            **error_responses(400, 401),
        },
        summary="The user's ledger entries with running balance",
        description=(
            "Newest first, cursor-paginated (`cursor`, `limit` up to 200). "
            "`balance_after` is the balance of that entry's account (available or "
            "held) right after it. `kind` filters by journal kind; dates are "
            "inclusive UTC days."
        ),
    )
    def get(self, request):
        return _paginate(
            self,
            request,
            _statement_queryset(request),
            s.StatementEntryOutputSerializer,
        )


class StatementCsvView(APIView):
    @extend_schema(
        tags=TAGS,
        parameters=[s.StatementQuerySerializer],
        responses={(200, "text/csv"): str, **error_responses(400, 401)},
        summary="The same statement as a CSV download (all matching rows)",
    )
    def get(self, request):
        return statement_csv_response(_statement_queryset(request), user=request.user)


class DepositListCreateView(_PaginatedView):
    pagination_class = NewestFirstCursorPagination

    @extend_schema(
        tags=TAGS,
        responses={200: s.DepositOutputSerializer(many=True), **error_responses(401)},
        summary="The user's deposits, newest first",
    )
    def get(self, request):
        return _paginate(
            self,
            request,
            selectors.deposit_list(user=request.user),
            s.DepositOutputSerializer,
        )

    @extend_schema(
        tags=TAGS,
        parameters=[IDEMPOTENCY_KEY_HEADER],
        request=s.DepositInputSerializer,
        responses={
            201: s.DepositOutputSerializer,
            **error_responses(400, 401, 409, 422),
        },
        summary="Start a deposit; pay at the returned checkout_url",
        description=(
            "The wallet is credited when the payment provider confirms through its "
            "signed webhook. Errors: `invalid_amount`, `unknown_asset`, "
            "`unknown_provider` (400, on the `provider` field), "
            "`asset_inactive` (422), `provider_unavailable` (503)."
        ),
    )
    def post(self, request):
        data = s.DepositInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)

        def handler():
            asset, units = _asset_and_units(data.validated_data)
            deposit = services.deposit_create(
                user=request.user,
                asset=asset,
                amount=units,
                provider=data.validated_data.get("provider"),
                meta=_meta(request),
            )
            out = s.DepositOutputSerializer(deposit, context={"request": request})
            return Response(out.data, status=status.HTTP_201_CREATED)

        return run_idempotent(request=request, scope="wallet.deposit", handler=handler)


class WithdrawalListCreateView(_PaginatedView):
    api_key_scope = "withdraw"  # apikeys: a key needs this scope
    pagination_class = NewestFirstCursorPagination

    @extend_schema(
        tags=TAGS,
        responses={
            200: s.WithdrawalOutputSerializer(many=True),
            **error_responses(401),
        },
        summary="The user's withdrawals, newest first",
    )
    def get(self, request):
        return _paginate(
            self,
            request,
            selectors.withdrawal_list(user=request.user),
            s.WithdrawalOutputSerializer,
        )

    @extend_schema(
        tags=TAGS,
        parameters=[IDEMPOTENCY_KEY_HEADER],
        request=s.WithdrawalInputSerializer,
        responses={
            201: s.WithdrawalOutputSerializer,
            **error_responses(400, 401, 403, 404, 409, 422, 429),
        },
        summary="Request a withdrawal to a beneficiary (funds are held until an "
        "operator decides)",
        description=(
            "`beneficiary` is the id of one of your confirmed beneficiaries whose "
            "cool-off is over, on a rail the asset pays out on; `otp` (a TOTP or "
            "backup code) is required when two-factor is on. Errors: "
            "`kyc_required`, `withdrawal_cooloff`, `otp_required`, `otp_invalid` "
            "(403), `not_found` (404, field `beneficiary`), "
            "`asset_not_withdrawable`, `beneficiary_not_confirmed`, "
            "`beneficiary_cooling_off`, `beneficiary_rail_mismatch`, "
            "`insufficient_funds`, `daily_limit_exceeded`, `asset_inactive` (422), "
            "`invalid_amount`, `unknown_asset` (400), `otp_locked` (429: too many "
            "wrong codes lately)."
        ),
    )
    def post(self, request):
        data = s.WithdrawalInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)

        def handler():
            asset, units = _asset_and_units(data.validated_data)
            beneficiary = _beneficiary(
                request, data.validated_data["beneficiary"], field="beneficiary"
            )
            withdrawal = services.withdrawal_request(
                user=request.user,
                asset=asset,
                amount=units,
                beneficiary=beneficiary,
                otp=data.validated_data.get("otp", ""),
                meta=_meta(request),
            )
            out = s.WithdrawalOutputSerializer(withdrawal)
            return Response(out.data, status=status.HTTP_201_CREATED)

        return run_idempotent(
            request=request, scope="wallet.withdrawal", handler=handler
        )


class WithdrawalCancelView(APIView):
    api_key_scope = "withdraw"  # apikeys: a key needs this scope

    @extend_schema(
        tags=TAGS,
        request=None,
        responses={
            200: s.WithdrawalOutputSerializer,
            **error_responses(401, 404, 409),
        },
        summary="Cancel a withdrawal that is still `requested`",
        description="409 `withdrawal_not_cancellable` once an operator decided it.",
    )
    def post(self, request, pk: int):
        withdrawal = Withdrawal.objects.filter(pk=pk, user=request.user).first()
        if withdrawal is None:
            raise NotFound(Code.NOT_FOUND, "No such withdrawal.")
        withdrawal = services.withdrawal_cancel(
            withdrawal=withdrawal, user=request.user, meta=_meta(request)
        )
        return Response(s.WithdrawalOutputSerializer(withdrawal).data)


class BeneficiaryListCreateView(_PaginatedView):
    pagination_class = NewestFirstCursorPagination

    @extend_schema(
        tags=TAGS,
        responses={
            200: s.BeneficiaryOutputSerializer(many=True),
            **error_responses(401),
        },
        summary="The user's beneficiaries (address book), newest first",
        description="Removed beneficiaries are left out. `usable` is true once "
        "confirmed and past `usable_from`.",
    )
    def get(self, request):
        return _paginate(
            self,
            request,
            selectors.beneficiary_list(user=request.user),
            s.BeneficiaryOutputSerializer,
        )

    @extend_schema(
        tags=TAGS,
        parameters=[IDEMPOTENCY_KEY_HEADER],
        request=s.BeneficiaryInputSerializer,
        responses={
            201: s.BeneficiaryOutputSerializer,
            **error_responses(400, 401, 409),
        },
        summary="Add a withdrawal destination (pending until confirmed)",
        description=(
            "The destination is validated for its rail and stored normalized. "
            "Then confirm it: with two-factor on, `POST .../confirm {otp}`; "
            "otherwise through the link emailed to you. It is usable "
            "`WALLET_BENEFICIARY_COOLOFF_HOURS` after confirmation. Errors: "
            "`invalid_destination` (400, field `destination`), `invalid` (400, "
            "field `rail`), `beneficiary_exists` (409)."
        ),
    )
    def post(self, request):
        data = s.BeneficiaryInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)

        def handler():
            beneficiary = services.beneficiary_add(
                user=request.user,
                rail=data.validated_data["rail"],
                destination=data.validated_data["destination"],
                label=data.validated_data.get("label", ""),
                site_url=_site_url(request),
                meta=_meta(request),
            )
            out = s.BeneficiaryOutputSerializer(beneficiary)
            return Response(out.data, status=status.HTTP_201_CREATED)

        return run_idempotent(
            request=request, scope="wallet.beneficiary", handler=handler
        )


class BeneficiaryDetailView(APIView):
    @extend_schema(
        tags=TAGS,
        responses={200: s.BeneficiaryOutputSerializer, **error_responses(401, 404)},
        summary="One of the user's beneficiaries",
    )
    def get(self, request, pk: int):
        return Response(s.BeneficiaryOutputSerializer(_beneficiary(request, pk)).data)

    @extend_schema(
        tags=TAGS,
        responses={204: None, **error_responses(401, 404, 409)},
        summary="Remove a beneficiary from the address book",
        description="Withdrawals already requested to it keep their destination. "
        "409 `invalid_transition` when it is already removed.",
    )
    def delete(self, request, pk: int):
        services.beneficiary_remove(
            beneficiary=_beneficiary(request, pk),
            user=request.user,
            meta=_meta(request),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class BeneficiaryConfirmView(APIView):
    @extend_schema(
        tags=TAGS,
        request=s.BeneficiaryConfirmInputSerializer,
        responses={
            200: s.BeneficiaryOutputSerializer,
            **error_responses(400, 401, 403, 404, 409, 429),
        },
        summary="Confirm a pending beneficiary (second factor or emailed link)",
        description=(
            "With two-factor on, send `otp` (a TOTP code or a backup code): 403 "
            "`otp_required` / `otp_invalid`. Without it, send the `token` of the "
            "emailed link: 400 `confirmation_link_invalid` / "
            "`confirmation_link_expired`. 409 `beneficiary_not_pending` when it "
            "was already confirmed or removed (a link works once); 429 "
            "`otp_locked` after too many wrong codes."
        ),
    )
    def post(self, request, pk: int):
        data = s.BeneficiaryConfirmInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        beneficiary = services.beneficiary_confirm(
            beneficiary=_beneficiary(request, pk),
            user=request.user,
            otp=data.validated_data.get("otp", ""),
            token=data.validated_data.get("token", ""),
            meta=_meta(request),
        )
        return Response(s.BeneficiaryOutputSerializer(beneficiary).data)


class BeneficiaryResendView(APIView):
    @extend_schema(
        tags=TAGS,
        request=None,
        responses={
            200: s.BeneficiaryOutputSerializer,
            **error_responses(401, 404, 409),
        },
        summary="Email a fresh confirmation link (two-factor off)",
        description="409 `beneficiary_not_pending` once confirmed or removed, "
        "`otp_required` when two-factor is on (confirm with a code instead).",
    )
    def post(self, request, pk: int):
        beneficiary = services.beneficiary_link_resend(
            beneficiary=_beneficiary(request, pk),
            user=request.user,
            site_url=_site_url(request),
        )
        return Response(s.BeneficiaryOutputSerializer(beneficiary).data)


class TransferListCreateView(_PaginatedView):
    pagination_class = NewestFirstCursorPagination

    @extend_schema(
        tags=TAGS,
        responses={200: s.TransferOutputSerializer(many=True), **error_responses(401)},
        summary="Transfers sent and received, newest first",
    )
    def get(self, request):
        return _paginate(
            self,
            request,
            selectors.transfer_list(user=request.user),
            s.TransferOutputSerializer,
        )

    @extend_schema(
        tags=TAGS,
        parameters=[IDEMPOTENCY_KEY_HEADER],
        request=s.TransferInputSerializer,
        responses={
            201: s.TransferOutputSerializer,
            **error_responses(400, 401, 404, 409, 422),
        },
        summary="Send funds to another user by email (atomic)",
        description=(
            "Errors: `transfer_to_self`, `invalid_amount`, `unknown_asset` (400), "
            "`unknown_recipient` (404, field `to`), `insufficient_funds`, "
            "`asset_inactive` (422), `idempotency_key_reused` (409)."
        ),
    )
    def post(self, request):
        data = s.TransferInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)

        def handler():
            asset, units = _asset_and_units(data.validated_data)
            transfer = services.transfer_create(
                sender=request.user,
                to_email=data.validated_data["to"],
                asset=asset,
                amount=units,
                note=data.validated_data.get("note", ""),
                meta=_meta(request),
            )
            out = s.TransferOutputSerializer(transfer, context={"user": request.user})
            return Response(out.data, status=status.HTTP_201_CREATED)

        return run_idempotent(request=request, scope="wallet.transfer", handler=handler)


class AlertListView(APIView):
    @extend_schema(
        tags=TAGS,
        responses={200: s.AlertOutputSerializer(many=True), **error_responses(401)},
        summary="The user's balance alerts",
    )
    def get(self, request):
        alerts = selectors.alert_list(user=request.user).order_by("asset__code")
        return Response(s.AlertOutputSerializer(alerts, many=True).data)


class AlertDetailView(APIView):
    @extend_schema(
        tags=TAGS,
        request=s.AlertInputSerializer,
        responses={200: s.AlertOutputSerializer, **error_responses(400, 401, 422)},
        summary="Set the minimum available balance for an asset",
    )
    def put(self, request, asset: str):
        data = s.AlertInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        asset_obj = services.asset_get(code=asset, active=False)
        minimum = to_units(
            data.validated_data["minimum"], decimals=asset_obj.decimals, field="minimum"
        )
        alert = services.balance_alert_set(
            user=request.user, asset=asset_obj, minimum=minimum, meta=_meta(request)
        )
        return Response(s.AlertOutputSerializer(alert).data)

    @extend_schema(
        tags=TAGS,
        responses={204: None, **error_responses(400, 401, 404)},
        summary="Remove the alert of an asset",
    )
    def delete(self, request, asset: str):
        asset_obj = services.asset_get(code=asset, active=False)
        if not services.balance_alert_delete(
            user=request.user, asset=asset_obj, meta=_meta(request)
        ):
            raise NotFound(Code.NOT_FOUND, f"No alert for {asset_obj.code}.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookView(APIView):
    """Payment providers call this. No auth (the signature is the auth), no CSRF,
    no throttle (providers retry in bursts)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes: list = []

    @extend_schema(
        tags=TAGS,
        request={"application/json": dict},
        parameters=[
            OpenApiParameter(
                "X-Sandbox-Signature",
                location=OpenApiParameter.HEADER,
                required=False,
                description="Sandbox: `t=<unix>,v1=<hex HMAC-SHA256 of '<t>.<body>'>`",
            )
        ],
        responses={200: s.WebhookOutputSerializer, **error_responses(400, 404, 422)},
        summary="Payment provider webhook (signed)",
        description=(
            "Providers: sandbox (`X-Sandbox-Signature`), stripe "
            "(`Stripe-Signature`), razorpay (`X-Razorpay-Signature` and "
            "`X-Razorpay-Event-Id`), each verified with the provider's own check. "
            "Idempotent by the provider's event id: any number of deliveries, in "
            "any order, act once (a refund before its payment waits, `deferred`). "
            "400 `invalid_signature` / `stale_signature` / `invalid_webhook`, 404 "
            "`unknown_provider` / `unknown_payment`, 422 `amount_mismatch`."
        ),
    )
    def post(self, request, provider: str):
        record = services.deposit_webhook_process(
            provider=provider, headers=request.headers, body=request.body
        )
        return Response(s.WebhookOutputSerializer(record).data)


class PayoutWebhookView(APIView):
    """Payout rails call this (the sandbox rail today). No auth (the signature
    is the auth), no CSRF, no throttle."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes: list = []

    @extend_schema(
        tags=TAGS,
        request={"application/json": dict},
        responses={200: s.WebhookOutputSerializer, **error_responses(400, 404)},
        summary="Payout rail webhook (signed)",
        description=(
            "`payout.paid` completes the sent withdrawal it names, "
            "`payout.failed` fails it and returns the funds through the ledger. "
            "Idempotent by the rail's event id. 400 `invalid_signature` / "
            "`stale_signature` / `invalid_webhook`, 404 `unknown_provider` / "
            "`unknown_payment`."
        ),
    )
    def post(self, request, provider: str):
        record = services.payout_webhook_process(
            provider=provider, headers=request.headers, body=request.body
        )
        return Response(s.PayoutWebhookOutputSerializer(record).data)
