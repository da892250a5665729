"""Input and output shapes of the devices API."""

from __future__ import annotations

from rest_framework import serializers

from devices.models import MobileDevice, WebPushSubscription


class PendingCodeSerializer(serializers.Serializer):
    number = serializers.CharField()
    expires_at = serializers.DateTimeField()
    attempts_left = serializers.IntegerField()


class PhoneStateSerializer(serializers.Serializer):
    number = serializers.CharField(help_text="The profile's phone number, as typed.")
    verified_number = serializers.CharField(
        allow_null=True,
        help_text="The number SMS goes to (E.164); null until one is verified, and "
        "again once the profile's number changes.",
    )
    verified_at = serializers.DateTimeField(allow_null=True)
    pending = PendingCodeSerializer(allow_null=True)
    sms_available = serializers.BooleanField()


class PhoneCodeInputSerializer(serializers.Serializer):
    number = serializers.CharField(
        max_length=32, help_text="International form (E.164), e.g. +447700900123."
    )


class PhoneCodeOutputSerializer(serializers.Serializer):
    number = serializers.CharField()
    expires_at = serializers.DateTimeField()


class PhoneVerifyInputSerializer(serializers.Serializer):
    code = serializers.RegexField(
        r"^\s*[0-9]{6}\s*$",
        max_length=16,
        error_messages={"invalid": "The 6-digit code from the SMS."},
    )


class WebPushKeySerializer(serializers.Serializer):
    public_key = serializers.CharField(
        help_text="The VAPID public key (base64url): "
        "`pushManager.subscribe({applicationServerKey})`."
    )


class WebPushKeysSerializer(serializers.Serializer):
    p256dh = serializers.CharField(max_length=128)
    auth = serializers.CharField(max_length=64)


class WebPushSubscribeInputSerializer(serializers.Serializer):
    """What `PushSubscription.toJSON()` gives (expirationTime is ignored)."""

    endpoint = serializers.URLField(max_length=1024)
    keys = WebPushKeysSerializer()


class WebPushUnsubscribeInputSerializer(serializers.Serializer):
    endpoint = serializers.URLField(max_length=1024)


class WebPushSubscriptionSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebPushSubscription
        fields = ("id", "browser", "created_at", "last_sent_at")
        read_only_fields = fields


class MobileDeviceInputSerializer(serializers.Serializer):
    platform = serializers.ChoiceField(choices=MobileDevice.Platform.choices)
    token = serializers.CharField(
        max_length=512, help_text="The FCM registration token the app was given."
    )
    name = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default=""
    )


class MobileDeviceSerializer(serializers.ModelSerializer):
    current = serializers.SerializerMethodField(
        help_text="Registered by the caller's sign-in."
    )

    class Meta:
        model = MobileDevice
        fields = ("id", "platform", "name", "created_at", "last_sent_at", "current")
        read_only_fields = fields

    def get_current(self, device: MobileDevice) -> bool:
        current = self.context.get("current")
        return current is not None and str(device.sign_in) == str(current)
