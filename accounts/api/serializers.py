from rest_framework import serializers

from accounts.models import AuditEvent, User
from accounts.selectors import user_has_two_factor
from accounts.timezones import zone_valid

PHONE_PATTERN = r"^\+?[0-9 ()\-]{5,31}$"


class UserOutputSerializer(serializers.ModelSerializer):
    two_factor_enabled = serializers.SerializerMethodField()
    email_verified = serializers.SerializerMethodField()

    class Meta:
        model = User
        fields = (
            "id",
            "email",
            "full_name",
            "phone",
            "status",
            "two_factor_enabled",
            "email_verified",
            "date_joined",
            "time_zone",
            "display_currency",
        )
        read_only_fields = fields

    def get_two_factor_enabled(self, user: User) -> bool:
        return user_has_two_factor(user=user)

    def get_email_verified(self, user: User) -> bool:
        return user.email_verified_at is not None


_DATE_TIME = serializers.DateTimeField()


def user_output(user: User) -> dict[str, object]:
    """`UserOutputSerializer(user).data`, built without a serializer: the
    ModelSerializer built (and deep-copied) its ten fields on every `GET /me`,
    the API's most frequent read. The serializer stays the schema; a test
    keeps the two equal."""
    return {
        "id": user.pk,
        "email": str(user.email),
        "full_name": str(user.full_name),
        "phone": str(user.phone),
        "status": str(user.status),
        "two_factor_enabled": user_has_two_factor(user=user),
        "email_verified": user.email_verified_at is not None,
        "date_joined": _DATE_TIME.to_representation(user.date_joined),
        "time_zone": str(user.time_zone),
        "display_currency": str(user.display_currency),
    }


class RegisterInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)
    full_name = serializers.CharField(max_length=150)
    phone = serializers.RegexField(
        PHONE_PATTERN,
        max_length=32,
        required=False,
        allow_blank=True,
        error_messages={"invalid": "Enter a phone number: digits, spaces, +()-."},
    )
    accept_terms = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Must be true: the user accepts the terms of service and the "
        "privacy notice in force (GET /api/v1/legal lists them).",
    )


class LoginInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)
    otp = serializers.CharField(max_length=16, required=False, allow_blank=True)
    accept_terms = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Needed only when a legal document changed since the user last "
        "accepted it: the login then answers 403 `terms_not_accepted` naming them.",
    )


class LegalDocumentOutputSerializer(serializers.Serializer):
    document = serializers.CharField()
    title = serializers.CharField()
    version = serializers.CharField()
    url = serializers.CharField()


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class RefreshInputSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class ProfileUpdateInputSerializer(serializers.Serializer):
    """Only these fields may change; anything else in the body is a 400."""

    full_name = serializers.CharField(max_length=150, required=False)
    phone = serializers.RegexField(
        PHONE_PATTERN, max_length=32, required=False, allow_blank=True
    )
    # A new email changes only when the link sent to it is followed, and needs
    # the current password.
    email = serializers.EmailField(max_length=254, required=False)
    password = serializers.CharField(
        max_length=128, required=False, trim_whitespace=False
    )
    # An IANA zone ("Asia/Kolkata"); "" goes back to the browser's zone.
    time_zone = serializers.CharField(max_length=64, required=False, allow_blank=True)
    # An asset code the home page values holdings in; "" the default.
    display_currency = serializers.CharField(
        max_length=16, required=False, allow_blank=True
    )

    def validate_time_zone(self, value: str) -> str:
        value = value.strip()
        if value and not zone_valid(value):
            raise serializers.ValidationError(
                "Unknown time zone: use an IANA name such as Asia/Kolkata."
            )
        return value

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {name: ["This field cannot be changed here."] for name in unknown}
            )
        return attrs


class PasswordChangeInputSerializer(serializers.Serializer):
    old_password = serializers.CharField(max_length=128, trim_whitespace=False)
    new_password = serializers.CharField(max_length=128, trim_whitespace=False)


class TotpSetupOutputSerializer(serializers.Serializer):
    secret = serializers.CharField()
    otpauth_uri = serializers.CharField()
    qr_svg = serializers.CharField()


class OtpInputSerializer(serializers.Serializer):
    otp = serializers.CharField(max_length=16)


class TwoFactorDisableInputSerializer(serializers.Serializer):
    password = serializers.CharField(max_length=128, trim_whitespace=False)
    otp = serializers.CharField(max_length=16)


class SecurityEventOutputSerializer(serializers.ModelSerializer):
    event = serializers.CharField(source="get_code_display")

    class Meta:
        model = AuditEvent
        fields = ("id", "code", "event", "ip_address", "user_agent", "created_at")
