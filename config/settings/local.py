"""Embedded/dev mode: the only mode where the secret key has a default."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env(
    "DJANGO_SECRET_KEY",
    default="embedded-dev-only-key-never-used-in-production-0123456789abcdef",
)
ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"]
)
# A fixed Fernet key so the embedded mode runs with no environment; never in production.
KYC_ENCRYPTION_KEY = env(
    "KYC_ENCRYPTION_KEY", default="ZGV2LW9ubHkta3ljLWtleS0wMTIzNDU2Nzg5YWJjZGU="
)
# The same for the HMAC API keys' secrets (apikeys/crypto.py).
API_KEY_ENCRYPTION_KEY = env(
    "API_KEY_ENCRYPTION_KEY", default="ZGV2LW9ubHktYXBpLWtleS0wMTIzNDU2Nzg5YWJjZGU="
)
SANDBOX_PAYMENTS_ENABLED = env.bool("SANDBOX_PAYMENTS_ENABLED", default=True)
SANDBOX_WEBHOOK_SECRET = env(
    "SANDBOX_WEBHOOK_SECRET", default="embedded-dev-only-sandbox-webhook-secret"
)
