from django.urls import path

from trading import views

app_name = "trading"

urlpatterns = [
    path("orders/", views.orders, name="orders"),
    path("orders/<int:order_id>/cancel/", views.order_cancel_submit, name="cancel"),
    path("orders.csv", views.orders_csv, name="orders-csv"),
    path("fills/", views.fills, name="fills"),
    path("fills.csv", views.fills_csv, name="fills-csv"),
    path("portfolio/", views.portfolio, name="portfolio"),
]
