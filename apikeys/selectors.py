from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from apikeys.models import ApiKey


def api_key_list(*, user) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=user).order_by("-created_at", "-pk")


def api_key_for_signature(*, key_id: str) -> ApiKey | None:
    """The key a signed request names, with its user, in one query."""
    return ApiKey.objects.select_related("user").filter(key_id=key_id).first()


def api_key_is_live(key: ApiKey) -> bool:
    if key.revoked_at is not None:
        return False
    return key.expires_at is None or key.expires_at > timezone.now()


def api_key_stream_live(*, user_id: int, sign_in: str) -> bool:
    """Whether the key behind a stream's "apikey:<key_id>" still stands."""
    key_id = sign_in.removeprefix("apikey:")
    key = ApiKey.objects.filter(key_id=key_id, user_id=user_id).first()
    return key is not None and api_key_is_live(key)
