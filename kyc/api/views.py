"""Thin API views for the user's own KYC: parse, call one service, serialize."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import user_has_two_factor
from accounts.services import RequestMeta
from config.errors import NotFound
from config.openapi import error_responses
from kyc import services
from kyc.api import serializers as s
from kyc.errors import KycErrorCode
from kyc.files import document_response
from kyc.selectors import kyc_document_for_viewer, kyc_overview
from kyc.uploads import check_request_size


def _meta(request) -> RequestMeta:
    return RequestMeta.from_request(request._request)


def _overview(request) -> Response:
    return Response(s.OverviewOutputSerializer(kyc_overview(user=request.user)).data)


class KycOverviewView(APIView):
    @extend_schema(
        tags=["kyc"],
        responses={200: s.OverviewOutputSerializer, **error_responses(401)},
        summary="My KYC: status, profile, documents, decisions, what is still needed",
        description=(
            "Statuses: not_submitted, submitted, in_review, approved, rejected, "
            "resubmission_requested. `needed.documents` lists groups of document "
            "types (one of each group); `needed.resend` the types a reviewer asked "
            "for again. Reviewers' internal notes are never included."
        ),
    )
    def get(self, request):
        return _overview(request)


class KycProfileView(APIView):
    @extend_schema(
        tags=["kyc"],
        request=s.ProfileInputSerializer,
        responses={200: s.OverviewOutputSerializer, **error_responses(400, 401, 409)},
        summary="Set my KYC profile (whole profile, PUT semantics)",
        description=(
            "400 `invalid_profile`, `underage` (under 18 today), `invalid_id_number` "
            "(PAN: five letters, four digits, one letter; passport: 6-9 letters or "
            "digits; national_id and driving_licence: 5-20). 409 `kyc_locked` once "
            "submitted. The identity number is encrypted at rest and only shown "
            "masked."
        ),
    )
    def put(self, request):
        data = s.ProfileInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.kyc_profile_update(
            user=request.user, **data.validated_data, meta=_meta(request)
        )
        return _overview(request)


class KycDocumentUploadView(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        tags=["kyc"],
        request={"multipart/form-data": s.DocumentUploadInputSerializer},
        responses={201: s.DocumentOutputSerializer, **error_responses(400, 401, 409)},
        summary="Upload a KYC document (JPEG, PNG or PDF)",
        description=(
            "The type is checked from the bytes; images are re-encoded without "
            "metadata; PDFs with active or embedded content are refused. Errors: "
            "400 `empty_file`, `file_too_large`, `unsupported_file_type`, "
            "`invalid_file`, `unsafe_file`; 409 `kyc_locked`, `too_many_documents`."
        ),
    )
    def post(self, request):
        check_request_size(request.META.get("CONTENT_LENGTH"))
        data = s.DocumentUploadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        document = services.kyc_document_upload(
            user=request.user,
            doc_type=data.validated_data["doc_type"],
            uploaded=data.validated_data["file"],
            meta=_meta(request),
        )
        return Response(s.DocumentOutputSerializer(document).data, status=201)


class KycDocumentDeleteView(APIView):
    @extend_schema(
        tags=["kyc"],
        responses={204: None, **error_responses(401, 404, 409)},
        summary="Delete a document not yet submitted",
        description="409 `document_locked` once it was part of a submission.",
    )
    def delete(self, request, document_id: int):
        services.kyc_document_delete(
            user=request.user, document_id=document_id, meta=_meta(request)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class KycSubmitView(APIView):
    @extend_schema(
        tags=["kyc"],
        request=None,
        responses={200: s.OverviewOutputSerializer, **error_responses(400, 401, 409)},
        summary="Submit my KYC for review",
        description=(
            "400 `profile_incomplete` or `documents_missing` (details list what is "
            "needed); 409 `kyc_locked` when already submitted or decided."
        ),
    )
    def post(self, request):
        services.kyc_submit(user=request.user, meta=_meta(request))
        return _overview(request)


class KycDocumentFileView(APIView):
    # Anonymous callers get the same 404 as everyone not allowed to see the file.
    permission_classes = [AllowAny]

    @extend_schema(
        tags=["kyc"],
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                description=(
                    "The file: an image (image/jpeg, image/png) inline; a PDF "
                    "(application/pdf) only as an attachment. With `page`, that "
                    "page of a PDF as the PNG rendered at upload."
                )
            ),
            **error_responses(404),
        },
        parameters=[
            OpenApiParameter(
                "page",
                int,
                required=False,
                description="A PDF's page (1 to `page_count`) as a PNG image.",
            )
        ],
        summary="Download a KYC document (its owner, or a reviewer with 2FA)",
    )
    def get(self, request, document_id: int):
        user = request.user
        document = kyc_document_for_viewer(
            user=user,
            document_id=document_id,
            second_factor=user.is_authenticated and user_has_two_factor(user=user),
        )
        response = document_response(document, request.query_params.get("page"))
        if response is None:
            raise NotFound(KycErrorCode.DOCUMENT_NOT_FOUND, "page: no such page.")
        services.kyc_document_view_record(
            document=document, viewer=user, meta=_meta(request)
        )
        return response
