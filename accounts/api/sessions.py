"""Sessions and devices over the API: the list, ending one or all others, and
the single-use tickets that open /ws/user/ (docs/accounts.md)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.models import SignIn
from accounts.services import RequestMeta
from accounts.services.sessions import FAMILY_CLAIM, SIGN_IN_SESSION_KEY
from config.openapi import error_responses


def current_sign_in(request) -> str | None:
    """The caller's sign-in: the token family of a JWT, the API key's, or the
    browser session's."""
    token = getattr(request, "auth", None)
    if token is not None and getattr(token, "is_api_key", False):
        return token.stream_sign_in
    if token is not None and hasattr(token, "get"):
        return token.get(FAMILY_CLAIM)
    session = getattr(request._request, "session", None)
    return session.get(SIGN_IN_SESSION_KEY) if session is not None else None


class SignInOutputSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    first_seen = serializers.DateTimeField(source="created_at", read_only=True)
    last_seen = serializers.DateTimeField(source="last_seen_at", read_only=True)
    current = serializers.SerializerMethodField(help_text="This device.")

    class Meta:
        model = SignIn
        fields = (
            "id",
            "kind",
            "device",
            "ip_address",
            "first_seen",
            "last_seen",
            "current",
        )
        read_only_fields = fields

    def get_current(self, sign_in: SignIn) -> bool:
        return str(sign_in.public_id) == str(self.context.get("current"))


class EndedOutputSerializer(serializers.Serializer):
    ended = serializers.IntegerField()


class StreamTicketOutputSerializer(serializers.Serializer):
    ticket = serializers.CharField()
    expires_in = serializers.IntegerField(help_text="Seconds it stays usable.")


class SessionListView(APIView):
    @extend_schema(
        tags=["me"],
        responses={200: SignInOutputSerializer(many=True), **error_responses(401)},
        summary="Where the account is signed in",
        description=(
            "Browser sessions (`web`) and API token families (`api`: every "
            "refresh token rotated from one login), most recently seen first; "
            "`current` marks the caller's own."
        ),
    )
    def get(self, request):
        rows = services.sign_in_list(user=request.user)
        context = {"current": current_sign_in(request)}
        return Response(SignInOutputSerializer(rows, many=True, context=context).data)


class SessionEndView(APIView):
    @extend_schema(
        tags=["me"],
        request=None,
        responses={204: None, **error_responses(401, 404)},
        summary="End one sign-in",
        description=(
            "The browser session is logged out, or the token family's refresh "
            "token revoked (its access tokens run out within their lifetime); "
            "its open /ws/user/ streams close. 404 `sign_in_not_found`."
        ),
    )
    def delete(self, request, public_id: str):
        services.sign_in_end(
            user=request.user,
            public_id=public_id,
            meta=RequestMeta.from_request(request._request),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class SessionEndOthersView(APIView):
    @extend_schema(
        tags=["me"],
        request=None,
        responses={200: EndedOutputSerializer, **error_responses(401)},
        summary="End every sign-in but this one",
    )
    def post(self, request):
        ended = services.sign_ins_end_others(
            user=request.user,
            current=current_sign_in(request),
            meta=RequestMeta.from_request(request._request),
        )
        return Response({"ended": ended})


class StreamTicketView(APIView):
    # an API key with the read scope may open its stream (bound to the key)
    api_key_scope = "read"

    @extend_schema(
        tags=["me"],
        request=None,
        responses={201: StreamTicketOutputSerializer, **error_responses(401)},
        summary="A single-use ticket for /ws/user/",
        description=(
            "Open `/ws/user/?ticket=<ticket>` (or send "
            '`{"op": "auth", "ticket": ...}` first) within `expires_in` seconds. '
            "The ticket works once, for the caller's sign-in; the stream closes "
            "when that sign-in ends. 401 `token_invalid` when it already ended."
        ),
    )
    def post(self, request):
        ticket = services.stream_ticket_issue(
            user=request.user, sign_in=current_sign_in(request)
        )
        return Response(
            {"ticket": ticket.ticket, "expires_in": ticket.expires_in},
            status=status.HTTP_201_CREATED,
        )
