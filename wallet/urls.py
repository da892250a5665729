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
    path("beneficiaries/", views.beneficiaries, name="beneficiaries"),
    path("beneficiaries/add/", views.beneficiary_add_submit, name="beneficiary-add"),
    path(
        "beneficiaries/<int:pk>/confirm/",
        views.beneficiary_confirm_submit,
        name="beneficiary-confirm",
    ),
    path(
        "beneficiaries/<int:pk>/resend/",
        views.beneficiary_resend_submit,
        name="beneficiary-resend",
    ),
    path(
        "beneficiaries/<int:pk>/remove/",
        views.beneficiary_remove_submit,
        name="beneficiary-remove",
    ),
    path(
        "beneficiaries/confirm/<str:token>/",
        views.beneficiary_confirm_link,
        name="beneficiary-confirm-link",
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
