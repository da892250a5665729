from django.urls import path

from marketdata.api import views, watchlist

urlpatterns = [
    path("markets", views.MarketListView.as_view(), name="api-markets"),
    path(
        "markets/<str:symbol>/depth", views.DepthView.as_view(), name="api-market-depth"
    ),
    path(
        "markets/<str:symbol>/trades",
        views.TradeListView.as_view(),
        name="api-market-trades",
    ),
    path(
        "markets/<str:symbol>/ticker",
        views.TickerView.as_view(),
        name="api-market-ticker",
    ),
    path(
        "markets/<str:symbol>/candles",
        views.CandleListView.as_view(),
        name="api-market-candles",
    ),
    path("events", views.EventListView.as_view(), name="api-events"),
    path("watchlist/", watchlist.WatchlistView.as_view(), name="api-watchlist"),
    path(
        "watchlist/<str:symbol>/",
        watchlist.WatchlistEntryView.as_view(),
        name="api-watchlist-entry",
    ),
]
