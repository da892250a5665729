from django.urls import path

from kyc.api import views

urlpatterns = [
    path("kyc", views.KycOverviewView.as_view(), name="api-kyc"),
    path("kyc/profile", views.KycProfileView.as_view(), name="api-kyc-profile"),
    path("kyc/submit", views.KycSubmitView.as_view(), name="api-kyc-submit"),
    path(
        "kyc/documents",
        views.KycDocumentUploadView.as_view(),
        name="api-kyc-documents",
    ),
    path(
        "kyc/documents/<int:document_id>",
        views.KycDocumentDeleteView.as_view(),
        name="api-kyc-document",
    ),
    path(
        "kyc/documents/<int:document_id>/file",
        views.KycDocumentFileView.as_view(),
        name="api-kyc-document-file",
    ),
]
