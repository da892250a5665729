"""The user's own data through the API: export, close."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.services import RequestMeta
from config.openapi import error_responses
from privacy import services


def export_response(chunks, *, user_id: int | None) -> StreamingHttpResponse:
    day = timezone.now().date().isoformat()
    response = StreamingHttpResponse(chunks, content_type="application/json")
    response["Content-Disposition"] = (
        f'attachment; filename="exchange-data-{user_id}-{day}.json"'
    )
    response["Cache-Control"] = "no-store"
    return response


class DataExportView(APIView):
    @extend_schema(
        tags=["privacy"],
        responses={
            200: OpenApiResponse(
                response=OpenApiTypes.OBJECT,
                description="A JSON file: `format`, `generated_at`, then the sections "
                "`profile`, `consents`, `kyc` (metadata, identifiers masked, no "
                "files), `orders`, `fills`, `ledger_statement`, `deposits`, "
                "`withdrawals`, `transfers`, `beneficiaries`, `security_events`, "
                "each row in the shape of its own endpoint.",
            ),
            **error_responses(401, 429),
        },
        summary="Download everything held about your account",
        description="429 `export_rate_limited` (with `Retry-After`) after "
        "`PRIVACY_EXPORTS_PER_HOUR` exports (3 by default) in the last hour.",
    )
    def get(self, request):
        chunks = services.user_data_export(
            user=request.user, meta=RequestMeta.from_request(request._request)
        )
        return export_response(chunks, user_id=request.user.pk)


class AccountCloseInputSerializer(serializers.Serializer):
    password = serializers.CharField(max_length=128, trim_whitespace=False)
    otp = serializers.CharField(max_length=16, required=False, allow_blank=True)
    confirm = serializers.BooleanField(
        help_text="Must be true: closing cannot be undone."
    )

    def validate_confirm(self, value: bool) -> bool:
        if not value:
            raise serializers.ValidationError("Must be true: closing cannot be undone.")
        return value


class AccountCloseView(APIView):
    @extend_schema(
        tags=["privacy"],
        request=AccountCloseInputSerializer,
        responses={204: None, **error_responses(400, 401, 409)},
        summary="Close your account for good",
        description=(
            "Needs the password (and the second factor's code when it is on). 409 "
            "`account_not_empty` while a balance, an open order, a withdrawal or a "
            "deposit remains (`details.blockers` lists them). On success every "
            "session and token ends and sign-in is no longer possible; the records "
            "the law requires are kept read-only and the rest of the personal data is "
            "erased (docs/accounts.md, Retention)."
        ),
    )
    def post(self, request):
        data = AccountCloseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.account_close(
            user=request.user,
            password=data.validated_data["password"],
            otp=data.validated_data.get("otp") or None,
            meta=RequestMeta.from_request(request._request),
        )
        return Response(status=204)
