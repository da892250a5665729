from django.urls import path

from marketdata import views

app_name = "marketdata"

urlpatterns = [
    path("markets/", views.markets, name="markets"),
    path("trade/<str:symbol>/", views.trade, name="trade"),
]
