from django.urls import path

from kyc import views

app_name = "kyc"

urlpatterns = [
    path("", views.kyc_page, name="page"),
    path(
        "documents/<int:document_id>/file/",
        views.kyc_document_file,
        name="document-file",
    ),
]
