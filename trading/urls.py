from django.urls import path

from trading import views

app_name = "trading"

urlpatterns = [
    path("orders/", views.orders, name="orders"),
    path("orders/<int:order_id>/cancel/", views.order_cancel_submit, name="cancel"),
    path("fills/", views.fills, name="fills"),
    path("portfolio/", views.portfolio, name="portfolio"),
]
