from django.urls import path

from accounts.api import factors, recovery, sessions, views

urlpatterns = [
    path("auth/register", views.RegisterView.as_view(), name="api-register"),
    path("auth/login", views.LoginView.as_view(), name="api-login"),
    path("auth/refresh", views.RefreshView.as_view(), name="api-refresh"),
    path("legal", views.LegalDocumentsView.as_view(), name="api-legal"),
    path("auth/logout", views.LogoutView.as_view(), name="api-logout"),
    path(
        "auth/password", views.PasswordChangeView.as_view(), name="api-password-change"
    ),
    path("auth/2fa/setup", views.TwoFactorSetupView.as_view(), name="api-2fa-setup"),
    path(
        "auth/2fa/confirm",
        views.TwoFactorConfirmView.as_view(),
        name="api-2fa-confirm",
    ),
    path(
        "auth/2fa/disable",
        views.TwoFactorDisableView.as_view(),
        name="api-2fa-disable",
    ),
    path(
        "auth/password-reset",
        recovery.PasswordResetRequestView.as_view(),
        name="api-password-reset",
    ),
    path(
        "auth/password-reset/confirm",
        recovery.PasswordResetConfirmView.as_view(),
        name="api-password-reset-confirm",
    ),
    path(
        "auth/email/verify", recovery.EmailVerifyView.as_view(), name="api-email-verify"
    ),
    path(
        "me/email/verification",
        recovery.EmailVerificationSendView.as_view(),
        name="api-email-verification-send",
    ),
    path(
        "auth/2fa/recovery-codes",
        factors.RecoveryCodesView.as_view(),
        name="api-2fa-recovery-codes",
    ),
    path("me/passkeys", factors.PasskeyListView.as_view(), name="api-passkeys"),
    path(
        "me/passkeys/<int:passkey_id>",
        factors.PasskeyDetailView.as_view(),
        name="api-passkey",
    ),
    path(
        "me/passkeys/<int:passkey_id>/remove",
        factors.PasskeyRemoveView.as_view(),
        name="api-passkey-remove",
    ),
    path("me", views.MeView.as_view(), name="api-me"),
    path(
        "me/security-events",
        views.SecurityEventListView.as_view(),
        name="api-security-events",
    ),
    path("me/sessions", sessions.SessionListView.as_view(), name="api-sessions"),
    path(
        "me/sessions/end-others",
        sessions.SessionEndOthersView.as_view(),
        name="api-sessions-end-others",
    ),
    path(
        "me/sessions/<str:public_id>",
        sessions.SessionEndView.as_view(),
        name="api-session-end",
    ),
    path(
        "stream-tickets", sessions.StreamTicketView.as_view(), name="api-stream-tickets"
    ),
]
