from django.urls import path

from devices import views

app_name = "devices"

urlpatterns = [
    path(
        "account/notification-channels/",
        views.channels,
        name="channels",
    ),
    path("sw.js", views.service_worker, name="service-worker"),
]
