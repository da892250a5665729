"""WebSocket authentication helpers: JWT access tokens (the API's rules, token
version included) and the origin check for browser sockets."""

from __future__ import annotations

from dataclasses import dataclass

from channels.security.websocket import OriginValidator
from django.conf import settings
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from accounts.authentication import JWTAuthentication


@dataclass(frozen=True)
class TokenUser:
    user_id: int
    expires_at: int  # unix seconds


def jwt_authenticate(token: str) -> TokenUser | None:
    """The user of a valid, unexpired, unrevoked access token of an active user;
    None otherwise (never raises)."""
    if not isinstance(token, str) or not token or len(token) > 4096:
        return None
    auth = JWTAuthentication()
    try:
        validated = auth.get_validated_token(token.encode())
        user = auth.get_user(validated)
    except (InvalidToken, TokenError, AuthenticationFailed):
        return None
    return TokenUser(user.pk, int(validated["exp"]))


class BrowserOriginValidator(OriginValidator):
    """Browsers always send Origin: it must be one of ALLOWED_HOSTS (this stops
    cross-site WebSocket hijacking of the session cookie). A socket without any
    Origin header is not a browser (API clients, the benchmark): it carries no
    ambient cookie worth stealing and authenticates with a token, so it passes."""

    def __init__(self, application):
        super().__init__(application, settings.ALLOWED_HOSTS)

    def valid_origin(self, parsed_origin) -> bool:
        if parsed_origin is None:
            return True
        return super().valid_origin(parsed_origin)
