from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path
from django_otp.admin import OTPAdminSite
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)

from accounts.forms import StaffLoginForm
from accounts.views import home
from config.health import healthz, readyz
from config.views import metrics
from marketdata.views import asyncapi_document

# The back office is two-factor: staff need a verified OTP device for the admin.
admin.site.__class__ = OTPAdminSite
# One submit with email, password and a code (authenticator or backup code).
admin.site.login_form = StaffLoginForm
admin.site.login_template = "admin/staff_login.html"
admin.site.site_header = "Exchange back office"
admin.site.site_title = "Exchange back office"


def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """Browsers ask for /favicon.ico whatever the page says: the icon in static."""
    return HttpResponseRedirect(static("img/favicon.ico"))


api_v1 = [
    path("", include("accounts.api.urls")),
    path("", include("kyc.api.urls")),
    path("", include("wallet.api.urls")),
    path("", include("trading.api.urls")),
    path("", include("marketdata.api.urls")),
    path("", include("privacy.api_urls")),
    path("", include("notifications.api.urls")),
    path("", include("devices.api.urls")),
    path("", include("apikeys.api.urls")),
]

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    # The WebSocket streams (docs/asyncapi.yaml, AsyncAPI 3.0)
    path("api/asyncapi.yaml", asyncapi_document, name="asyncapi"),
    path("api/v1/", include(api_v1)),
    path("kyc/", include("kyc.urls")),
    path("wallet/", include("wallet.urls")),
    path("trading/", include("trading.urls")),
    path("notifications/", include("notifications.urls")),
    path("", include("marketdata.urls")),
    path("", include("privacy.urls")),
    # the notification channels page, and the Web Push service worker at /sw.js
    path("", include("devices.urls")),
    path("", include("apikeys.urls")),
    path("", home, name="home"),
    path("", include("accounts.urls")),
]

# JSON under /api/, Django's pages elsewhere (config/errors.py).
handler404 = "config.errors.page_not_found"
handler500 = "config.errors.server_error"
