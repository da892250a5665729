from django.urls import path

from apikeys.api import views

urlpatterns = [
    path("api-keys", views.ApiKeyListCreateView.as_view(), name="api-keys"),
    path("api-keys/<str:key_id>", views.ApiKeyDetailView.as_view(), name="api-key"),
]
