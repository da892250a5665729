"""Sessions and devices: where an account is signed in, ending a sign-in, the
new-device notice, refresh-token families and the single-use stream tickets.

A `SignIn` is one browser session (its Django session key) or one API token
family (every refresh token rotated from one login carries the family's id in
its `fam` claim, and the row keeps the newest one's jti). Ending a sign-in ends
its session or blacklists its refresh token, and records `SignInsEnded`, whose
subscriber closes the user's open WebSocket streams of that sign-in after commit
(config/subscribers.py). docs/accounts.md, "Sessions and devices".
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

import user_agents
from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import (
    BlacklistedToken,
    OutstandingToken,
)

from accounts.errors import AccountsErrorCode as Code
from accounts.events import SignInsEnded
from accounts.models import AuditCode, SignIn, User
from accounts.services import (
    RequestMeta,
    audit_event_record,
    security_notice_record,
)
from config import events
from config.domain_errors import ApplicationError, NotFound, Unauthenticated

# The refresh (and access) token claim naming the token family.
FAMILY_CLAIM = "fam"
# The browser session's key holding its sign-in's public id.
SIGN_IN_SESSION_KEY = "_sign_in"
# A browser sign-in's "last seen" is written at most this often (seconds); the
# session keeps [its key, when] of the last write under SEEN_SESSION_KEY.
LAST_SEEN_EVERY = 60
SEEN_SESSION_KEY = "_sign_in_seen"
TICKET_CACHE_PREFIX = "stream-ticket:"


@dataclass(frozen=True)
class Device:
    label: str
    fingerprint: str


@dataclass(frozen=True)
class StreamTicket:
    ticket: str
    expires_in: int


@dataclass(frozen=True)
class StreamGrant:
    """Who a redeemed ticket authenticates, and from which sign-in."""

    user_id: int
    sign_in: str | None


def _part(family: str, version: str) -> str:
    if not family or family == "Other":
        return ""
    return f"{family} {version}".strip()


def device_from_user_agent(user_agent: str) -> Device:
    """A readable name and a stable fingerprint. The fingerprint is the browser,
    operating system and device families without versions (a browser update is
    not a new device) and without the address (mobile networks change it all
    the time; the new-device notice shows it instead)."""
    parsed = user_agents.parse(user_agent or "")
    browser = _part(parsed.browser.family, parsed.browser.version_string.split(".")[0])
    system = _part(parsed.os.family, parsed.os.version_string)
    hardware = "" if parsed.device.family == "Other" else parsed.device.family
    label = " on ".join(part for part in (browser, system) if part)
    if hardware and hardware not in label:
        label = f"{label} ({hardware})" if label else hardware
    if not label:
        label = (user_agent or "").strip()[:80] or "Unknown device"
    key = "|".join(
        (parsed.browser.family, parsed.os.family, parsed.device.family)
        if user_agent
        else ("", "", "")
    )
    return Device(
        label=label[:200], fingerprint=hashlib.sha256(key.encode()).hexdigest()
    )


# --- Starting and following sign-ins ------------------------------------------------


def _sign_in_create(
    *,
    user: User,
    kind: SignIn.Kind,
    meta: RequestMeta,
    session_key: str = "",
    notify: bool = True,
) -> SignIn:
    device = device_from_user_agent(meta.user_agent)
    seen = SignIn.objects.filter(user=user)
    first_ever = not seen.exists()
    known = seen.filter(device_fingerprint=device.fingerprint).exists()
    sign_in = SignIn.objects.create(
        public_id=uuid.uuid4(),
        user=user,
        kind=kind,
        session_key=session_key,
        device_fingerprint=device.fingerprint,
        device=device.label,
        user_agent=meta.user_agent,
        ip_address=meta.ip_address,
    )
    if notify and not known and not first_ever:
        audit_event_record(
            code=AuditCode.NEW_DEVICE_SIGN_IN,
            user=user,
            acting_user=user,
            target=sign_in,
            meta=meta,
            extra={
                "sign_in": str(sign_in.public_id),
                "kind": kind,
                "device": device.label,
            },
        )
        # the owner is told (notifications: device, address and time)
        security_notice_record(
            user=user,
            kind="new_device_sign_in",
            detail={"device": device.label},
            meta=meta,
        )
    return sign_in


@transaction.atomic
def sign_in_web_start(
    *, request: HttpRequest, user: User, notify: bool = True
) -> SignIn:
    """Record the browser session `login()` just started (call after it)."""
    if request.session.session_key is None:
        request.session.save()
    sign_in = _sign_in_create(
        user=user,
        kind=SignIn.Kind.WEB,
        meta=RequestMeta.from_request(request),
        session_key=request.session.session_key or "",
        notify=notify,
    )
    _mark_seen(request.session, sign_in=str(sign_in.public_id))
    return sign_in


def _mark_seen(session, *, sign_in: str) -> None:
    session[SIGN_IN_SESSION_KEY] = sign_in
    session[SEEN_SESSION_KEY] = [session.session_key, int(time.time())]


def sign_in_api_start(*, user: User, meta: RequestMeta, notify: bool = True) -> SignIn:
    """A new token family, for an API login (inside its transaction)."""
    return _sign_in_create(user=user, kind=SignIn.Kind.API, meta=meta, notify=notify)


def sign_in_session_check(*, request: HttpRequest) -> None:
    """Per browser request (SignInMiddleware), at most once a minute or when the
    session key changed (Django cycles it at login and password change): the
    sign-in's last seen, address and session key are written, and a session
    whose sign-in has ended is logged out. Otherwise no query: the session holds
    when it was last written. A signed-in session without a sign-in (from before
    this, or `force_login`) gets its row, without the new-device notice."""
    session = request.session
    public_id = session.get(SIGN_IN_SESSION_KEY)
    if public_id is None:
        if SESSION_KEY in session and request.user.is_authenticated:
            sign_in_web_start(request=request, user=request.user, notify=False)
        return
    key, seen = session.get(SEEN_SESSION_KEY) or (None, 0)
    if key == session.session_key and time.time() - seen < LAST_SEEN_EVERY:
        return
    updated = SignIn.objects.filter(
        public_id=public_id,
        user_id=session.get(SESSION_KEY) or 0,  # no user: matches no row
        ended_at__isnull=True,
    ).update(
        session_key=session.session_key,
        last_seen_at=timezone.now(),
        ip_address=RequestMeta.from_request(request).ip_address,
    )
    if not updated:
        logout(request)
        return
    _mark_seen(session, sign_in=public_id)


def token_family_lock(*, family_id: str | None, user_id: int) -> SignIn | None:
    """The token family row, locked (take it before the refresh token's row)."""
    if not family_id:
        return None
    try:
        uuid.UUID(str(family_id))
    except ValueError:
        return None
    return (
        SignIn.objects.select_for_update()
        .filter(public_id=family_id, user_id=user_id, kind=SignIn.Kind.API)
        .first()
    )


def token_family_rotated(*, family: SignIn, jti: str, meta: RequestMeta) -> None:
    family.refresh_jti = jti
    family.last_seen_at = timezone.now()
    fields = ["refresh_jti", "last_seen_at"]
    if meta.ip_address:
        family.ip_address = meta.ip_address
        fields.append("ip_address")
    family.save(update_fields=fields)


# --- Ending sign-ins ---------------------------------------------------------------


def _session_store():
    return import_module(settings.SESSION_ENGINE).SessionStore


def _end(sign_ins: list[SignIn], *, reason: str) -> None:
    """Mark ended, delete the browser sessions, blacklist the families' newest
    refresh tokens (the older ones are blacklisted by rotation already)."""
    if not sign_ins:
        return
    now = timezone.now()
    store = _session_store()
    jtis = []
    for sign_in in sign_ins:
        sign_in.ended_at = now
        sign_in.end_reason = reason
        if sign_in.kind == SignIn.Kind.WEB and sign_in.session_key:
            store(session_key=sign_in.session_key).delete()
        elif sign_in.refresh_jti:
            jtis.append(sign_in.refresh_jti)
    SignIn.objects.bulk_update(sign_ins, ["ended_at", "end_reason"])
    BlacklistedToken.objects.bulk_create(
        [
            BlacklistedToken(token=token)
            for token in OutstandingToken.objects.filter(jti__in=jtis)
        ],
        ignore_conflicts=True,
    )


def _active(user: User):
    return (
        SignIn.objects.select_for_update()
        .filter(user=user, ended_at__isnull=True)
        .order_by("pk")
    )


def _describe(sign_in: SignIn) -> dict:
    return {
        "sign_in": str(sign_in.public_id),
        "kind": sign_in.kind,
        "device": sign_in.device,
    }


def sign_in_list(*, user: User) -> list[SignIn]:
    """The user's live sign-ins, most recently seen first."""
    return list(
        SignIn.objects.filter(user=user, ended_at__isnull=True).order_by(
            "-last_seen_at", "-id"
        )
    )


@transaction.atomic
def sign_in_end(
    *, user: User, public_id: str, meta: RequestMeta | None = None
) -> SignIn:
    """The user ends one of their sign-ins (perhaps the current one)."""
    try:
        wanted = uuid.UUID(str(public_id))
    except ValueError:
        wanted = None
    sign_in = _active(user).filter(public_id=wanted).first() if wanted else None
    if sign_in is None:
        raise NotFound(
            Code.SIGN_IN_NOT_FOUND,
            "id: no active sign-in of yours has this id.",
            details={"id": ["Not found."]},
        )
    _end([sign_in], reason="ended_by_user")
    audit_event_record(
        code=AuditCode.SESSION_ENDED,
        user=user,
        acting_user=user,
        target=sign_in,
        meta=meta,
        extra=_describe(sign_in),
    )
    events.record(SignInsEnded(user_id=user.pk, sign_ins=(str(sign_in.public_id),)))
    return sign_in


@transaction.atomic
def sign_ins_end_others(
    *, user: User, current: str | None, meta: RequestMeta | None = None
) -> int:
    """The user ends every sign-in but the one they are using."""
    others = [s for s in _active(user) if str(s.public_id) != str(current)]
    _end(others, reason="ended_by_user")
    audit_event_record(
        code=AuditCode.OTHER_SESSIONS_ENDED,
        user=user,
        acting_user=user,
        meta=meta,
        extra={"count": len(others), "kept": str(current) if current else None},
    )
    events.record(
        SignInsEnded(
            user_id=user.pk, sign_ins=(), everything=True, keep=current or None
        )
    )
    return len(others)


def sign_ins_end_all(*, user: User, reason: str, keep: str | None = None) -> int:
    """Every sign-in ends (password change, staff lock, ...), inside the caller's
    transaction; `keep` is the browser session that changed the password."""
    ended = [s for s in _active(user) if str(s.public_id) != str(keep)]
    _end(ended, reason=reason)
    events.record(
        SignInsEnded(user_id=user.pk, sign_ins=(), everything=True, keep=keep)
    )
    return len(ended)


def sign_in_logout(*, request: HttpRequest) -> None:
    """Browser logout: the session's sign-in ends (and its streams close)."""
    public_id = request.session.get(SIGN_IN_SESSION_KEY)
    user_id = request.session.get(SESSION_KEY)
    if not public_id or not user_id:
        return
    with transaction.atomic():
        sign_in = (
            SignIn.objects.select_for_update()
            .filter(public_id=public_id, user_id=user_id, ended_at__isnull=True)
            .first()
        )
        if sign_in is None:
            return
        sign_in.ended_at = timezone.now()
        sign_in.end_reason = "logout"
        sign_in.save(update_fields=["ended_at", "end_reason"])
        events.record(SignInsEnded(user_id=int(user_id), sign_ins=(public_id,)))


def token_family_end(*, family: SignIn, reason: str) -> None:
    """A token family ends (API logout, reuse of a rotated token): inside the
    caller's transaction, with the family row locked."""
    if family.ended_at is not None:
        return
    _end([family], reason=reason)
    events.record(
        SignInsEnded(user_id=family.user_id, sign_ins=(str(family.public_id),))
    )


# --- Stream tickets ----------------------------------------------------------------


def _ticket_key(ticket: str) -> str:
    return TICKET_CACHE_PREFIX + hashlib.sha256(ticket.encode()).hexdigest()


def _sign_in_revoked() -> ApplicationError:
    return Unauthenticated(Code.TOKEN_INVALID, "This sign-in was ended; sign in again.")


# Sign-ins that are not SignIn rows, by prefix: an API key's "apikey:<key_id>".
# The app that owns them registers whether one still stands (its AppConfig.ready),
# so this app does not import it.
_SIGN_IN_KINDS: dict[str, Callable[..., bool]] = {}


def sign_in_kind_register(*, prefix: str, live: Callable[..., bool]) -> None:
    """`live(user_id=..., sign_in=...)` says whether such a sign-in still stands;
    ending one is recording `SignInsEnded` with it, as for any other."""
    _SIGN_IN_KINDS[prefix] = live


def _sign_in_live(*, user: User, sign_in: str) -> bool:
    for prefix, live in _SIGN_IN_KINDS.items():
        if sign_in.startswith(prefix):
            return live(user_id=user.pk, sign_in=sign_in)
    return SignIn.objects.filter(
        public_id=sign_in, user=user, ended_at__isnull=True
    ).exists()


def stream_ticket_issue(*, user: User, sign_in: str | None) -> StreamTicket:
    """A single-use ticket for /ws/user/, valid STREAM_TICKET_SECONDS, bound to
    the user and to the sign-in (token family, browser session or API key)
    asking."""
    if sign_in is not None and not _sign_in_live(user=user, sign_in=sign_in):
        raise _sign_in_revoked()
    ticket = secrets.token_urlsafe(32)
    seconds = settings.STREAM_TICKET_SECONDS
    cache.set(
        _ticket_key(ticket),
        {"user_id": user.pk, "sign_in": sign_in, "ver": user.token_version},
        timeout=seconds,
    )
    return StreamTicket(ticket=ticket, expires_in=seconds)


def stream_ticket_redeem(*, ticket: str) -> StreamGrant | None:
    """The grant of an unexpired, unused ticket whose user and sign-in are still
    live; the ticket is used up whatever the outcome. None otherwise."""
    if not isinstance(ticket, str) or not 20 <= len(ticket) <= 128:
        return None
    key = _ticket_key(ticket)
    data = cache.get(key)
    # Only one of two racing redemptions deletes the key.
    if data is None or not cache.delete(key):
        return None
    user = User.objects.filter(pk=data["user_id"]).first()
    if user is None or not user.is_active or user.token_version != data["ver"]:
        return None
    sign_in = data["sign_in"]
    if sign_in is not None and not _sign_in_live(user=user, sign_in=sign_in):
        return None
    return StreamGrant(user_id=user.pk, sign_in=sign_in)
