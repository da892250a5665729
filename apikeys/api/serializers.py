from __future__ import annotations

from rest_framework import serializers

from apikeys.models import ApiKey
from apikeys.services import MAX_ALLOWLIST

OTP_HELP = "A current code from your authenticator, or a backup code."


class ApiKeyOutputSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField(
        help_text="`active`, `expired` or `revoked`."
    )
    # a string here (the input's enum names the values): one enum component
    kind = serializers.CharField(help_text="`hmac` or `ed25519`.")
    scopes = serializers.ListField(child=serializers.CharField())
    ip_allowlist = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = ApiKey
        fields: tuple[str, ...] = (
            "key_id",
            "kind",
            "label",
            "scopes",
            "ip_allowlist",
            "expires_at",
            "created_at",
            "last_used_at",
            "last_used_ip",
            "revoked_at",
            "status",
        )
        read_only_fields: tuple[str, ...] = fields

    def get_status(self, key: ApiKey) -> str:
        from django.utils import timezone

        if key.revoked_at is not None:
            return "revoked"
        if key.expires_at is not None and key.expires_at <= timezone.now():
            return "expired"
        return "active"


class ApiKeyCreatedOutputSerializer(ApiKeyOutputSerializer):
    secret = serializers.CharField(
        allow_null=True,
        help_text="The HMAC secret, shown this once (null for an Ed25519 key).",
    )

    class Meta(ApiKeyOutputSerializer.Meta):
        fields = (*ApiKeyOutputSerializer.Meta.fields, "secret")
        read_only_fields = fields


class ApiKeyCreateInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ApiKey.Kind.choices)
    label = serializers.CharField(  # type: ignore[assignment]
        max_length=64, allow_blank=True, default=""
    )
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ApiKey.Scope.choices),
        default=list,
        max_length=3,
        help_text="`read` is always granted; `withdraw` needs an `ip_allowlist`.",
    )
    ip_allowlist = serializers.ListField(
        child=serializers.CharField(max_length=64),
        default=list,
        max_length=MAX_ALLOWLIST,
        help_text="Addresses or CIDR networks; empty: any address.",
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    public_key = serializers.CharField(
        required=False,
        max_length=2000,
        help_text="Ed25519 only: base64 of the 32 raw bytes, or a PEM public key.",
    )
    otp = serializers.CharField(required=False, allow_blank=True, max_length=64)


class ApiKeyUpdateInputSerializer(serializers.Serializer):
    label = serializers.CharField(  # type: ignore[assignment]
        max_length=64, allow_blank=True, required=False
    )
    ip_allowlist = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        max_length=MAX_ALLOWLIST,
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    otp = serializers.CharField(
        required=False, allow_blank=True, max_length=64, help_text=OTP_HELP
    )
