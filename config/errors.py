"""One error shape for the whole API: {"error": {"code", "message", "details"}}.

Services raise domain errors (config/domain_errors.py), which know no HTTP; this
module alone gives each kind its status. DRF's own exceptions are mapped here too,
so every 4xx names its code and, for bad input, the field. An `IntegrityError` that
no service caught is mapped by the name of the constraint it broke; an unknown
constraint is a bug and stays a 500.
"""

from __future__ import annotations

import math
import re
import sys
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, models
from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.domain_errors import (
    ApplicationError,
    Conflict,
    Forbidden,
    InvariantViolated,
    NotFound,
    RateLimited,
    Unauthenticated,
    Unavailable,
    Unprocessable,
)

# The kinds services raise, re-exported: `from config.errors import NotFound` keeps
# working everywhere.
__all__ = [
    "ApplicationError",
    "Conflict",
    "Forbidden",
    "InvariantViolated",
    "NotFound",
    "RateLimited",
    "Unauthenticated",
    "Unavailable",
    "Unprocessable",
]

# The one place a kind of refusal becomes a status. Looked up along the error's
# class hierarchy, so a subclass of a kind answers as that kind.
HTTP_STATUS_BY_KIND: dict[type[ApplicationError], int] = {
    ApplicationError: status.HTTP_400_BAD_REQUEST,
    Unauthenticated: status.HTTP_401_UNAUTHORIZED,
    Forbidden: status.HTTP_403_FORBIDDEN,
    NotFound: status.HTTP_404_NOT_FOUND,
    Conflict: status.HTTP_409_CONFLICT,
    Unprocessable: status.HTTP_422_UNPROCESSABLE_ENTITY,
    RateLimited: status.HTTP_429_TOO_MANY_REQUESTS,
    InvariantViolated: status.HTTP_500_INTERNAL_SERVER_ERROR,
    Unavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
}


def http_status(error: ApplicationError) -> int:
    """The HTTP status of a domain error: its kind's (see HTTP_STATUS_BY_KIND)."""
    for kind in type(error).__mro__:
        if kind in HTTP_STATUS_BY_KIND:
            return HTTP_STATUS_BY_KIND[kind]
    raise TypeError(f"{type(error).__name__} is not an ApplicationError")


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        for field, value in detail.items():
            inner = _first_message(value)
            return inner if field == "non_field_errors" else f"{field}: {inner}"
        return "Invalid input."
    if isinstance(detail, list):
        return _first_message(detail[0]) if detail else "Invalid input."
    return str(detail)


def _validation_details(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {key: _validation_details(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_validation_details(value) for value in detail]
    return str(detail)


_DRF_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ParseError: "parse_error",
}


# A race the service's own check could not see, caught by the database: the
# constraint's name -> what the caller is told. Only constraints that a correct
# request can break belong here; any other (a CHECK guarding an invariant, such
# as the hold amounts adding up) is a bug and answers 500.
CONSTRAINT_ERRORS: dict[str, tuple[type[ApplicationError], str, str]] = {
    "user_email_ci_unique": (
        Conflict,
        "email_taken",
        "email: an account with this email already exists.",
    ),
    "order_client_id_unique_per_user": (
        Conflict,
        "client_order_id_reused",
        "client_order_id: already used for another order.",
    ),
    "beneficiary_unique_live": (
        Conflict,
        "beneficiary_exists",
        "address: this beneficiary is already in your address book.",
    ),
    "role_grant_one_open_request": (
        Conflict,
        "role_request_open",
        "role: a request for this role is already waiting for a decision.",
    ),
    "account_balance_non_negative": (
        Unprocessable,
        "insufficient_funds",
        "amount: insufficient funds.",
    ),
}

# SQLite names a CHECK or an expression index, and only the columns of a unique
# constraint on fields.
_SQLITE_NAMED = re.compile(r"(?:CHECK constraint failed: |index )'?(\w+)'?")
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)$")


def _unique_constraint_names() -> dict[tuple[str, tuple[str, ...]], str]:
    """(table, columns) -> name of each field-based unique constraint: SQLite names
    the columns of a broken unique constraint, not the constraint."""
    names: dict[tuple[str, tuple[str, ...]], str] = {}
    for model in apps.get_models():
        for constraint in model._meta.constraints:
            if isinstance(constraint, models.UniqueConstraint) and constraint.fields:
                column_of = {
                    field.name: field.column
                    for field in model._meta.concrete_fields
                    if field.column
                }
                columns = tuple(column_of[name] for name in constraint.fields)
                names[(model._meta.db_table, columns)] = constraint.name
    return names


def constraint_name(exc: IntegrityError) -> str | None:
    """The name of the constraint `exc` broke, when the database says it."""
    diag = getattr(exc.__cause__, "diag", None)  # psycopg
    if diag is not None:
        return diag.constraint_name
    message = str(exc)
    unique = _SQLITE_UNIQUE.search(message)
    if unique and "index" not in unique.group(1):
        qualified = [column.strip() for column in unique.group(1).split(",")]
        table = qualified[0].split(".", 1)[0]
        columns = tuple(column.split(".", 1)[1] for column in qualified)
        return _unique_constraint_names().get((table, columns))
    named = _SQLITE_NAMED.search(message)
    return named.group(1) if named else None


def constraint_error(exc: IntegrityError) -> ApplicationError | None:
    """The domain error for a broken constraint in CONSTRAINT_ERRORS, else None."""
    name = constraint_name(exc)
    if name not in CONSTRAINT_ERRORS:
        return None
    kind, code, message = CONSTRAINT_ERRORS[name]
    return kind(code, message, details={"constraint": name})


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, IntegrityError):
        mapped = constraint_error(exc)
        if mapped is None:
            return None  # a bug: Django's 500 (JSON under /api/, handler500)
        exc = mapped
    if isinstance(exc, ApplicationError):
        refusal = Response(
            error_body(exc.code, exc.message, exc.details), status=http_status(exc)
        )
        if isinstance(exc, RateLimited) and "retry_after_seconds" in exc.details:
            refusal.headers["Retry-After"] = str(exc.details["retry_after_seconds"])
        return refusal
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        message, fields = validation_error_parts(exc.detail)
        response.data = error_body("invalid", message, fields)
        return response

    code = next(
        (code for cls, code in _DRF_CODES.items() if isinstance(exc, cls)), None
    )
    if code is None:
        code = getattr(exc, "default_code", "error")
    detail: Any = exc.detail if isinstance(exc, exceptions.APIException) else ""
    if isinstance(detail, dict):
        message = str(detail.get("detail", "")) or _first_message(detail)
        sub_code = detail.get("code")
        if sub_code and code == "authentication_failed":
            code = str(sub_code)
    else:
        message = str(detail)
    details: dict = {}
    if isinstance(exc, exceptions.Throttled):
        # Every 429 says when to come back: DRF writes the header only for a
        # wait of a whole second or more, and floors it.
        wait = retry_after_seconds(getattr(exc, "wait", None))
        details["retry_after_seconds"] = wait
        response.headers["Retry-After"] = str(wait)
    response.data = error_body(code, message, details)
    return response


def retry_after_seconds(wait: float | None) -> int:
    """A `Retry-After` in whole seconds, never 0: rounded up, 1 when unknown."""
    return max(1, math.ceil(wait)) if wait is not None else 1


# --- Outside DRF's views: Django's own errors under /api/ ---------------------------

API_PREFIX = "/api/"

# The code of an error response under /api/ that Django (not DRF) made.
STATUS_CODES = {
    400: "bad_request",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    429: "throttled",
    500: "server_error",
    503: "service_unavailable",
}
STATUS_MESSAGES = {
    400: "Bad request.",
    403: "You do not have permission to perform this action.",
    404: "Not found.",
    405: "Method not allowed.",
    413: "Request body too large.",
    429: "Request was throttled.",
    500: "Server error.",
    503: "A service the API depends on is unavailable; try again shortly.",
}


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIX)


def error_response(
    status_code: int,
    code: str | None = None,
    message: str | None = None,
    details: dict | None = None,
) -> JsonResponse:
    return JsonResponse(
        error_body(
            code or STATUS_CODES.get(status_code, "error"),
            message or STATUS_MESSAGES.get(status_code, "Error."),
            details,
        ),
        status=status_code,
    )


def _unavailable_errors() -> tuple[type[BaseException], ...]:
    errors: tuple[type[BaseException], ...] = (
        DatabaseOperationalError,
        DatabaseInterfaceError,
    )
    try:
        import redis.exceptions
    except ImportError:  # redis is optional in the embedded mode
        return errors
    return (*errors, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


UNAVAILABLE_ERRORS = _unavailable_errors()


def unavailable_response(exc: BaseException | None) -> JsonResponse | None:
    """503 `service_unavailable` with `Retry-After` when `exc` says the database or
    Redis cannot be reached; None for any other exception."""
    if exc is None or not isinstance(exc, UNAVAILABLE_ERRORS):
        return None
    response = error_response(503)
    response.headers["Retry-After"] = str(settings.API_UNAVAILABLE_RETRY_AFTER_SECONDS)
    return response


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """`handler404`: JSON under /api/, Django's page elsewhere."""
    if is_api_path(request.path):
        return error_response(404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """`handler500`: called inside the `except` of the exception it answers (in
    a view or in a middleware), so the database or Redis being down is a 503
    under /api/; any other error there a JSON 500; pages elsewhere stay HTML."""
    if is_api_path(request.path):
        return unavailable_response(sys.exc_info()[1]) or error_response(500)
    return defaults.server_error(request)


def validation_error_parts(detail: Any) -> tuple[str, dict]:
    """(message, details) of a DRF validation error's `detail`, as the handler
    writes them in the error body: for an endpoint that reports several
    validation errors in one response (a batch's items)."""
    details = _validation_details(detail)
    if not isinstance(details, dict):
        details = {"non_field_errors": details}
    return _first_message(detail), details
