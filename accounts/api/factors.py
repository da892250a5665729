"""API for recovery codes and passkeys. Passkeys are registered and used on the
pages only (a WebAuthn ceremony needs the browser); API clients list, rename and
remove them, and log in with an authenticator or recovery code."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.api.serializers import OtpInputSerializer
from accounts.selectors import passkey_list, recovery_codes_remaining
from accounts.services import RequestMeta
from config.openapi import error_responses


def _meta(request) -> RequestMeta:
    return RequestMeta.from_request(request._request)


class RecoveryCodesOutputSerializer(serializers.Serializer):
    recovery_codes = serializers.ListField(
        child=serializers.CharField(),
        help_text="Shown once: store them; each works once in place of a code.",
    )


class RecoveryCodesStatusSerializer(serializers.Serializer):
    remaining = serializers.IntegerField()


class PasskeyOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)


class PasskeyRenameInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64)


class RecoveryCodesView(APIView):
    @extend_schema(
        tags=["2fa"],
        responses={200: RecoveryCodesStatusSerializer, **error_responses(401)},
        summary="How many unused recovery codes are left",
    )
    def get(self, request):
        return Response({"remaining": recovery_codes_remaining(user=request.user)})

    @extend_schema(
        tags=["2fa"],
        request=OtpInputSerializer,
        responses={200: RecoveryCodesOutputSerializer, **error_responses(400, 401)},
        summary="Make new recovery codes (a current code; the old ones stop working)",
        description="400 `two_factor_not_enabled` or `otp_invalid`.",
    )
    def post(self, request):
        data = OtpInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        codes = services.recovery_codes_regenerate(
            user=request.user, otp=data.validated_data["otp"], meta=_meta(request)
        )
        return Response({"recovery_codes": codes})


class PasskeyListView(APIView):
    @extend_schema(
        tags=["2fa"],
        responses={200: PasskeyOutputSerializer(many=True), **error_responses(401)},
        summary="The user's passkeys (added on the security pages)",
    )
    def get(self, request):
        return Response(
            PasskeyOutputSerializer(passkey_list(user=request.user), many=True).data
        )


class PasskeyDetailView(APIView):
    @extend_schema(
        tags=["2fa"],
        request=PasskeyRenameInputSerializer,
        responses={200: PasskeyOutputSerializer, **error_responses(400, 401, 404)},
        summary="Rename a passkey",
    )
    def patch(self, request, passkey_id: int):
        data = PasskeyRenameInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        passkey = services.passkey_rename(
            user=request.user, passkey_id=passkey_id, **data.validated_data
        )
        return Response(PasskeyOutputSerializer(passkey).data)


class PasskeyRemoveView(APIView):
    @extend_schema(
        tags=["2fa"],
        request=OtpInputSerializer,
        responses={204: None, **error_responses(400, 401, 404)},
        summary="Remove a passkey (a current authenticator or recovery code)",
    )
    def post(self, request, passkey_id: int):
        data = OtpInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.passkey_remove(
            user=request.user,
            passkey_id=passkey_id,
            otp=data.validated_data["otp"],
            meta=_meta(request),
        )
        return Response(status=204)
