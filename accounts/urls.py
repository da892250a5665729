from django.urls import path

from accounts import views, views_sessions

app_name = "accounts"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("login/", views.login_view, name="login"),
    path("login/otp/", views.login_otp, name="login-otp"),
    path("logout/", views.logout_view, name="logout"),
    path("account/security/", views.security, name="security"),
    path("account/sessions/", views_sessions.sessions, name="sessions"),
]
