from django.urls import path
from django.views.i18n import JavaScriptCatalog

from accounts import views, views_factors

app_name = "accounts"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", views.login_view, name="login"),
    path("login/otp/", views.login_otp, name="login-otp"),
    path("logout/", views.logout_view, name="logout"),
    path("account/security/", views.security, name="security"),
    path("account/security/factors/", views_factors.factors, name="factors"),
    path(
        "account/passkeys/register/begin/",
        views_factors.PasskeyRegisterBeginView.as_view(),
        name="passkey-register-begin",
    ),
    path(
        "account/passkeys/register/complete/",
        views_factors.PasskeyRegisterCompleteView.as_view(),
        name="passkey-register-complete",
    ),
    path(
        "login/passkey/begin/",
        views_factors.PasskeyLoginBeginView.as_view(),
        name="passkey-login-begin",
    ),
    path(
        "login/passkey/complete/",
        views_factors.PasskeyLoginCompleteView.as_view(),
        name="passkey-login-complete",
    ),
    path(
        "login/passkey/jsi18n/",
        JavaScriptCatalog.as_view(packages=["django_otp_webauthn"]),
        name="passkey-jsi18n",
    ),
]
