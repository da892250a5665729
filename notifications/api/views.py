"""The notification API: the list (cursor pagination), mark read, and the
preferences. Thin: services and selectors do the work."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.openapi import error_responses
from config.pagination import NewestFirstCursorPagination
from notifications import catalogue, services
from notifications.selectors import notification_list, notification_unread_count

TAGS = ["notifications"]


class NotificationOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    event_type = serializers.ChoiceField(choices=catalogue.EVENT_TYPE_CHOICES)
    title = serializers.CharField()
    body = serializers.CharField()
    url = serializers.CharField(help_text="A path on the site; may be empty.")
    # the output key is "data"; the field shadows Serializer.data on this class only
    data = serializers.DictField(child=serializers.CharField())  # type: ignore[assignment]
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)


class NotificationPagination(NewestFirstCursorPagination):
    page_size = 20
    max_page_size = 100


class NotificationListView(APIView):
    pagination_class = NotificationPagination

    @extend_schema(
        tags=TAGS,
        responses={
            200: NotificationOutputSerializer(many=True),
            **error_responses(400, 401),
        },
        summary="My notifications (newest first, cursor pagination)",
        description="The in-app items; `X-Unread-Count` carries the unread count.",
    )
    def get(self, request):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            notification_list(user=request.user), request, view=self
        )
        response = paginator.get_paginated_response(
            NotificationOutputSerializer(page, many=True).data
        )
        response["X-Unread-Count"] = str(notification_unread_count(user=request.user))
        return response


class UnreadSerializer(serializers.Serializer):
    unread = serializers.IntegerField()


class NotificationReadView(APIView):
    @extend_schema(
        tags=TAGS,
        request=None,
        responses={200: UnreadSerializer, **error_responses(401, 404)},
        summary="Mark one notification read",
    )
    def post(self, request, pk: int):
        services.notification_mark_read(user=request.user, notification_id=pk)
        return Response({"unread": notification_unread_count(user=request.user)})


class NotificationReadAllView(APIView):
    @extend_schema(
        tags=TAGS,
        request=None,
        responses={200: UnreadSerializer, **error_responses(401)},
        summary="Mark every notification read",
    )
    def post(self, request):
        services.notification_mark_all_read(user=request.user)
        return Response({"unread": 0})


class PreferenceSerializer(serializers.Serializer):
    event_type = serializers.ChoiceField(choices=catalogue.EVENT_TYPE_CHOICES)
    channel = serializers.ChoiceField(choices=list(catalogue.CHANNELS))
    enabled = serializers.BooleanField()


class PreferenceOutputSerializer(PreferenceSerializer):
    category = serializers.CharField()
    locked = serializers.BooleanField(
        help_text="A security notice: always on in-app, email and SMS."
    )


class PreferenceUpdateSerializer(serializers.Serializer):
    preferences = PreferenceSerializer(many=True, allow_empty=False)


def _grid(rows) -> list[dict]:
    return [
        {
            "event_type": row.event_type.code,
            "category": row.event_type.category,
            "channel": channel,
            "enabled": enabled,
            "locked": row.locked,
        }
        for row in rows
        for channel, enabled in row.channels.items()
    ]


class PreferenceView(APIView):
    @extend_schema(
        tags=TAGS,
        responses={200: PreferenceOutputSerializer(many=True), **error_responses(401)},
        summary="My notification preferences (every event type x channel)",
    )
    def get(self, request):
        return Response(_grid(services.preference_grid(user=request.user)))

    @extend_schema(
        tags=TAGS,
        request=PreferenceUpdateSerializer,
        responses={
            200: PreferenceOutputSerializer(many=True),
            **error_responses(400, 401, 422),
        },
        summary="Change some notification preferences",
        description=(
            "Only the listed (event_type, channel) pairs change. A security "
            "notice cannot be turned off: 422 `security_notification_locked`."
        ),
    )
    def put(self, request):
        body = PreferenceUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rows = services.preferences_update(
            user=request.user,
            changes=[
                (p["event_type"], p["channel"], p["enabled"])
                for p in body.validated_data["preferences"]
            ],
        )
        return Response(_grid(rows))
