"""System check: the key that encrypts HMAC secrets. Unset, only Ed25519 keys
can be made (a warning, so a fresh checkout starts); set but unusable, nothing
starts."""

from django.conf import settings
from django.core.checks import Error, Warning, register
from django.core.exceptions import ImproperlyConfigured


@register()
def api_key_encryption_key_check(app_configs, **kwargs):
    from apikeys.crypto import secret_decrypt, secret_encrypt

    hint = "Set API_KEY_ENCRYPTION_KEY in the environment (a Fernet key)."
    if not settings.API_KEY_ENCRYPTION_KEY:
        return [
            Warning(
                "API_KEY_ENCRYPTION_KEY is not set: HMAC API keys cannot be made "
                "or checked.",
                hint=hint,
                id="apikeys.W001",
            )
        ]
    try:
        secret_decrypt(secret_encrypt("check"))
    except ImproperlyConfigured as exc:
        return [Error(str(exc), hint=hint, id="apikeys.E001")]
    return []
