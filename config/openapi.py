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


# --- The statuses every operation can answer (SPECTACULAR_SETTINGS hook) ----------

ERROR_COMPONENT = "Error"
# the OpenAPI security scheme of signed requests (apikeys/schema.py)
API_KEY_SCHEME = "apiKeySignature"
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying (a whole number, at least 1).",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}
# status: (description, when it applies, with Retry-After)
_COMMON = {
    400: (
        "Invalid input: a body that is not valid JSON (`parse_error`, also one "
        "nested deeper than `API_JSON_MAX_DEPTH`), a bad query parameter, a "
        "cursor this list did not hand out (`invalid_cursor`), malformed "
        "signed-request headers (`api_key_headers_invalid`, docs/api-keys.md).",
        "input",
        False,
    ),
    401: (
        "A bearer token that is wrong, expired or revoked (`authentication_failed`, "
        "`token_not_valid`), or none where one is needed (`not_authenticated`).",
        "all",
        False,
    ),
    403: (
        "An API key refused: `scope_missing` (the key lacks the scope, or the "
        "endpoint takes no key), `address_not_allowed` (outside its allowlist).",
        "apikey",
        False,
    ),
    404: (
        "Not found (or not yours): `not_found` and the app's own codes.",
        "path",
        False,
    ),
    413: (
        "The body is over the route's limit (`payload_too_large`, "
        "`details.limit_bytes`); refused before it is read.",
        "body",
        False,
    ),
    415: ("The body's content type is not one this operation accepts.", "body", False),
    429: ("Throttled or locked out (`throttled`); see `Retry-After`.", "all", True),
    503: (
        "The database or Redis is unavailable (`service_unavailable`); see "
        "`Retry-After`.",
        "all",
        True,
    ),
}


def _applies(when: str, operation: dict) -> bool:
    parameters = operation.get("parameters", [])
    has_body = "requestBody" in operation
    # a signed request (apikeys) can be refused on any operation taking keys
    signed = any(API_KEY_SCHEME in req for req in operation.get("security", []))
    if when == "all":
        return True
    if when == "apikey":
        return signed
    if when == "body":
        return has_body
    if when == "path":
        return any(p.get("in") == "path" for p in parameters)
    # "input": anything the client sends can be malformed
    return (
        signed or has_body or any(p.get("in") in ("query", "path") for p in parameters)
    )


def error_responses_postprocess(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: every operation under /api/ documents
    the error statuses the platform's edges can answer whatever the view does
    (config/middleware.py, config/parsers.py, config/errors.py, the throttles),
    all in the one `Error` body; a 429 or 503 also documents `Retry-After`.
    A status a view already documents keeps its description."""
    ref = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    assert ERROR_COMPONENT in result.get("components", {}).get("schemas", {}), (
        "the Error component is registered by views using error_responses()"
    )
    for methods in result.get("paths", {}).values():
        for method, operation in methods.items():
            if method not in {"get", "put", "patch", "post", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for status, (description, when, retry_after) in _COMMON.items():
                if not _applies(when, operation):
                    continue
                response = responses.setdefault(
                    str(status),
                    {
                        "content": {"application/json": {"schema": ref}},
                        "description": description,
                    },
                )
                if retry_after:
                    response.setdefault("headers", {}).update(_RETRY_AFTER)
    return result
