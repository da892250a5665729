"""Helpers so every endpoint documents its error responses the same way."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()


class ErrorSerializer(serializers.Serializer):
    """The one error body of the API."""

    error = ErrorDetailSerializer()


_DESCRIPTIONS = {
    400: "Invalid input; `details` names each bad field.",
    401: "Not authenticated, or the credentials/token are wrong.",
    403: "Authenticated but not allowed.",
    404: "Not found (or not yours).",
    409: "Conflict with the current state, or an idempotency key reused.",
    422: "Well-formed but refused by a business rule.",
    429: "Throttled or locked out; retry later.",
}


def error_responses(*status_codes: int) -> dict[int, OpenApiResponse]:
    return {
        code: OpenApiResponse(response=ErrorSerializer, description=_DESCRIPTIONS[code])
        for code in status_codes
    }


IDEMPOTENCY_KEY_HEADER = OpenApiParameter(
    name="Idempotency-Key",
    location=OpenApiParameter.HEADER,
    required=True,
    description=(
        "Unique per logical request. Same key and body replay the first result; "
        "same key with a different body is a 409."
    ),
)
