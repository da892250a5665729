"""Thin API views: parse, call one service, serialize."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.api import serializers as s
from accounts.api.factors import RecoveryCodesOutputSerializer
from accounts.api.recovery import RetryAfterMixin
from accounts.legal import documents_in_force
from accounts.models import AuditEvent
from accounts.selectors import security_event_list
from accounts.services import RequestMeta
from config.openapi import error_responses
from config.pagination import NewestFirstCursorPagination
from config.throttling import ScopedRateThrottle


def _meta(request) -> RequestMeta:
    return RequestMeta.from_request(request._request)


def _site_url(request) -> str:
    return request.build_absolute_uri("/").rstrip("/")


class RegisterView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "register"

    @extend_schema(
        tags=["auth"],
        request=s.RegisterInputSerializer,
        responses={201: s.UserOutputSerializer, **error_responses(400, 409, 429)},
        summary="Create an account",
        description=(
            "`accept_terms` must be true (the documents in force: "
            "`GET /api/v1/legal`). Errors: `email_taken` (409), "
            "`terms_not_accepted`, `weak_password` and `invalid` (400). The "
            "address starts unverified: a link to verify it is emailed."
        ),
    )
    def post(self, request):
        data = s.RegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(
            **data.validated_data, site_url=_site_url(request), meta=_meta(request)
        )
        return Response(s.UserOutputSerializer(user).data, status=201)


class LoginView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(
        tags=["auth"],
        request=s.LoginInputSerializer,
        responses={200: s.TokenPairSerializer, **error_responses(400, 401, 403, 429)},
        summary="Log in and get a JWT pair",
        description=(
            "401 `invalid_credentials`, `otp_required` (2FA on, no code) or "
            "`otp_invalid`; 403 `account_suspended`, or `terms_not_accepted` when a "
            "legal document changed since the user accepted it (`details.documents` "
            "names them: log in again with `accept_terms` true); 429 "
            "`login_locked` after "
            "repeated wrong passwords for this account from this client address "
            "(`Retry-After` and `details.retry_after_seconds` say how long to "
            "wait), or `throttled`."
        ),
    )
    def post(self, request):
        data = s.LoginInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        _, tokens = services.auth_login(
            request=request._request,
            email=data.validated_data["email"],
            password=data.validated_data["password"],
            otp=data.validated_data.get("otp") or None,
            accept_terms=data.validated_data["accept_terms"],
        )
        return Response({"access": tokens.access, "refresh": tokens.refresh})


class LegalDocumentsView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        tags=["auth"],
        responses={200: s.LegalDocumentOutputSerializer(many=True)},
        summary="The legal documents in force",
        description="Registering accepts these versions; when one changes, the "
        "next login asks for `accept_terms`.",
    )
    def get(self, request):
        docs = [
            {
                "document": doc.document,
                "title": doc.title,
                "version": doc.version,
                "url": request.build_absolute_uri(doc.url),
            }
            for doc in documents_in_force()
        ]
        return Response(s.LegalDocumentOutputSerializer(docs, many=True).data)


class RefreshView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    @extend_schema(
        tags=["auth"],
        request=s.RefreshInputSerializer,
        responses={200: s.TokenPairSerializer, **error_responses(400, 401, 403)},
        summary="Rotate a refresh token",
        description="The old refresh token is blacklisted; using it again is a 401.",
    )
    def post(self, request):
        data = s.RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tokens = services.auth_refresh(
            refresh=data.validated_data["refresh"], meta=_meta(request)
        )
        return Response({"access": tokens.access, "refresh": tokens.refresh})


class LogoutView(APIView):
    @extend_schema(
        tags=["auth"],
        request=s.RefreshInputSerializer,
        responses={204: None, **error_responses(400, 401)},
        summary="Revoke a refresh token",
    )
    def post(self, request):
        data = s.RefreshInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.auth_logout(
            user=request.user,
            refresh=data.validated_data["refresh"],
            meta=_meta(request),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasswordChangeView(APIView):
    @extend_schema(
        tags=["auth"],
        request=s.PasswordChangeInputSerializer,
        responses={204: None, **error_responses(400, 401)},
        summary="Change password (revokes every token of the user)",
    )
    def post(self, request):
        data = s.PasswordChangeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.password_change(
            user=request.user, **data.validated_data, meta=_meta(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(RetryAfterMixin, APIView):
    @extend_schema(
        tags=["me"], responses={200: s.UserOutputSerializer, **error_responses(401)}
    )
    def get(self, request):
        return Response(s.user_output(request.user))

    @extend_schema(
        tags=["me"],
        request=s.ProfileUpdateInputSerializer,
        responses={200: s.UserOutputSerializer, **error_responses(400, 401, 429)},
        description=(
            "Only `full_name`, `phone` and `email` may change; any other field: "
            "400. A new `email` needs the current `password` (400 "
            "`invalid_credentials`) and changes only when the link sent to it is "
            "followed (the answer still shows the old one); 429 `throttled`."
        ),
    )
    def patch(self, request):
        data = s.ProfileUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_profile_update(
            user=request.user,
            **data.validated_data,
            site_url=_site_url(request),
            meta=_meta(request),
        )
        return Response(s.user_output(user))


class SecurityEventListView(ListAPIView):
    serializer_class = s.SecurityEventOutputSerializer
    pagination_class = NewestFirstCursorPagination

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return AuditEvent.objects.none()
        return security_event_list(user=self.request.user)

    @extend_schema(
        tags=["me"],
        responses={
            200: s.SecurityEventOutputSerializer(many=True),
            **error_responses(401),
        },
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class TwoFactorSetupView(APIView):
    @extend_schema(
        tags=["2fa"],
        request=None,
        responses={200: s.TotpSetupOutputSerializer, **error_responses(401, 409)},
        summary="Provision a TOTP secret (confirm it with a code to turn 2FA on)",
    )
    def post(self, request):
        provisioning = services.totp_setup(user=request.user)
        return Response(
            {
                "secret": provisioning.secret,
                "otpauth_uri": provisioning.otpauth_uri,
                "qr_svg": provisioning.qr_svg,
            }
        )


class TwoFactorConfirmView(APIView):
    @extend_schema(
        tags=["2fa"],
        request=s.OtpInputSerializer,
        responses={
            200: RecoveryCodesOutputSerializer,
            **error_responses(400, 401, 409),
        },
        summary="Turn 2FA on with a code from the provisioned secret",
        description="The answer holds the ten recovery codes, shown this once.",
    )
    def post(self, request):
        data = s.OtpInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        codes = services.totp_confirm(
            user=request.user, otp=data.validated_data["otp"], meta=_meta(request)
        )
        return Response({"recovery_codes": codes})


class TwoFactorDisableView(APIView):
    @extend_schema(
        tags=["2fa"],
        request=s.TwoFactorDisableInputSerializer,
        responses={204: None, **error_responses(400, 401)},
        summary="Turn 2FA off (password and a current code)",
    )
    def post(self, request):
        data = s.TwoFactorDisableInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.totp_disable(
            user=request.user, **data.validated_data, meta=_meta(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
