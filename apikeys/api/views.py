"""API key management over the API: JWT or the session only (a key cannot make
or change keys); creating and changing take a fresh second factor."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.services import RequestMeta
from apikeys import selectors, services
from apikeys.api import serializers as s
from apikeys.errors import ApiKeyErrorCode as Code
from apikeys.models import ApiKey
from config.errors import NotFound
from config.openapi import error_responses

TAGS = ["api-keys"]
SECOND_FACTOR = (
    "Needs `otp` (a current authenticator code or a backup code): 403 "
    "`otp_required` / `otp_invalid`, `second_factor_required` when the account "
    "has no second factor."
)


def _meta(request) -> RequestMeta:
    return RequestMeta.from_request(request._request)


def _key(request, key_id: str) -> ApiKey:
    key = selectors.api_key_list(user=request.user).filter(key_id=key_id).first()
    if key is None:
        raise NotFound(Code.KEY_NOT_FOUND, "No such API key.")
    return key


class ApiKeyListCreateView(APIView):
    api_key_refused = True

    @extend_schema(
        tags=TAGS,
        responses={200: s.ApiKeyOutputSerializer(many=True), **error_responses(401)},
        summary="Your API keys",
        description="Newest first, revoked and expired ones included.",
    )
    def get(self, request):
        keys = selectors.api_key_list(user=request.user)
        return Response(s.ApiKeyOutputSerializer(keys, many=True).data)

    @extend_schema(
        tags=TAGS,
        request=s.ApiKeyCreateInputSerializer,
        responses={
            201: s.ApiKeyCreatedOutputSerializer,
            **error_responses(400, 401, 403, 409),
        },
        summary="Create an API key",
        description=(
            "`hmac`: the `secret` is in this response only. `ed25519`: send your "
            f"`public_key`. {SECOND_FACTOR} 409 `api_key_limit` past "
            "API_KEY_MAX_PER_USER live keys. How to sign: docs/api-keys.md."
        ),
    )
    def post(self, request):
        serializer = s.ApiKeyCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        issued = services.api_key_create(
            user=request.user,
            kind=data["kind"],
            label=data["label"],
            scopes=data["scopes"],
            ip_allowlist=data["ip_allowlist"],
            expires_at=data.get("expires_at"),
            public_key=data.get("public_key"),
            otp=data.get("otp"),
            meta=_meta(request),
        )
        body = s.ApiKeyOutputSerializer(issued.key).data
        body["secret"] = issued.secret
        return Response(body, status=status.HTTP_201_CREATED)


class ApiKeyDetailView(APIView):
    api_key_refused = True

    @extend_schema(
        tags=TAGS,
        responses={200: s.ApiKeyOutputSerializer, **error_responses(401, 404)},
        summary="One API key",
    )
    def get(self, request, key_id: str):
        return Response(s.ApiKeyOutputSerializer(_key(request, key_id)).data)

    @extend_schema(
        tags=TAGS,
        request=s.ApiKeyUpdateInputSerializer,
        responses={
            200: s.ApiKeyOutputSerializer,
            **error_responses(400, 401, 403, 404, 409),
        },
        summary="Change an API key's label, allowlist or expiry",
        description=(
            f"Scopes and secret are fixed (make a new key). {SECOND_FACTOR} "
            "409 `api_key_revoked` for a revoked key."
        ),
    )
    def patch(self, request, key_id: str):
        key = _key(request, key_id)
        serializer = s.ApiKeyUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        otp = data.pop("otp", None)
        key = services.api_key_update(
            key=key, user=request.user, otp=otp, meta=_meta(request), **data
        )
        return Response(s.ApiKeyOutputSerializer(key).data)

    @extend_schema(
        tags=TAGS,
        request=None,
        responses={204: None, **error_responses(401, 404)},
        summary="Revoke an API key",
        description=(
            "At once: its next request is refused (401 `api_key_revoked`) and "
            "the streams opened with it close. Revoking a revoked key is a no-op."
        ),
    )
    def delete(self, request, key_id: str):
        services.api_key_revoke(
            key=_key(request, key_id), user=request.user, meta=_meta(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
