"""Cursor pagination for every list: stable under inserts, no COUNT(*).

A cursor the client changed or made up is a 400 `invalid_cursor`, not DRF's 404:
the list exists, the request is wrong."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import pagination
from rest_framework.exceptions import NotFound

from config.errors import ApplicationError


class InvalidCursor(ApplicationError):
    def __init__(self) -> None:
        super().__init__(
            "invalid_cursor",
            "The cursor is not one this list handed out.",
            details={"cursor": ["Invalid cursor."]},
        )


class CursorPagination(pagination.CursorPagination):
    """DRF's cursor pagination, with a bad cursor a 400 `invalid_cursor`: one
    that does not decode, and one that decodes to a position the ordering field
    cannot hold (a date that is not a date)."""

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise InvalidCursor() from None

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except (DjangoValidationError, ValueError, TypeError):
            if request.query_params.get(self.cursor_query_param) is None:
                raise
            raise InvalidCursor() from None


class NewestFirstCursorPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200
