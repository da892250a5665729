from django.apps import AppConfig


class DevicesConfig(AppConfig):
    """A user's own devices as notification channels: the verified phone number
    (SMS through Twilio), the browsers subscribed to Web Push, and the mobile
    apps' push tokens (FCM). It registers the senders of the channels "sms",
    "webpush" and "mobile" with notifications.channels; notifications never
    imports it (docs/notification-channels.md)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "devices"
    verbose_name = "Notification devices"

    def ready(self) -> None:
        from devices import selectors, senders
        from notifications import channels

        channels.register("sms", senders.send_sms, reach=selectors.users_with_phone)
        channels.register(
            "webpush", senders.send_webpush, reach=selectors.users_with_webpush
        )
        channels.register(
            "mobile", senders.send_mobile, reach=selectors.users_with_mobile
        )
