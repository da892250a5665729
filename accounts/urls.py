from django.urls import path

from accounts import views, views_consent

app_name = "accounts"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", views.login_view, name="login"),
    path("login/otp/", views.login_otp, name="login-otp"),
    path("logout/", views.logout_view, name="logout"),
    path("account/security/", views.security, name="security"),
    path("account/terms/", views_consent.consent, name="consent"),
    path("legal/<str:document>/", views_consent.legal_document, name="legal-document"),
]
