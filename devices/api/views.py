"""The user's notification devices over the API: the phone number's
verification, this browser's Web Push subscription and the list of browsers,
and the mobile apps' push tokens (docs/notification-channels.md)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.sessions import current_sign_in
from accounts.services import RequestMeta
from config.openapi import error_responses
from devices import providers, selectors, services
from devices.api import serializers as s


def _phone_state(user) -> dict:
    state = selectors.phone_state(user=user)
    return s.PhoneStateSerializer(
        {
            "number": state.number,
            "verified_number": state.verified_number,
            "verified_at": state.verified_at,
            "pending": state.pending,
            "sms_available": providers.sms_configured(),
        }
    ).data


class PhoneView(APIView):
    @extend_schema(
        tags=["devices"],
        responses={200: s.PhoneStateSerializer, **error_responses(401)},
        summary="Your phone number for SMS",
        description="`verified_number` is where SMS goes; `pending` is a code "
        "waiting to be confirmed.",
    )
    def get(self, request):
        return Response(_phone_state(request.user))

    @extend_schema(
        tags=["devices"],
        request=None,
        responses={204: None, **error_responses(401, 404)},
        summary="Stop SMS: forget the verified number",
        description="The profile keeps its number. The user is told "
        "(`phone_changed` security notice). 404 `phone_not_found`.",
    )
    def delete(self, request):
        services.phone_remove(
            user=request.user, meta=RequestMeta.from_request(request._request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class PhoneCodeView(APIView):
    @extend_schema(
        tags=["devices"],
        request=s.PhoneCodeInputSerializer,
        responses={
            201: s.PhoneCodeOutputSerializer,
            **error_responses(400, 401, 409, 422, 429),
        },
        summary="Send a verification code by SMS",
        description=(
            "A 6-digit code to `number`, valid `DEVICES_PHONE_CODE_MINUTES` (10); a "
            "new code replaces the previous one. 400 `phone_invalid` (not E.164), "
            "409 `phone_already_verified`, 422 `sms_refused` (the provider cannot "
            "deliver to it), 429 `phone_code_rate_limited` (one a minute, 5 an "
            "hour per user and per number; `Retry-After`), 503 `sms_unavailable`."
        ),
    )
    def post(self, request):
        data = s.PhoneCodeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        challenge = services.phone_code_send(
            user=request.user,
            number=data.validated_data["number"],
            meta=RequestMeta.from_request(request._request),
        )
        return Response(
            s.PhoneCodeOutputSerializer(challenge).data, status=status.HTTP_201_CREATED
        )


class PhoneVerifyView(APIView):
    @extend_schema(
        tags=["devices"],
        request=s.PhoneVerifyInputSerializer,
        responses={
            200: s.PhoneStateSerializer,
            **error_responses(400, 401, 409, 422, 429),
        },
        summary="Confirm the code: the number is verified",
        description=(
            "The number becomes the verified one and the profile's. 422 "
            "`phone_code_wrong` (`details.attempts_left`) or `phone_code_expired`, "
            "429 `phone_code_locked` after 5 wrong codes, 409 "
            "`phone_no_pending_code`. Replacing a verified number tells the user "
            "(`phone_changed` security notice)."
        ),
    )
    def post(self, request):
        data = s.PhoneVerifyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.phone_code_confirm(
            user=request.user,
            code=data.validated_data["code"],
            meta=RequestMeta.from_request(request._request),
        )
        return Response(_phone_state(request.user))


class WebPushKeyView(APIView):
    @extend_schema(
        tags=["devices"],
        responses={200: s.WebPushKeySerializer, **error_responses(401)},
        summary="The VAPID public key browsers subscribe with",
        description="503 `webpush_unavailable` when Web Push is not configured.",
    )
    def get(self, request):
        return Response({"public_key": selectors.webpush_public_key()})


class WebPushSubscriptionListView(APIView):
    @extend_schema(
        tags=["devices"],
        responses={
            200: s.WebPushSubscriptionSerializer(many=True),
            **error_responses(401),
        },
        summary="Browsers subscribed to your notifications",
    )
    def get(self, request):
        rows = selectors.webpush_subscription_list(user=request.user)
        return Response(s.WebPushSubscriptionSerializer(rows, many=True).data)

    @extend_schema(
        tags=["devices"],
        request=s.WebPushSubscribeInputSerializer,
        responses={
            200: s.WebPushSubscriptionSerializer,
            201: s.WebPushSubscriptionSerializer,
            **error_responses(400, 401),
        },
        summary="Subscribe this browser",
        description=(
            "The body is the browser's `PushSubscription.toJSON()`. 201 when new, "
            "200 when the endpoint was known (it moves to the caller). 400 "
            "`webpush_endpoint_invalid` (not https, or not a push service in "
            "`WEBPUSH_ALLOWED_HOSTS`), `webpush_keys_invalid`; 503 "
            "`webpush_unavailable`."
        ),
    )
    def post(self, request):
        data = s.WebPushSubscribeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        subscription, created = services.webpush_subscribe(
            user=request.user,
            endpoint=data.validated_data["endpoint"],
            p256dh=data.validated_data["keys"]["p256dh"],
            auth=data.validated_data["keys"]["auth"],
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        return Response(
            s.WebPushSubscriptionSerializer(subscription).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class WebPushUnsubscribeView(APIView):
    @extend_schema(
        tags=["devices"],
        request=s.WebPushUnsubscribeInputSerializer,
        responses={204: None, **error_responses(400, 401)},
        summary="Unsubscribe this browser (by its endpoint)",
        description="Idempotent: 204 whether or not the endpoint was subscribed.",
    )
    def post(self, request):
        data = s.WebPushUnsubscribeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.webpush_unsubscribe(
            user=request.user, endpoint=data.validated_data["endpoint"]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebPushSubscriptionView(APIView):
    @extend_schema(
        tags=["devices"],
        request=None,
        responses={204: None, **error_responses(401, 404)},
        summary="Remove a browser from your list",
        description="404 `subscription_not_found`.",
    )
    def delete(self, request, subscription_id: int):
        services.webpush_subscription_remove(
            user=request.user, subscription_id=subscription_id
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class MobileDeviceListView(APIView):
    @extend_schema(
        tags=["devices"],
        responses={200: s.MobileDeviceSerializer(many=True), **error_responses(401)},
        summary="Mobile devices registered for push",
    )
    def get(self, request):
        rows = selectors.mobile_device_list(user=request.user)
        context = {"current": current_sign_in(request)}
        return Response(s.MobileDeviceSerializer(rows, many=True, context=context).data)

    @extend_schema(
        tags=["devices"],
        request=s.MobileDeviceInputSerializer,
        responses={
            200: s.MobileDeviceSerializer,
            201: s.MobileDeviceSerializer,
            **error_responses(400, 401),
        },
        summary="Register this app's push token",
        description=(
            "Call after sign-in and whenever the platform gives the app a new "
            "token. One row per device: a known token moves to the caller, and a "
            "new token from the same sign-in replaces the old one (200); 201 when "
            "new. The row is deleted when this sign-in ends (logout, password "
            "change, a session ended from the list) or when FCM calls the token "
            "dead. `apns`: an iOS app's FCM registration token (FCM hands it to "
            "APNs). 400 `mobile_token_invalid`."
        ),
    )
    def post(self, request):
        data = s.MobileDeviceInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        current = current_sign_in(request)
        device, created = services.mobile_device_register(
            user=request.user,
            platform=data.validated_data["platform"],
            token=data.validated_data["token"],
            name=data.validated_data["name"],
            sign_in=current,
        )
        return Response(
            s.MobileDeviceSerializer(device, context={"current": current}).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class MobileDeviceView(APIView):
    @extend_schema(
        tags=["devices"],
        request=None,
        responses={204: None, **error_responses(401, 404)},
        summary="Remove a mobile device",
        description="404 `mobile_device_not_found`.",
    )
    def delete(self, request, device_id: int):
        services.mobile_device_remove(user=request.user, device_id=device_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
