from django.urls import path

from apikeys import views

app_name = "apikeys"
urlpatterns = [
    path("account/api-keys/", views.api_keys, name="api-keys"),
]
