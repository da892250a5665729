from django.urls import path
from django.views.i18n import JavaScriptCatalog

from accounts import views, views_consent, views_factors, views_recovery, views_sessions

app_name = "accounts"

views_recovery_urls = [
    path("signup/sent/", views_recovery.signup_sent, name="signup-sent"),
    path("password-reset/", views_recovery.password_reset, name="password-reset"),
    path(
        "password-reset/sent/",
        views_recovery.password_reset_sent,
        name="password-reset-sent",
    ),
    path(
        "password-reset/done/",
        views_recovery.password_reset_done,
        name="password-reset-done",
    ),
    path(
        "password-reset/<uidb64>/<token>/",
        views_recovery.password_reset_confirm,
        name="password-reset-confirm",
    ),
    path("verify-email/<token>/", views_recovery.email_verify, name="email-verify"),
    path(
        "account/email/verification/",
        views_recovery.email_verification_send,
        name="email-verification-send",
    ),
    path("account/email/", views_recovery.email_change, name="email-change"),
]

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", views.login_view, name="login"),
    path("login/otp/", views.login_otp, name="login-otp"),
    path("logout/", views.logout_view, name="logout"),
    path("account/security/", views.security, name="security"),
    path("account/terms/", views_consent.consent, name="consent"),
    path("legal/<str:document>/", views_consent.legal_document, name="legal-document"),
    *views_recovery_urls,
    path("account/sessions/", views_sessions.sessions, name="sessions"),
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
