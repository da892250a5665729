from django.urls import path

from privacy import api

urlpatterns = [
    path("me/export", api.DataExportView.as_view(), name="api-data-export"),
    path("me/close", api.AccountCloseView.as_view(), name="api-account-close"),
]
