"""Browser pages of trading: my orders (with cancel), my fills, my portfolio.
Thin: selectors read, `order_cancel` writes, the numbers are the API's."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.http import AuthenticatedHttpRequest
from config.errors import ApplicationError, http_status
from config.page_messages import page_message
from trading import services
from trading.api.serializers import average_price
from trading.exports import csv_response, fill_rows, order_rows, request_zone
from trading.fees import order_fee_asset
from trading.forms import FillFilterForm, OrderFilterForm, PortfolioQuoteForm
from trading.models import Order
from trading.portfolio import portfolio_as_dict
from trading.selectors import fill_list_filtered, order_list, portfolio_get
from trading.units import lots_to_quantity, quote_str, ticks_to_price
from wallet.models import Asset
from wallet.money import format_units

HISTORY_PAGE_SIZE = 25
FILLS_PAGE_SIZE = 50
DEFAULT_QUOTE = "USD"


def _keyset_page(request: HttpRequest, rows, size: int, url_name: str):
    """Newest first by id; `?before=<id>` is the next older page. Returns (page,
    next url, first-page url)."""
    before = request.GET.get("before", "")
    if before.isdigit():
        rows = rows.filter(pk__lt=int(before))
    page = list(rows.order_by("-id")[: size + 1])
    query = request.GET.copy()
    query.pop("before", None)
    base = reverse(url_name)
    first_url = f"{base}?{query.urlencode()}" if before else ""
    next_url = ""
    if len(page) > size:
        page = page[:size]
        query["before"] = str(page[-1].pk)
        next_url = f"{base}?{query.urlencode()}"
    return page, next_url, first_url


def _order_row(order: Order) -> dict:
    instrument = order.instrument
    fee_asset = order_fee_asset(order, instrument)
    fee = format_units(order.fees_paid, fee_asset.decimals)
    return {
        "order": order,
        "symbol": instrument.symbol,
        "price": ticks_to_price(instrument, order.price_ticks) or "market",
        "stop_price": ticks_to_price(instrument, order.stop_price_ticks),
        "quantity": lots_to_quantity(instrument, order.quantity_lots)
        or f"{quote_str(instrument, order.quote_quantity)} {instrument.quote.code}",
        "filled": lots_to_quantity(instrument, order.filled_lots),
        "remaining": lots_to_quantity(instrument, order.open_lots),
        "average_price": average_price(order),
        "fee": f"{fee} {fee_asset.code}",
    }


def _my_orders(request: AuthenticatedHttpRequest, form: OrderFilterForm):
    filters = form.cleaned_data if form.is_valid() else {}
    mine = order_list(user=request.user)
    if filters.get("symbol"):
        mine = mine.filter(instrument__symbol=filters["symbol"])
    if filters.get("status"):
        mine = mine.filter(status=filters["status"])
    return mine


@login_required
def orders(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = OrderFilterForm(request.GET or None)
    mine = _my_orders(request, form)
    open_orders = mine.filter(status__in=Order.OPEN_STATUSES).order_by("-id")
    history, next_url, first_url = _keyset_page(
        request,
        mine.filter(status__in=Order.FINAL_STATUSES),
        HISTORY_PAGE_SIZE,
        "trading:orders",
    )
    context = {
        "form": form,
        "open_rows": [_order_row(order) for order in open_orders],
        "history_rows": [_order_row(order) for order in history],
        "next_url": next_url,
        "first_url": first_url,
        "csv_url": _csv_url(request, "trading:orders-csv"),
    }
    return render(request, "trading/orders.html", context)


def _csv_url(request: HttpRequest, name: str) -> str:
    query = request.GET.copy()
    query.pop("before", None)
    return f"{reverse(name)}?{query.urlencode()}" if query else reverse(name)


@login_required
def orders_csv(request: AuthenticatedHttpRequest) -> StreamingHttpResponse:
    """Every order of mine the filters select (history and open), newest first."""
    form = OrderFilterForm(request.GET or None)
    rows = order_rows(_my_orders(request, form), zone=request_zone())
    return csv_response(rows, filename="orders.csv")


@login_required
@require_POST
def order_cancel_submit(
    request: AuthenticatedHttpRequest, order_id: int
) -> HttpResponse:
    """Cancel one of my orders; another user's order id is a 404."""
    try:
        order = services.order_cancel(user=request.user, order_id=order_id)
    except ApplicationError as exc:
        if http_status(exc) == 404:
            raise Http404 from exc
        messages.error(request, page_message(exc))
    else:
        order.refresh_from_db(fields=["status"])  # embedded mode matched already
        if order.is_open:
            messages.success(
                request, f"Cancel requested for order #{order.pk}; it will close soon."
            )
        else:
            messages.success(
                request, f"Order #{order.pk} is {order.get_status_display().lower()}."
            )
    return redirect("trading:orders")


def _day_start(day) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.get_current_timezone())


def _my_fills(request: AuthenticatedHttpRequest, form: FillFilterForm):
    data = form.cleaned_data if form.is_valid() else {}
    return fill_list_filtered(
        user=request.user,
        symbol=data.get("symbol") or None,
        side=data.get("side") or None,
        created_after=_day_start(data["date_from"]) if data.get("date_from") else None,
        created_before=(
            _day_start(data["date_to"] + timedelta(days=1))
            if data.get("date_to")
            else None
        ),
    )


@login_required
def fills_csv(request: AuthenticatedHttpRequest) -> StreamingHttpResponse:
    """Every fill of mine the filters select, newest first."""
    form = FillFilterForm(request.GET or None)
    rows = fill_rows(_my_fills(request, form), zone=request_zone())
    return csv_response(rows, filename="fills.csv")


@login_required
def fills(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = FillFilterForm(request.GET or None)
    rows = _my_fills(request, form)
    page, next_url, first_url = _keyset_page(
        request, rows, FILLS_PAGE_SIZE, "trading:fills"
    )
    context = {
        "form": form,
        "rows": [
            {
                "fill": fill,
                "price": ticks_to_price(fill.instrument, fill.price_ticks),
                "quantity": lots_to_quantity(fill.instrument, fill.quantity_lots),
                "quote_amount": quote_str(fill.instrument, fill.quote_amount),
                "fee": format_units(fill.fee, fill.fee_asset.decimals),
            }
            for fill in page
        ],
        "next_url": next_url,
        "first_url": first_url,
        "csv_url": _csv_url(request, "trading:fills-csv"),
    }
    return render(request, "trading/fills.html", context)


def _pct(pnl: str | None, value: str | None) -> str | None:
    """Unrealized P&L as a percentage of what the held units cost (value - P&L),
    2 places; None when either is unknown or the cost is not positive."""
    if pnl is None or value is None:
        return None
    cost = Decimal(value) - Decimal(pnl)
    if cost <= 0:
        return None
    ratio = Decimal(pnl) * 100 / cost
    return str(ratio.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _with_percentages(portfolio: dict) -> dict:
    for row in portfolio["assets"]:
        row["unrealized_pct"] = _pct(row["unrealized_pnl"], row["market_value"])
    totals = portfolio["totals"]
    priced = [
        row
        for row in portfolio["assets"]
        if row["unrealized_pnl"] is not None and row["market_value"] is not None
    ]
    held_value = sum((Decimal(row["market_value"]) for row in priced), Decimal(0))
    totals["unrealized_pct"] = _pct(
        totals["unrealized_pnl"], str(held_value) if priced else None
    )
    return portfolio


@login_required
def portfolio(request: AuthenticatedHttpRequest) -> HttpResponse:
    default: str | None = DEFAULT_QUOTE
    if not Asset.objects.filter(code=default).exists():
        default = Asset.objects.order_by("code").values_list("code", flat=True).first()
    form = PortfolioQuoteForm(request.GET if "quote" in request.GET else None)
    code = form.cleaned_data["quote"] if form.is_valid() else default
    if form.is_bound and not form.is_valid():
        messages.error(request, "Unknown asset; showing values in the default.")
    context: dict[str, object] = {"form": form, "portfolio": None}
    if code is not None:
        if not form.is_bound:
            form.initial["quote"] = code
        quote = Asset.objects.get(code=code)
        result, decimals = portfolio_get(user=request.user, quote=quote)
        context["portfolio"] = _with_percentages(
            portfolio_as_dict(result, decimals=decimals)
        )
    return render(request, "trading/portfolio.html", context)
