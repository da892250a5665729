"""The markets list and the trade screen render for anonymous and signed-in users;
unknown or closed markets are 404."""

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
import time_machine
from django.contrib.staticfiles import finders
from django.test import Client

from accounts.testing import make_user
from trading.models import Instrument
from trading.services import instrument_set_status
from trading.tests.helpers import make_btc_usd

pytestmark = pytest.mark.django_db


@pytest.fixture
def btc():
    return make_btc_usd()


def config_of(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="trade-config" type="application/json">')
    start = html.index(">", start) + 1
    return json.loads(html[start : html.index("</script>", start)])


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user, backend="accounts.backends.EmailBackend")
    return client


def test_markets_page_lists_instruments_for_anyone(btc):
    response = Client().get("/markets/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-symbol="BTC-USD"' in html
    assert 'href="/trade/BTC-USD/"' in html
    assert "js/markets.js" in html


def test_trade_page_anonymous_is_read_only(btc):
    response = Client().get("/trade/BTC-USD/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "data-trade-screen" in html
    assert "data-order-form" not in html
    assert "Log in to place orders" in html
    assert "/login/?next=/trade/BTC-USD/" in html or "next=/trade/BTC-USD/" in html
    assert "vendor/lightweight-charts/lightweight-charts.standalone.production.js" in (
        html
    )
    config = config_of(response)
    assert config == {
        "symbol": "BTC-USD",
        "base": "BTC",
        "quote": "USD",
        "baseDecimals": 8,
        "quoteDecimals": 2,
        "tickSize": "1.00",
        "lotSize": "0.01000000",
        "minQuantity": "0.00000000",
        "minNotional": "0.00",
        "makerFeeBps": 10,
        "takerFeeBps": 20,
        "feePolicy": "received",
        "status": "trading",
        "statusReason": "",
        "session": {
            "phase": "continuous",
            "next_phase": None,
            "next_at": None,
            "halted": False,
        },
        "phaseWords": {
            "pre_open": "Pre-open",
            "opening_auction": "Opening auction",
            "continuous": "Continuous trading",
            "volatility_auction": "Volatility auction",
            "pre_close": "Pre-close",
            "closing_auction": "Closing auction",
            "closed": "Closed",
        },
        "timeZone": "",
        "defaultInterval": "1h",
        "authenticated": False,
        "csrfToken": "",
        "intervals": ["1m", "5m", "15m", "1h", "4h", "1d", "1w"],
        "api": "/api/v1",
    }


def test_trade_page_signed_in_has_the_form_and_a_csrf_token(btc):
    client = logged_in(make_user(email="trader@example.com"))
    response = client.get("/trade/btc-usd/")  # any case
    assert response.status_code == 200
    html = response.content.decode()
    assert "data-order-form" in html
    assert "data-orders" in html and "data-fills" in html
    config = config_of(response)
    assert config["authenticated"] is True
    assert len(config["csrfToken"]) >= 32
    assert 'href="/markets/"' in html  # nav link
    # the review step, its preference, the shortcuts help, the depth chart
    assert "data-review" in html and "data-skip-review" in html
    assert "data-help" in html and "data-depth-canvas" in html
    assert "css/trade.css" in html


def test_trade_page_passes_the_users_time_zone(btc):
    user = make_user(email="zoned@example.com")
    user.time_zone = "Asia/Kolkata"
    user.save(update_fields=["time_zone"])
    response = logged_in(user).get("/trade/BTC-USD/")
    assert config_of(response)["timeZone"] == "Asia/Kolkata"


def test_unknown_and_closed_markets_are_404(btc):
    assert Client().get("/trade/DOGE-USD/").status_code == 404
    instrument_set_status(
        instrument=btc, status=Instrument.Status.CLOSED, reason="delisted"
    )
    assert Client().get("/trade/BTC-USD/").status_code == 404
    assert 'data-symbol="BTC-USD"' not in Client().get("/markets/").content.decode()


def test_halted_market_still_renders_with_its_status(btc):
    instrument_set_status(
        instrument=btc, status=Instrument.Status.HALTED, reason="maintenance"
    )
    response = Client().get("/trade/BTC-USD/")
    assert response.status_code == 200
    assert config_of(response)["status"] == "halted"
    assert config_of(response)["statusReason"] == "maintenance"
    html = response.content.decode()
    assert "Trading in BTC-USD is halted: maintenance." in html


def test_plain_continuous_market_shows_no_phase_badge(btc):
    response = Client().get("/trade/BTC-USD/")
    html = response.content.decode()
    assert config_of(response)["session"] == {
        "phase": "continuous",
        "next_phase": None,
        "next_at": None,
        "halted": False,
    }
    assert 'data-phase="continuous" hidden>Continuous trading</span>' in html


def test_calendar_market_shows_its_phase_and_next_transition_in_the_users_zone(btc):
    # Given a Kolkata calendar instrument whose session is in pre-open
    # (the matcher's run at 03:32 UTC entered it)
    from calendars.services import instrument_calendar_set
    from calendars.tests.helpers import utc
    from trading.services import matching_run
    from trading.tests.test_sessions_matching import make_kolkata

    instrument_calendar_set(
        instrument=btc,
        calendar=make_kolkata(),
        acting_user=None,
        volatility_band_bps=0,
        volatility_call_seconds=120,
        volatility_random_seconds=0,
    )
    matching_run(instrument_id=btc.pk, now=utc(2026, 12, 8, 3, 32))
    user = make_user(email="mumbai@example.com")
    user.time_zone = "Asia/Kolkata"
    user.save(update_fields=["time_zone"])
    # When the trade screen is opened by a user in Kolkata
    with time_machine.travel(utc(2026, 12, 8, 3, 33), tick=False):
        response = logged_in(user).get("/trade/BTC-USD/")
    # Then the badge names the phase, and the next transition is shown at its
    # local time (09:08 IST is 03:38 UTC); the script gets the same session
    html = response.content.decode()
    badge = '<span class="badge ts-phase" data-phase-badge data-phase="pre_open">'
    assert badge + "Pre-open</span>" in html
    assert (
        'Opening auction <span data-session-countdown></span> at <time class="mono"'
        ' data-session-next-at datetime="2026-12-08T09:08:00+05:30">09:08:00 IST'
        "</time>"
    ) in html
    assert config_of(response)["session"] == {
        "phase": "pre_open",
        "next_phase": "opening_auction",
        "next_at": "2026-12-08T03:38:00Z",
        "halted": False,
    }
    assert config_of(response)["phaseWords"]["volatility_auction"] == (
        "Volatility auction"
    )
    # and the indicative price's place is there for the stream to fill
    assert "data-indicative hidden" in html
    assert "data-indicative-none hidden" in html


def test_session_authenticated_api_call_needs_the_csrf_header(btc):
    """The page's JavaScript calls the same API with the session cookie; a write
    without the CSRF header is refused."""
    user = make_user(email="trader@example.com")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user, backend="accounts.backends.EmailBackend")
    assert client.get("/api/v1/orders").status_code == 200
    body = {"symbol": "BTC-USD", "side": "buy", "price": "100", "quantity": "0.01"}
    refused = client.post("/api/v1/orders", body, content_type="application/json")
    assert refused.status_code == 403
    token = config_of(client.get("/trade/BTC-USD/"))["csrfToken"]
    allowed = client.post(
        "/api/v1/orders",
        body,
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    # past CSRF: now the order rules speak (this user has no KYC)
    assert allowed.status_code == 403
    assert allowed.json()["error"]["code"] == "kyc_required"


class _FormParts(HTMLParser):
    """The order form's labels, inputs, options and error slots."""

    def __init__(self) -> None:
        super().__init__()
        self.label_for: set[str] = set()
        self.inputs: dict[str, dict[str, str]] = {}
        self.options: set[str] = set()
        self.errors: set[str] = set()
        self.headers: list[str] = []
        self._th = False

    def handle_starttag(self, tag, attrs):
        a = {k: v or "" for k, v in attrs}
        if tag == "label" and a.get("for"):
            self.label_for.add(a["for"])
        if tag in ("input", "select") and a.get("id"):
            self.inputs[a["id"]] = a
        if tag == "option":
            self.options.add(a.get("value", ""))
        if "data-error" in a:
            self.errors.add(a["data-error"])
        self._th = tag == "th"

    def handle_endtag(self, tag):
        if tag == "th":
            self._th = False

    def handle_data(self, data):
        if self._th and data.strip():
            self.headers.append(data.strip())


def test_order_form_has_oco_trailing_and_good_till_date_inputs_labelled(btc):
    """Issue 22 on the screen: every new input has its label, the API's field
    names have an error slot next to their input, and the open orders show the
    stop, the trail and the expiry."""
    user = make_user(email="trader@example.com")
    user.time_zone = "Europe/Paris"
    user.save(update_fields=["time_zone"])
    html = logged_in(user).get("/trade/BTC-USD/").content.decode()
    parts = _FormParts()
    parts.feed(html)
    new_inputs = {
        "of-stop-mode": "stop_mode",
        "of-trail-amount": "trailing_amount",
        "of-trail-percent": "trailing_percent",
        "of-stop-limit": "stop_limit_price",
        "of-expire": "expire_at_local",
    }
    for input_id, name in new_inputs.items():
        assert input_id in parts.inputs, input_id
        assert parts.inputs[input_id]["name"] == name
        assert input_id in parts.label_for, f"{input_id} has no label"
    assert parts.inputs["of-expire"]["type"] == "datetime-local"
    assert {"oco", "gtd", "price", "amount", "percent"} <= parts.options
    # the API's names (trailing_bps, expire_at) are shown under their inputs
    assert {
        "stop_price",
        "trailing_amount",
        "trailing_bps",
        "stop_limit_price",
        "expire_at",
        "price",
        "quantity",
    } <= parts.errors
    assert "Trail by (%)" in html
    assert "Stop-limit price (USD, optional)" in html
    assert "Good till (<span data-zone-name>Europe/Paris</span>)" in html
    assert "OCO (limit + stop)" in html and "Good till date" in html
    for header in ("Price", "Stop", "Quantity", "Filled", "Expires", "Status"):
        assert header in parts.headers


def test_the_day_time_in_force_is_offered_only_on_a_market_with_a_calendar(btc):
    """DAY ends at the session's close: a market without a calendar has none,
    so the form does not offer it (the API would refuse it, 400)."""
    from calendars.services import instrument_calendar_set
    from calendars.tests.helpers import make_berlin

    client = logged_in(make_user(email="trader@example.com"))
    parts = _FormParts()
    parts.feed(client.get("/trade/BTC-USD/").content.decode())
    assert "day" not in parts.options
    instrument_calendar_set(
        instrument=btc,
        calendar=make_berlin(),
        acting_user=None,
        volatility_band_bps=0,
        volatility_call_seconds=120,
        volatility_random_seconds=0,
    )
    html = client.get("/trade/BTC-USD/").content.decode()
    parts = _FormParts()
    parts.feed(html)
    assert {"gtc", "ioc", "fok", "gtd", "day"} <= parts.options
    assert '<option value="day">Day (until the close)</option>' in html


def test_trade_scripts_are_served_with_the_new_order_paths(btc):
    """The page's scripts are static files the page names; trade.js posts an
    OCO to its own endpoint and sends the trail and the expiry."""
    html = logged_in(make_user(email="trader@example.com")).get("/trade/BTC-USD/")
    page = html.content.decode()
    for name in ("js/trade-decimal.js", "js/trade.js"):
        assert f"/static/{name}" in page
        assert finders.find(name)
    script = Path(finders.find("js/trade.js")).read_text()
    for needle in ('"/orders/oco"', "trailing_bps", "expire_at", "oco_partner_id"):
        assert needle in script


NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="needs node")
@pytest.mark.django_db(False)
def test_trade_decimal_percent_trail_and_zone_arithmetic_in_node():
    """The form's exact conversions (static/js/trade-decimal.js), run as the
    browser runs them: % to basis points, where a trail starts (the engine's
    rounding), and the expiry's wall time in the user's zone to ISO 8601."""
    script = """
const D = require(process.argv[1]);
const out = {
  bps: ["1.5", "0.01", "12", "1.234", "-1", ""].map((t) => {
    const v = D.bpsFromPercent(t); return v === null ? null : String(v); }),
  sellPct: String(D.trailStop("sell", 9870000n, 100n, null, 150n)),
  buyAmount: String(D.trailStop("buy", 9870000n, 100n, 5000n, null)),
  tooFar: D.trailStop("sell", 500n, 100n, 500n, null),
  paris: D.zonedToIso("2026-12-08T15:00", "Europe/Paris"),
  summer: D.zonedToIso("2026-07-08T15:00", "Europe/Paris"),
  kolkata: D.zonedToIso("2026-12-08T15:00", "Asia/Kolkata"),
  saoPaulo: D.zonedToIso("2026-12-08T09:30", "America/Sao_Paulo"),
  bad: D.zonedToIso("tomorrow", "UTC"),
  local: D.localInput(Date.UTC(2026, 11, 8, 23, 30), "Asia/Kolkata"),
};
console.log(JSON.stringify(out));
"""
    source = str(Path(finders.find("js/trade-decimal.js")))
    done = subprocess.run(
        [NODE, "-e", script, source],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert json.loads(done.stdout) == {
        "bps": ["150", "1", "1200", None, None, None],
        # 98,700.00 - ceil(98,700 x 150 / 10,000 = 1,480.5) = 97,219.00
        "sellPct": "9721900",
        "buyAmount": "9875000",
        "tooFar": None,
        "paris": "2026-12-08T15:00:00+01:00",
        "summer": "2026-07-08T15:00:00+02:00",
        "kolkata": "2026-12-08T15:00:00+05:30",
        "saoPaulo": "2026-12-08T09:30:00-03:00",
        "bad": None,
        "local": "2026-12-09T05:00",
    }


def test_orders_page_labels_oco_legs_trailing_stops_and_expiry(btc):
    """/trading/orders/ names the new kinds in its type column: the OCO legs
    point at each other, a trailing stop says so, a GTD order shows its time
    (in the user's zone). Orders placed and matched through the services."""
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from kyc.testing import make_verified_user
    from trading.services import order_place, order_place_oco
    from trading.tests.helpers import fund, match

    alice = make_verified_user(email="alice-orders@example.com")
    alice.time_zone = "Asia/Kolkata"
    alice.save(update_fields=["time_zone"])
    bob = make_verified_user(email="bob-orders@example.com")
    fund(alice, btc.base, 10**8)
    fund(bob, btc.quote, 1_000_000)
    # a last price (100.00) for the trailing stop to start from
    order_place(user=alice, symbol="BTC-USD", side="sell", price="100", quantity="0.01")
    order_place(user=bob, symbol="BTC-USD", side="buy", price="100", quantity="0.01")
    match(btc)
    (limit, stop), _ = order_place_oco(
        user=alice,
        symbol="BTC-USD",
        side="sell",
        quantity="0.01",
        price="120",
        stop_price="90",
    )
    until = (datetime.now(ZoneInfo("Asia/Kolkata")) + timedelta(days=2)).replace(
        hour=9, minute=15, second=0, microsecond=0
    )
    trailing, _ = order_place(
        user=alice,
        symbol="BTC-USD",
        side="sell",
        type="stop_market",
        quantity="0.01",
        trailing_bps=250,
        time_in_force="gtd",
        expire_at=until.isoformat(),
    )
    match(btc)
    html = logged_in(alice).get("/trading/orders/").content.decode()
    assert f"· OCO with #{stop.pk}" in html
    assert f"· OCO with #{limit.pk}" in html
    trailing.refresh_from_db()
    assert trailing.status == "open" and trailing.stop_price_ticks == 97
    assert "Stop market · trailing (stop 97.00)" in html
    assert "· good till <time" in html
    assert f"{until.strftime('%Y-%m-%d %H:%M')} IST</time>" in html
