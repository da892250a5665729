from django.urls import path

from devices.api import views

urlpatterns = [
    path("devices/phone", views.PhoneView.as_view(), name="api-devices-phone"),
    path(
        "devices/phone/code",
        views.PhoneCodeView.as_view(),
        name="api-devices-phone-code",
    ),
    path(
        "devices/phone/verify",
        views.PhoneVerifyView.as_view(),
        name="api-devices-phone-verify",
    ),
    path(
        "devices/webpush/key",
        views.WebPushKeyView.as_view(),
        name="api-devices-webpush-key",
    ),
    path(
        "devices/webpush/subscriptions",
        views.WebPushSubscriptionListView.as_view(),
        name="api-devices-webpush-subscriptions",
    ),
    path(
        "devices/webpush/subscriptions/<int:subscription_id>",
        views.WebPushSubscriptionView.as_view(),
        name="api-devices-webpush-subscription",
    ),
    path(
        "devices/webpush/unsubscribe",
        views.WebPushUnsubscribeView.as_view(),
        name="api-devices-webpush-unsubscribe",
    ),
    path(
        "devices/mobile",
        views.MobileDeviceListView.as_view(),
        name="api-devices-mobile",
    ),
    path(
        "devices/mobile/<int:device_id>",
        views.MobileDeviceView.as_view(),
        name="api-devices-mobile-device",
    ),
]
