"""OpenAPI: the signed-request scheme (docs/api-keys.md) as one security scheme."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "apikeys.authentication.ApiKeyAuthentication"
    name = "apiKeySignature"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-Api-Key",
            "description": (
                "With X-Api-Timestamp (ms), X-Api-Signature and optional "
                "X-Api-Window: a signature over timestamp, method, path, query "
                "and body hash (docs/api-keys.md)."
            ),
        }
