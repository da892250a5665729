from django.urls import path

from trading.api import alerts, reading, views

urlpatterns = [
    path("orders", views.OrderListCreateView.as_view(), name="api-orders"),
    path("orders/preview", views.OrderPreviewView.as_view(), name="api-orders-preview"),
    path(
        "trading/preferences",
        views.TradingPreferenceView.as_view(),
        name="api-trading-preferences",
    ),
    path("orders/batch", views.OrderBatchView.as_view(), name="api-orders-batch"),
    path("orders/oco", views.OrderOcoView.as_view(), name="api-orders-oco"),
    path(
        "orders/batch-cancel",
        views.OrderBatchCancelView.as_view(),
        name="api-orders-batch-cancel",
    ),
    path("orders/<int:order_id>", views.OrderDetailView.as_view(), name="api-order"),
    path(
        "orders/by-client-id/<str:client_order_id>",
        views.OrderByClientIdView.as_view(),
        name="api-order-by-client-id",
    ),
    path("fills", reading.FillListView.as_view(), name="api-fills"),
    path("portfolio", reading.PortfolioView.as_view(), name="api-portfolio"),
    path(
        "price-alerts",
        alerts.PriceAlertListCreateView.as_view(),
        name="api-price-alerts",
    ),
    path(
        "price-alerts/<int:alert_id>",
        alerts.PriceAlertDetailView.as_view(),
        name="api-price-alert",
    ),
]
