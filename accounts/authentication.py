from rest_framework_simplejwt.authentication import (
    JWTAuthentication as BaseJWTAuthentication,
)
from rest_framework_simplejwt.exceptions import AuthenticationFailed

TOKEN_VERSION_CLAIM = "ver"


class JWTAuthentication(BaseJWTAuthentication):
    """simplejwt, plus: a token minted before the user's last revocation is dead.

    A password change bumps `User.token_version`, so every access token issued
    before it stops working at once, not only when its short lifetime runs out.
    """

    def get_user(self, validated_token):
        user = super().get_user(validated_token)  # rejects suspended (inactive) users
        if validated_token.get(TOKEN_VERSION_CLAIM) != user.token_version:
            raise AuthenticationFailed("Token was revoked.", code="token_revoked")
        return user
