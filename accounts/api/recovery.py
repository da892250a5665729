"""API of password reset and email verification: thin views over
`accounts.services.recovery`. The links in the emails point at the pages; an API
client reads `uid` and `token` (reset) or `token` (verification) from them."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.services import RequestMeta
from accounts.services.recovery import RateLimited, password_reset_request_answer
from config.openapi import error_responses
from config.throttling import ScopedRateThrottle


def _meta(request) -> RequestMeta:
    return RequestMeta.from_request(request._request)


def _site_url(request) -> str:
    return request.build_absolute_uri("/").rstrip("/")


class RetryAfterMixin:
    """A service's 429 (`RateLimited`) carries `Retry-After`, like DRF's own."""

    def handle_exception(self, exc):
        response = super().handle_exception(exc)  # type: ignore[misc]
        if isinstance(exc, RateLimited):
            response["Retry-After"] = str(exc.retry_after)
        return response


class PasswordResetRequestInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)


class PasswordResetRequestOutputSerializer(serializers.Serializer):
    detail = serializers.CharField()


class PasswordResetConfirmInputSerializer(serializers.Serializer):
    uid = serializers.CharField(max_length=64)
    token = serializers.CharField(max_length=128)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)
    otp = serializers.CharField(max_length=64, required=False, allow_blank=True)


class EmailVerifyInputSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=512)


class PasswordResetRequestView(RetryAfterMixin, APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(
        tags=["auth"],
        request=PasswordResetRequestInputSerializer,
        responses={
            202: PasswordResetRequestOutputSerializer,
            **error_responses(400, 429),
        },
        summary="Ask for a password reset link by email",
        description=(
            "The same 202 whether the email is registered or not. Limited per "
            "client address and per email (`PASSWORD_RESET_RATE_PER_ADDRESS`, "
            "`PASSWORD_RESET_RATE_PER_ACCOUNT`): 429 `throttled` with "
            "`Retry-After`. The emailed link is "
            "`/password-reset/<uid>/<token>/`: pass both to the confirm endpoint."
        ),
    )
    def post(self, request):
        data = PasswordResetRequestInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_reset_request(
            email=data.validated_data["email"],
            site_url=_site_url(request),
            meta=_meta(request),
        )
        return Response(
            {"detail": password_reset_request_answer()},
            status=status.HTTP_202_ACCEPTED,
        )


class PasswordResetConfirmView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(
        tags=["auth"],
        request=PasswordResetConfirmInputSerializer,
        responses={204: None, **error_responses(400, 403, 429)},
        summary="Set a new password with a reset link",
        description=(
            "400 `link_invalid` (wrong, used or expired link), `weak_password`, "
            "`otp_required` or `otp_invalid` (an account with two-factor login "
            "gives a current code or a backup code in `otp`); 403 "
            "`account_suspended`. On success every session, refresh and access "
            "token of the user ends, and the user is told by email."
        ),
    )
    def post(self, request):
        data = PasswordResetConfirmInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_reset_complete(
            uid=data.validated_data["uid"],
            token=data.validated_data["token"],
            new_password=data.validated_data["new_password"],
            otp=data.validated_data.get("otp") or None,
            meta=_meta(request),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class EmailVerifyView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(
        tags=["auth"],
        request=EmailVerifyInputSerializer,
        responses={204: None, **error_responses(400, 409, 429)},
        summary="Verify an email address with the emailed link's token",
        description=(
            "The token is the last part of `/verify-email/<token>/`. Verifies the "
            "account's address, or completes a change of email. 400 "
            "`link_invalid` or `link_expired`; 409 `email_taken` (a change to an "
            "address another account took meanwhile)."
        ),
    )
    def post(self, request):
        data = EmailVerifyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.email_verify(token=data.validated_data["token"], meta=_meta(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class EmailVerificationSendView(RetryAfterMixin, APIView):
    @extend_schema(
        tags=["me"],
        request=None,
        responses={202: None, **error_responses(401, 409, 429)},
        summary="Send a new link to verify the account's email address",
        description=(
            "409 `email_already_verified`; 429 `throttled` with `Retry-After` "
            "(`EMAIL_VERIFICATION_RATE_PER_ADDRESS`, "
            "`EMAIL_VERIFICATION_RATE_PER_ACCOUNT`)."
        ),
    )
    def post(self, request):
        services.email_verification_send(
            user=request.user, site_url=_site_url(request), meta=_meta(request)
        )
        return Response(status=status.HTTP_202_ACCEPTED)
