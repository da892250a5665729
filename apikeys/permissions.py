"""What an API key may do: safe methods need `read`; an unsafe one needs the
scope its view declares (`api_key_scope = "trade"` on the order views,
`"withdraw"` on the withdrawals); a view declaring none takes no key for its
unsafe methods (account, security, KYC, key management, deposits...). A view
with `api_key_refused = True` takes no key at all."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from apikeys.errors import ApiKeyErrorCode as Code
from config.domain_errors import Forbidden


def api_key_scope_check(*, method: str, view, key) -> None:
    if getattr(view, "api_key_refused", False):
        raise Forbidden(
            Code.SCOPE_MISSING,
            "This endpoint takes no API key; sign in with a token or the browser.",
            details={"scope": None},
        )
    scope = "read" if method in SAFE_METHODS else getattr(view, "api_key_scope", None)
    if scope is None:
        raise Forbidden(
            Code.SCOPE_MISSING,
            "This endpoint takes no API key for this method; sign in with a token "
            "or the browser.",
            details={"scope": None},
        )
    if scope not in key.scopes:
        raise Forbidden(
            Code.SCOPE_MISSING,
            f"This API key lacks the {scope} scope.",
            details={"scope": scope},
        )


class ApiKeyScopePermission(BasePermission):
    """In DEFAULT_PERMISSION_CLASSES: lets everything but a key without the
    scope through (other permissions still apply)."""

    def has_permission(self, request, view) -> bool:
        key = getattr(request, "auth", None)
        if getattr(key, "is_api_key", False):
            api_key_scope_check(method=request.method, view=view, key=key)
        return True


def checks_scope(view) -> bool:
    """Whether the view's own permissions include the scope check (a view that
    replaced the default list does not; the authentication checks for it)."""
    return any(
        isinstance(permission, type) and issubclass(permission, ApiKeyScopePermission)
        for permission in getattr(view, "permission_classes", ())
    )
