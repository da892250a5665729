"""Object-level access matrix, generated from the URLconf (docs/api-edges.md,
"Object-level access").

Every route outside the admin whose URL carries an argument is found by walking
`get_resolver()`. Each one is either listed in `PUBLIC` with the reason it shows
the same thing to everyone, or has a factory in `FACTORIES` that makes user A's
object through the real services and returns the URL's kwargs. The URL is then
requested as B (another verified user) and anonymously, with GET and with every
other method the view allows (read from the view), and:

- B gets 404 (an allowed method) or 405 (a method the view does not have): never
  anything that tells A's object exists;
- anonymous gets 401 under /api/ and a redirect to the login page elsewhere
  (`ANONYMOUS_404` lists the views that answer 404 to everyone not allowed, and why);
- no answer carries A's identifying values (email, name, the object's own values);
- afterwards A's object is as it was, no ledger balance moved, `verify_ledger`'s
  checks pass.

A new route with an argument and no factory fails `test_every_object_route_is_
covered` by name, so a new endpoint is in the matrix without anyone remembering.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.forms.models import model_to_dict
from django.test import Client
from django.urls import (
    URLPattern,
    URLResolver,
    get_resolver,
    include,
    path,
    resolve,
    reverse,
)
from PIL import Image
from rest_framework.test import APIClient

from accounts.models import User
from accounts.testing import api_client_for, make_user
from kyc import services as kyc_services
from kyc.models import KycDocument
from kyc.testing import make_verified_user
from trading.models import Instrument, Order
from trading.services import order_place
from trading.tests.helpers import fund, make_btc_usd
from wallet import services as wallet_services
from wallet.models import Account, BalanceAlert, Beneficiary, Deposit, Withdrawal
from wallet.tests.helpers import DESTINATIONS, make_beneficiary

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

# Routes with an argument that shows the same thing to every caller: nothing in
# them belongs to a user. Each with its reason.
PUBLIC = {
    "accounts:legal-document": "the terms of service and privacy notice in force",
    "api-market-depth": "market data: an instrument symbol's public order book",
    "api-market-trades": "market data: an instrument's public trade tape",
    "api-market-ticker": "market data: an instrument's public 24h ticker",
    "api-market-candles": "market data: an instrument's public candles",
    "marketdata:trade": "the public trade screen of an instrument symbol",
    "accounts:password-reset-confirm": (
        "the argument is an emailed reset link's user id and token, not an object "
        "to guard: the token is the auth (accounts/tests/test_recovery.py)"
    ),
    "accounts:email-verify": (
        "the argument is an emailed, signed verification token, not an object id: "
        "the signature is the auth (accounts/tests/test_email_verification.py)"
    ),
    "notifications:unsubscribe": (
        "the argument is an emailed, signed unsubscribe token naming the user and "
        "the event type, not an object id: the signature is the auth (RFC 8058 "
        "one-click; notifications/tests/test_api_pages.py)"
    ),
    "api-wallet-webhook": (
        "names a payment provider, not an object; providers call it unauthenticated "
        "and the body's signature is the auth (wallet/tests/test_api.py)"
    ),
    "api-wallet-payout-webhook": (
        "names a payout rail, not an object; the rail calls it unauthenticated and "
        "the body's signature is the auth (wallet/tests/test_payment_rails.py)"
    ),
}

# Views that answer 404 to anonymous callers too, so that nobody who may not see
# the object learns whether it exists (documented in the OpenAPI description).
ANONYMOUS_404 = {
    "api-kyc-document-file": "the owner or a reviewer with 2FA; anyone else a 404",
    "kyc:document-file": "the owner or a reviewer with 2FA; anyone else a 404",
}

# Routes whose argument is a key inside the caller's own data, not an object id:
# B's request acts on B's own row (B's PUT sets B's alert). Statuses are B's own
# business there; A's row must still be untouched and unseen.
CALLER_SCOPED = {
    "api-wallet-alert": "the asset code of the caller's own balance alert",
    "api-watchlist-entry": "a symbol on the caller's own watchlist",
}


@dataclass
class World:
    owner: User  # A
    other: User  # B
    instrument: Instrument


@dataclass
class Made:
    """A's object: the URL kwargs, what must never reach B or anonymous, how to
    read the object back, and a body per method that passes validation (so the
    view gets as far as looking the object up)."""

    kwargs: dict[str, Any]
    secrets: list[str]
    state: Callable[[], Any]
    bodies: dict[str, dict] = field(default_factory=dict)
    owner: User | None = None  # when not the world's A


FACTORIES: dict[str, Callable[[World], Made]] = {}


def factory(*names: str):
    def register(function: Callable[[World], Made]):
        for name in names:
            assert name not in FACTORIES, name
            FACTORIES[name] = function
        return function

    return register


def _row(model, pk: int) -> dict | None:
    """The row as a dict (None once deleted)."""
    obj = model.objects.filter(pk=pk).first()
    return None if obj is None else model_to_dict(obj)


def _owner_secrets(user: User) -> list[str]:
    return [user.email, user.full_name]


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (24, 16), (200, 30, 90)).save(out, format="PNG")
    return out.getvalue()


@factory("api-kyc-document", "api-kyc-document-file", "kyc:document-file")
def _kyc_document(world: World) -> Made:
    # A draft document (one its owner could still delete) of a user whose KYC is
    # not submitted yet: A's approved documents are locked even for A.
    owner = make_user(email="kyc-owner-a@example.com", full_name="Kyc Owner Alpha")
    kyc_services.kyc_profile_update(
        user=owner,
        legal_name="Kyc Owner Alpha",
        date_of_birth=date(1991, 2, 3),
        country="IN",
        address_line1="7 Hidden Lane",
        city="Pune",
        postal_code="411001",
        id_type="pan",
        id_number="QWERT1234Z",
    )
    document = kyc_services.kyc_document_upload(
        user=owner,
        doc_type="pan_card",
        uploaded=SimpleUploadedFile("alpha-secret-pan.png", _png()),
    )
    return Made(
        kwargs={"document_id": document.pk},
        secrets=[*_owner_secrets(owner), "alpha-secret-pan", document.sha256],
        state=lambda: _row(KycDocument, document.pk),
        owner=owner,
    )


@factory(
    "api-wallet-beneficiary",
    "api-wallet-beneficiary-confirm",
    "api-wallet-beneficiary-resend",
    "wallet:beneficiary-confirm",
    "wallet:beneficiary-resend",
    "wallet:beneficiary-remove",
)
def _beneficiary(world: World) -> Made:
    # Pending: the state every one of these routes can act on.
    beneficiary = wallet_services.beneficiary_add(
        user=world.owner,
        rail="upi",
        destination=DESTINATIONS["upi"],
        label="Alpha secret savings",
    )
    token = wallet_services.beneficiary_link_token(beneficiary=beneficiary)
    return Made(
        kwargs={"pk": beneficiary.pk},
        secrets=[
            *_owner_secrets(world.owner),
            "Alpha secret savings",
            beneficiary.destination,
        ],
        state=lambda: _row(Beneficiary, beneficiary.pk),
        bodies={"POST": {"token": token}},
    )


def _notification_made(world: World, key: str) -> tuple[int, Made]:
    from notifications.models import Notification
    from notifications.services import Draft, notify

    [item] = notify(
        drafts=[
            Draft(
                user_id=world.owner.pk,
                event_type="transfer_received",
                key=key,
                title="Alpha received 12.34 USD",
                body="alpha-secret-sender@example.com sent you 12.34 USD.",
            )
        ]
    )
    return item.pk, Made(
        kwargs={},
        secrets=[*_owner_secrets(world.owner), "alpha-secret-sender@example.com"],
        state=lambda: _row(Notification, item.pk),
    )


@factory("api-notification-read")
def _notification_api(world: World) -> Made:
    pk, made = _notification_made(world, "access-matrix:api")
    made.kwargs = {"pk": pk}
    return made


@factory("notifications:read")
def _notification_page(world: World) -> Made:
    pk, made = _notification_made(world, "access-matrix:page")
    made.kwargs = {"notification_id": pk}
    return made


@factory("wallet:beneficiary-confirm-link")
def _beneficiary_link(world: World) -> Made:
    made = _beneficiary(world)
    pk = made.kwargs["pk"]
    beneficiary = Beneficiary.objects.get(pk=pk)
    token = wallet_services.beneficiary_link_token(beneficiary=beneficiary)
    return Made(kwargs={"token": token}, secrets=made.secrets, state=made.state)


@factory("api-wallet-withdrawal-cancel", "wallet:withdrawal-cancel")
def _withdrawal(world: World) -> Made:
    usd = world.instrument.quote
    beneficiary = make_beneficiary(world.owner, label="Alpha payout account")
    withdrawal = wallet_services.withdrawal_request(
        user=world.owner, asset=usd, amount=123_457, beneficiary=beneficiary
    )
    return Made(
        kwargs={"pk": withdrawal.pk},
        secrets=[
            *_owner_secrets(world.owner),
            "1234.57",
            "Alpha payout account",
            beneficiary.destination,
        ],
        state=lambda: _row(Withdrawal, withdrawal.pk),
    )


@factory("api-order", "api-order-by-client-id", "trading:cancel")
def _order(world: World) -> Made:
    order, _ = order_place(
        user=world.owner,
        symbol=world.instrument.symbol,
        side=Order.Side.BUY,
        price="1234.00",
        quantity="0.37",
        client_order_id="alpha-secret-coid",
    )
    return Made(
        kwargs={"order_id": order.pk, "client_order_id": "alpha-secret-coid"},
        secrets=[*_owner_secrets(world.owner), "alpha-secret-coid", "1234.00", "0.37"],
        state=lambda: (_row(Order, order.pk), list(order.commands.values())),
        bodies={"PATCH": {"quantity": "0.20"}},
    )


@factory("wallet:sandbox-checkout")
def _deposit(world: World) -> Made:
    deposit = wallet_services.deposit_create(
        user=world.owner, asset=world.instrument.quote, amount=765_432
    )
    return Made(
        kwargs={"reference": deposit.provider_reference},
        secrets=[*_owner_secrets(world.owner), "7654.32"],
        state=lambda: _row(Deposit, deposit.pk),
        bodies={"POST": {"action": "pay"}},
    )


@factory("api-wallet-alert")
def _alert(world: World) -> Made:
    alert = wallet_services.balance_alert_set(
        user=world.owner, asset=world.instrument.quote, minimum=4_242_421
    )
    return Made(
        kwargs={"asset": "USD"},
        secrets=[*_owner_secrets(world.owner), "42424.21"],
        state=lambda: _row(BalanceAlert, alert.pk),
        bodies={"PUT": {"minimum": "5.00"}},
    )


@factory("api-watchlist-entry")
def _watchlist_entry(world: World) -> Made:
    from trading.models import WatchlistEntry
    from trading.services import watchlist_add

    entry, _ = watchlist_add(user=world.owner, instrument=world.instrument)
    return Made(
        kwargs={"symbol": world.instrument.symbol},
        secrets=_owner_secrets(world.owner),
        state=lambda: _row(WatchlistEntry, entry.pk),
    )


@factory("api-price-alert")
def _price_alert(world: World) -> Made:
    from trading.models import PriceAlert
    from trading.services import price_alert_create

    alert = price_alert_create(
        user=world.owner,
        instrument=world.instrument,
        condition="below",
        price="4321.00",
        repeating=True,
        cooldown_seconds=4321,
    )
    return Made(
        kwargs={"alert_id": alert.pk},
        secrets=[*_owner_secrets(world.owner), "4321.00", "4321"],
        state=lambda: _row(PriceAlert, alert.pk),
        bodies={"PATCH": {"price": "5.00"}},
    )


@factory("api-session-end")
def _sign_in(world: World) -> Made:
    from accounts.models import SignIn
    from accounts.services import RequestMeta, sign_in_api_start

    sign_in = sign_in_api_start(
        user=world.owner,
        meta=RequestMeta(ip_address="203.0.113.42", user_agent="Alpha secret agent"),
        notify=False,
    )
    return Made(
        kwargs={"public_id": str(sign_in.public_id)},
        secrets=[*_owner_secrets(world.owner), "203.0.113.42", "Alpha secret agent"],
        state=lambda: _row(SignIn, sign_in.pk),
    )


@factory("api-passkey", "api-passkey-remove")
def _passkey(world: World) -> Made:
    from django_otp_webauthn.models import WebAuthnCredential

    # registration is a browser ceremony (accounts/tests/test_factors_browser.py);
    # the row alone is what these routes act on
    passkey = WebAuthnCredential.objects.create(
        user=world.owner,
        name="Alpha secret yubikey",
        credential_id=b"alpha-credential-id",
        public_key=b"alpha-public-key",
        sign_count=0,
        confirmed=True,
    )
    return Made(
        kwargs={"passkey_id": passkey.pk},
        secrets=[*_owner_secrets(world.owner), "Alpha secret yubikey"],
        state=lambda: _row(WebAuthnCredential, passkey.pk),
        bodies={"PATCH": {"name": "Renamed"}, "POST": {"otp": "123456"}},
    )


@factory("api-devices-webpush-subscription")
def _webpush_subscription(world: World) -> Made:
    from devices.models import WebPushSubscription

    subscription = WebPushSubscription.objects.create(
        user=world.owner,
        endpoint="https://fcm.googleapis.com/fcm/send/alpha-secret-endpoint",
        p256dh="BAlphaSecretKey",
        auth="alpha-auth",
        browser="Alpha secret browser",
    )
    return Made(
        kwargs={"subscription_id": subscription.pk},
        secrets=[*_owner_secrets(world.owner), "Alpha secret browser"],
        state=lambda: _row(WebPushSubscription, subscription.pk),
    )


@factory("api-devices-mobile-device")
def _mobile_device(world: World) -> Made:
    from devices.models import MobileDevice
    from devices.services import mobile_device_register

    device, _ = mobile_device_register(
        user=world.owner,
        platform="fcm",
        token="alpha-secret-push-token",
        name="Alpha secret phone",
    )
    return Made(
        kwargs={"device_id": device.pk},
        secrets=[*_owner_secrets(world.owner), "Alpha secret phone"],
        state=lambda: _row(MobileDevice, device.pk),
    )


@factory("api-key")
def _api_key(world: World) -> Made:
    from apikeys.models import ApiKey
    from apikeys.tests.conftest import make_key

    key, _ = make_key(
        world.owner, label="Alpha secret bot", ip_allowlist=["203.0.113.77"]
    )
    return Made(
        kwargs={"key_id": key.key_id},
        secrets=[*_owner_secrets(world.owner), "Alpha secret bot", "203.0.113.77"],
        state=lambda: _row(ApiKey, key.pk),
        bodies={"PATCH": {"label": "Renamed", "otp": "123456"}},
    )


# --- the URLconf ------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str
    route: str
    callback: Callable

    @property
    def api(self) -> bool:
        return self.route.startswith("api/")


def _walk(patterns, prefix: str = "", namespace: str | None = None):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = pattern.namespace
            if inner:
                inner = f"{namespace}:{inner}" if namespace else inner
            yield from _walk(
                pattern.url_patterns, prefix + str(pattern.pattern), inner or namespace
            )
        elif isinstance(pattern, URLPattern):
            name = pattern.name and (
                f"{namespace}:{pattern.name}" if namespace else pattern.name
            )
            yield Route(name or "", prefix + str(pattern.pattern), pattern.callback)


def object_routes() -> list[Route]:
    """Every route with a URL argument, the admin aside (staff only: its object
    URLs are checked below to send everyone else to the staff login)."""
    return [
        route
        for route in _walk(get_resolver().url_patterns)
        if "<" in route.route or "(?P<" in route.route
        if not route.route.startswith("admin/")
    ]


def allowed_methods(callback: Callable) -> set[str]:
    """The methods the view answers: a DRF or class-based view's handlers, or the
    list given to `require_http_methods` (`require_POST`, ...) somewhere in a
    function view's decorator chain; every method when nothing restricts it."""
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is not None:
        return {m for m in METHODS if hasattr(view_class, m.lower())}
    function: Callable[..., Any] | None = callback
    while function is not None:
        for cell in function.__closure__ or ():
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if (
                isinstance(value, list | tuple)
                and value
                and all(isinstance(v, str) and v in METHODS for v in value)
            ):
                return set(value)
        function = getattr(function, "__wrapped__", None)
    return set(METHODS)


def test_allowed_methods_are_read_from_the_views():
    routes = {route.name: route for route in object_routes()}
    assert allowed_methods(routes["api-order"].callback) == {"GET", "PATCH", "DELETE"}
    assert allowed_methods(routes["wallet:withdrawal-cancel"].callback) == {"POST"}
    assert allowed_methods(routes["wallet:sandbox-checkout"].callback) == {
        "GET",
        "POST",
    }
    assert allowed_methods(routes["api-kyc-document-file"].callback) == {"GET"}


def uncovered_routes() -> list[str]:
    """Routes with an argument that are neither public nor have a factory."""
    names = [route.name or route.route for route in object_routes()]
    return sorted(set(names) - set(PUBLIC) - set(FACTORIES))


def test_every_object_route_is_covered():
    # Given every route of the URLconf with an argument
    names = [route.name for route in object_routes()]
    assert "" not in names, "a route with an argument has no name"
    assert len(names) >= 20
    # Then each is public (with a reason) or has a factory making A's object
    missing = uncovered_routes()
    assert not missing, (
        f"routes with a URL argument and no access-matrix factory: {missing}. "
        "Add a factory to config/tests/test_object_access.py (docs/api-edges.md, "
        "'Object-level access'), or list the route in PUBLIC with a reason."
    )
    # and no entry names a route that is gone
    stale = sorted(
        (set(PUBLIC) | set(FACTORIES) | set(ANONYMOUS_404) | set(CALLER_SCOPED))
        - set(names)
    )
    assert not stale, f"entries for routes that no longer exist: {stale}"
    assert not set(PUBLIC) & set(FACTORIES)


def _stray_view(request, pk):  # pragma: no cover - never requested
    raise AssertionError


# The project's URLconf plus one new object route nobody wrote a factory for.
urlpatterns = [
    path("api/v1/widgets/<int:pk>", _stray_view, name="api-widget"),
    path("", include(get_resolver("config.urls").url_patterns)),
]


def test_a_new_object_route_without_a_factory_is_named(settings):
    # Given a URLconf with a new route taking an object id, and no factory for it
    settings.ROOT_URLCONF = __name__
    # Then the coverage check names it, and only it
    assert uncovered_routes() == ["api-widget"]


# Admin routes that answer 404 to everyone, staff included, whatever the object.
ADMIN_404 = {
    "admin/accounts/user/<path:object_id>/password/": (
        "staff never set passwords (accounts/admin/users.py)"
    ),
}


def _admin_routes() -> list[Route]:
    return [
        route
        for route in _walk(get_resolver().url_patterns)
        if route.route.startswith("admin/") and "<" in route.route
    ]


def test_the_admins_object_urls_send_users_and_anonymous_to_the_staff_login(db):
    # Given a verified trader and an anonymous visitor, and every admin URL with an
    # argument (an object id, an app label, a content type)
    trader = make_verified_user(email="trader-b@example.com")
    as_trader = Client()
    as_trader.force_login(trader, backend="accounts.backends.EmailBackend")
    routes = _admin_routes()
    assert len(routes) > 100
    assert set(ADMIN_404) <= {route.route for route in routes}  # none stale
    login = reverse("admin:login")
    for route in routes:
        url = _admin_url(route, trader.pk)
        assert resolve(url).func is route.callback, (route.route, url)
        # When they GET and POST it
        for client in (as_trader, Client()):
            for method in ("get", "post"):
                response = getattr(client, method)(url)
                # Then the admin sends them to its own login, before any lookup
                if route.route in ADMIN_404:
                    assert response.status_code == 404, (route.route, method)
                    continue
                assert response.status_code == 302, (route.route, url, method)
                assert response["Location"].startswith(f"{login}?next="), route.name


def _admin_url(route: Route, pk: int) -> str:
    """The route with each argument filled: a real user's id (the trader's own user
    row, the most tempting), an app label where the pattern wants one. Built from
    the pattern, since some admin routes have no name to reverse."""

    def value(match: re.Match) -> str:
        return "accounts" if match.group(1) == "app_label" else str(pk)

    url = re.sub(r"\(\?P<(\w+)>[^)]*\)", value, route.route)  # regex groups first
    url = re.sub(r"<(?:\w+:)?(\w+)>", value, url)
    return "/" + url.replace("^", "").replace("$", "")


# --- the matrix -------------------------------------------------------------------


@pytest.fixture
def world(db) -> World:
    instrument = make_btc_usd()
    owner = make_verified_user(email="owner-a@example.com", full_name="Owner Alpha")
    other = make_verified_user(email="other-b@example.com", full_name="Other Bravo")
    fund(owner, instrument.quote, 10_000_000)
    fund(other, instrument.quote, 10_000_000)
    return World(owner=owner, other=other, instrument=instrument)


def _balances() -> list[tuple[int, int]]:
    return list(Account.objects.order_by("pk").values_list("pk", "balance"))


def _request(client, method: str, url: str, body: dict | None, *, api: bool):
    send = getattr(client, method.lower())
    if api:
        return send(url, body, format="json") if body else send(url)
    if method in ("GET", "POST"):
        return send(url, body or {})
    return send(url)


def _visible(response) -> str:
    text = response.content.decode(errors="replace")
    return text + " " + response.get("Location", "")


def _leaks(response, secrets: list[str]) -> list[str]:
    text = _visible(response)
    return [secret for secret in secrets if secret and secret in text]


def _requests_in_matrix(route: Route) -> list[str]:
    """GET always; every other method the view allows."""
    allowed = allowed_methods(route.callback)
    return ["GET"] + [m for m in METHODS if m != "GET" and m in allowed]


OBJECT_ROUTES = sorted(
    route.name for route in object_routes() if route.name not in PUBLIC
)


@pytest.mark.parametrize("name", OBJECT_ROUTES)
def test_another_user_and_anonymous_cannot_see_or_change_the_object(world, name):
    route = next(r for r in object_routes() if r.name == name)
    assert name in FACTORIES, f"no access-matrix factory for {name}"
    # Given A's object, made through the services
    made = FACTORIES[name](world)
    kwargs = {
        key: value
        for key, value in made.kwargs.items()
        if f"<{key}>" in route.route or f":{key}>" in route.route
    }
    url = reverse(name, kwargs=kwargs)
    secrets = [secret for secret in made.secrets if secret not in url]
    before, balances_before = made.state(), _balances()
    assert before is not None
    allowed = allowed_methods(route.callback)
    login = reverse("accounts:login")

    if route.api:
        other, anonymous = api_client_for(world.other), APIClient()
    else:
        other, anonymous = Client(), Client()
        other.force_login(world.other, backend="accounts.backends.EmailBackend")

    # When B, then anonymous, try every method on it
    outcomes = []
    for method in _requests_in_matrix(route):
        body = made.bodies.get(method)
        as_other = _request(other, method, url, body, api=route.api)
        as_anonymous = _request(anonymous, method, url, body, api=route.api)
        outcomes.append((method, as_other.status_code, as_anonymous.status_code))

        # Then nobody learns anything of A's
        assert _leaks(as_other, secrets) == [], (name, method, "B")
        assert _leaks(as_anonymous, secrets) == [], (name, method, "anonymous")
        # B: the object does not exist for B (or the method does not)
        if name in CALLER_SCOPED:
            assert as_other.status_code < 500, (name, method, as_other.status_code)
        elif method in allowed:
            assert as_other.status_code == 404, (name, method, as_other.status_code)
        else:
            assert as_other.status_code == 405, (name, method, as_other.status_code)
        # anonymous: asked to authenticate
        if name in ANONYMOUS_404:
            assert as_anonymous.status_code == 404, (name, method)
        elif route.api:
            assert as_anonymous.status_code == 401, (name, method)
            assert as_anonymous.json()["error"]["code"] == "not_authenticated"
        else:
            assert as_anonymous.status_code == 302, (name, method)
            assert as_anonymous["Location"].startswith(f"{login}?next="), (name, method)

    # Then A's object, and every balance, are as they were
    assert made.state() == before, (name, outcomes)
    assert _balances() == balances_before, (name, outcomes)
    call_command("verify_ledger", stdout=io.StringIO())  # CommandError if not

    # And the same URL does reach the object for its owner (the kwargs are right:
    # B's 404 is not everyone's 404)
    owner = made.owner or world.owner
    if route.api:
        as_owner_client = api_client_for(owner)
    else:
        as_owner_client = Client()
        as_owner_client.force_login(owner, backend="accounts.backends.EmailBackend")
    method = "GET" if "GET" in allowed else sorted(allowed)[0]
    as_owner = _request(
        as_owner_client, method, url, made.bodies.get(method), api=route.api
    )
    assert as_owner.status_code not in (404, 405), (name, method, as_owner.status_code)


# --- objects named in a body ------------------------------------------------------
# The same rule where A's object is named in B's request body rather than its URL:
# the write endpoints that take an object id, a client order id or an idempotency
# key. Each is listed by hand (a body has no URLconf to walk).


def test_a_withdrawal_to_another_users_beneficiary_is_a_404(world):
    # Given A's confirmed beneficiary, past its cool-off
    beneficiary = make_beneficiary(world.owner, label="Alpha payout account")
    before = _balances()
    body = {"asset": "USD", "amount": "10.00", "beneficiary": beneficiary.pk}
    # When B asks for a withdrawal to it, through the API and the page
    api = api_client_for(world.other).post(
        "/api/v1/wallet/withdrawals", body, format="json", HTTP_IDEMPOTENCY_KEY="w-1"
    )
    page_client = Client()
    page_client.force_login(world.other, backend="accounts.backends.EmailBackend")
    page = page_client.post(reverse("wallet:withdraw"), body)
    # Then the API answers 404 naming the field, the page refuses the form, and
    # neither says anything of the beneficiary; nothing is withdrawn or held
    assert api.status_code == 404
    assert api.json()["error"]["code"] == "not_found"
    assert list(api.json()["error"]["details"]) == ["beneficiary"]
    assert page.status_code == 400
    for response in (api, page):
        assert _leaks(response, ["Alpha payout account", beneficiary.destination]) == []
    assert not Withdrawal.objects.exists()
    assert _balances() == before


def test_batch_cancel_of_another_users_orders_cancels_nothing(world):
    # Given A's open order
    made = _order(world)
    before = made.state()
    # When B names it in a batch cancel
    response = api_client_for(world.other).post(
        "/api/v1/orders/batch-cancel", {"ids": [made.kwargs["order_id"]]}, format="json"
    )
    # Then that item is a 404 like an id that does not exist, and the order is as it was
    assert response.status_code == 200
    [result] = response.json()["results"]
    assert result["id"] == made.kwargs["order_id"]
    assert result["status"] == 404
    assert result["error"]["code"] == "order_not_found"
    assert _leaks(response, made.secrets) == []
    assert made.state() == before


def test_another_users_client_order_id_places_a_new_order_and_replays_nothing(world):
    # Given A's order with a client order id
    made = _order(world)
    before = made.state()
    fund(world.other, world.instrument.quote, 10_000_000)
    # When B places an order with the same client order id
    response = api_client_for(world.other).post(
        "/api/v1/orders",
        {
            "symbol": "BTC-USD",
            "side": "buy",
            "type": "limit",
            "price": "1000.00",
            "quantity": "0.01",
            "client_order_id": "alpha-secret-coid",
        },
        format="json",
    )
    # Then B gets a new order of B's own, never A's
    assert response.status_code == 201, response.json()
    assert response.json()["id"] != made.kwargs["order_id"]
    assert Order.objects.get(pk=response.json()["id"]).user == world.other
    assert _leaks(response, ["1234.00", "0.37", world.owner.email]) == []
    assert made.state() == before


def test_another_users_idempotency_key_replays_nothing(world):
    # Given A's deposit made with an Idempotency-Key
    body, key = {"asset": "USD", "amount": "76.54"}, "shared-key"
    first = api_client_for(world.owner).post(
        "/api/v1/wallet/deposits",
        body,
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )
    assert first.status_code == 201, first.json()
    # When B sends the same key and the same body
    second = api_client_for(world.other).post(
        "/api/v1/wallet/deposits",
        body,
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )
    # Then B gets a deposit of B's own, not a replay of A's
    assert second.status_code == 201, second.json()
    assert second.json()["id"] != first.json()["id"]
    assert Deposit.objects.get(pk=second.json()["id"]).user == world.other
    assert Deposit.objects.get(pk=first.json()["id"]).user == world.owner
