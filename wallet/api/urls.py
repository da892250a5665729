from django.urls import path

from wallet.api import views

urlpatterns = [
    path("wallet/assets", views.AssetListView.as_view(), name="api-wallet-assets"),
    path(
        "wallet/balances", views.BalanceListView.as_view(), name="api-wallet-balances"
    ),
    path(
        "wallet/statement", views.StatementView.as_view(), name="api-wallet-statement"
    ),
    path(
        "wallet/statement.csv",
        views.StatementCsvView.as_view(),
        name="api-wallet-statement-csv",
    ),
    path(
        "wallet/deposits",
        views.DepositListCreateView.as_view(),
        name="api-wallet-deposits",
    ),
    path(
        "wallet/withdrawals",
        views.WithdrawalListCreateView.as_view(),
        name="api-wallet-withdrawals",
    ),
    path(
        "wallet/withdrawals/<int:pk>/cancel",
        views.WithdrawalCancelView.as_view(),
        name="api-wallet-withdrawal-cancel",
    ),
    path(
        "wallet/beneficiaries",
        views.BeneficiaryListCreateView.as_view(),
        name="api-wallet-beneficiaries",
    ),
    path(
        "wallet/beneficiaries/<int:pk>",
        views.BeneficiaryDetailView.as_view(),
        name="api-wallet-beneficiary",
    ),
    path(
        "wallet/beneficiaries/<int:pk>/confirm",
        views.BeneficiaryConfirmView.as_view(),
        name="api-wallet-beneficiary-confirm",
    ),
    path(
        "wallet/beneficiaries/<int:pk>/resend",
        views.BeneficiaryResendView.as_view(),
        name="api-wallet-beneficiary-resend",
    ),
    path(
        "wallet/transfers",
        views.TransferListCreateView.as_view(),
        name="api-wallet-transfers",
    ),
    path("wallet/alerts", views.AlertListView.as_view(), name="api-wallet-alerts"),
    path(
        "wallet/alerts/<str:asset>",
        views.AlertDetailView.as_view(),
        name="api-wallet-alert",
    ),
    path(
        "wallet/webhooks/<slug:provider>",
        views.WebhookView.as_view(),
        name="api-wallet-webhook",
    ),
    path(
        "wallet/payout-webhooks/<slug:provider>",
        views.PayoutWebhookView.as_view(),
        name="api-wallet-payout-webhook",
    ),
]
