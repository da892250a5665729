"""WebSocket authentication helpers: single-use stream tickets (issued by
POST /api/v1/stream-tickets, accounts/services/sessions.py), closing the streams
of ended sign-ins, and the origin check for browser sockets."""

from __future__ import annotations

from channels.security.websocket import OriginValidator
from django.conf import settings

from accounts.services.sessions import StreamGrant, stream_ticket_redeem
from marketdata.publish import group_send, user_group


def ticket_authenticate(ticket) -> StreamGrant | None:
    """The user (and sign-in) of an unused, unexpired ticket; None otherwise. The
    ticket is used up either way (never raises)."""
    return stream_ticket_redeem(ticket=ticket)


def user_streams_close(event) -> None:
    """After commit of ended sign-ins (accounts.events.SignInsEnded): the user's
    open streams of those sign-ins are told to close (UserConsumer.stream_revoke)."""
    group_send(
        user_group(event.user_id),
        {
            "type": "stream.revoke",
            "sign_ins": list(event.sign_ins),
            "everything": event.everything,
            "keep": event.keep,
        },
    )


class BrowserOriginValidator(OriginValidator):
    """Browsers always send Origin: it must be one of ALLOWED_HOSTS (this stops
    cross-site WebSocket hijacking of the session cookie). A socket without any
    Origin header is not a browser (API clients, the benchmark): it carries no
    ambient cookie worth stealing and authenticates with a ticket, so it passes."""

    def __init__(self, application):
        super().__init__(application, settings.ALLOWED_HOSTS)

    def valid_origin(self, parsed_origin) -> bool:
        if parsed_origin is None:
            return True
        return super().valid_origin(parsed_origin)
