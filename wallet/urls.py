from django.urls import path

from wallet import views

app_name = "wallet"

urlpatterns = [
    path("", views.wallet_home, name="home"),
    path("deposit/", views.deposit_submit, name="deposit"),
    path("withdraw/", views.withdrawal_submit, name="withdraw"),
    path(
        "withdrawals/<int:pk>/cancel/",
        views.withdrawal_cancel_submit,
        name="withdrawal-cancel",
    ),
    path("transfer/", views.transfer_submit, name="transfer"),
    path("alerts/", views.alert_submit, name="alert"),
    path("statement/", views.statement, name="statement"),
    path("statement.csv", views.statement_csv, name="statement-csv"),
    path(
        "sandbox/checkout/<str:reference>/",
        views.sandbox_checkout,
        name="sandbox-checkout",
    ),
]
