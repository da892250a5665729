"""API keys: a user's programmatic credentials, each signing every request
(apikeys/signing.py). The secret of an HMAC key is kept encrypted (the server
needs it back to check a signature); an Ed25519 key keeps only the public half."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class ApiKey(models.Model):
    class Kind(models.TextChoices):
        HMAC = "hmac", "HMAC-SHA256"
        ED25519 = "ed25519", "Ed25519"

    class Scope(models.TextChoices):
        READ = "read", "Read"
        TRADE = "trade", "Trade"
        WITHDRAW = "withdraw", "Withdraw"

    # request.auth is the key: the rate limiter keys on request.auth.key_id
    # when this is set (a JWT's auth is a token).
    is_api_key = True

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    key_id = models.CharField(max_length=27, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    label = models.CharField(max_length=64, blank=True)
    scopes = models.JSONField(default=list)
    ip_allowlist = models.JSONField(default=list, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Fernet token of the HMAC secret (apikeys/crypto.py); "" for Ed25519.
    secret_encrypted = models.TextField(blank=True)
    # The raw 32 bytes of an Ed25519 public key; null for HMAC.
    public_key = models.BinaryField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-pk")
        permissions = [("revoke_apikey", "Can revoke a user's API key")]
        indexes = [models.Index(fields=("user", "-created_at"))]
        constraints = [
            models.CheckConstraint(
                name="api_key_material_matches_kind",
                condition=(
                    Q(kind="hmac", public_key__isnull=True) & ~Q(secret_encrypted="")
                )
                | Q(kind="ed25519", public_key__isnull=False, secret_encrypted=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key_id} ({self.label})" if self.label else self.key_id

    @property
    def stream_sign_in(self) -> str:
        """The sign-in a stream ticket made with this key is bound to: revoking
        the key ends it (accounts.events.SignInsEnded)."""
        return f"apikey:{self.key_id}"
