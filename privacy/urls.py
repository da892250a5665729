from django.urls import path

from privacy import views

app_name = "privacy"

urlpatterns = [
    path("account/privacy/", views.privacy, name="privacy"),
    path("account/privacy/export/", views.export, name="export"),
]
