"""Consent to the legal documents: at signup, and again at the next sign-in once
a version changes (API: the login asks; pages: the consent page comes first)."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import AuditCode, AuditEvent, ConsentRecord, User
from accounts.testing import PASSWORD, api_client_for, make_user

pytestmark = pytest.mark.django_db

NEW_TERMS = "2027-01-15"


def _register(**extra):
    body = {
        "email": "new@example.com",
        "password": "a-long-enough-secret",
        "full_name": "New User",
        **extra,
    }
    return APIClient().post("/api/v1/auth/register", body, format="json")


def test_signing_up_without_accepting_the_terms_writes_nothing():
    response = _register()

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "terms_not_accepted"
    assert error["message"].startswith("accept_terms:")
    assert error["details"] == {"accept_terms": ["Required."]}
    assert not User.objects.exists()
    assert not ConsentRecord.objects.exists()


def test_signing_up_records_each_document_version_with_its_origin(settings):
    response = _register(accept_terms=True, HTTP_USER_AGENT="ignored")

    assert response.status_code == 201
    user = User.objects.get(email="new@example.com")
    assert (user.terms_version, user.privacy_version) == (
        settings.LEGAL_TERMS_VERSION,
        settings.LEGAL_PRIVACY_VERSION,
    )
    assert sorted(
        ConsentRecord.objects.filter(user=user).values_list("document", "version")
    ) == [
        ("privacy", settings.LEGAL_PRIVACY_VERSION),
        ("terms", settings.LEGAL_TERMS_VERSION),
    ]
    registered = AuditEvent.objects.get(user=user, code=AuditCode.USER_REGISTERED)
    assert registered.extra == {
        "accepted": {
            "terms": settings.LEGAL_TERMS_VERSION,
            "privacy": settings.LEGAL_PRIVACY_VERSION,
        }
    }


def test_a_new_terms_version_is_asked_for_at_the_next_api_login(user, settings):
    settings.LEGAL_TERMS_VERSION = NEW_TERMS
    login = {"email": user.email, "password": PASSWORD}

    refused = APIClient().post("/api/v1/auth/login", login, format="json")

    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "terms_not_accepted"
    assert error["details"]["documents"] == [
        {"document": "terms", "version": NEW_TERMS, "url": "/legal/terms/"}
    ]
    assert "access" not in refused.json()
    assert not AuditEvent.objects.filter(code=AuditCode.LOGIN_SUCCEEDED).exists()

    accepted = APIClient().post(
        "/api/v1/auth/login", {**login, "accept_terms": True}, format="json"
    )

    assert accepted.status_code == 200
    assert accepted.json()["access"]
    user.refresh_from_db()
    assert user.terms_version == NEW_TERMS
    assert ConsentRecord.objects.filter(
        user=user, document="terms", version=NEW_TERMS
    ).exists()
    assert not ConsentRecord.objects.filter(
        user=user, document="privacy", version=NEW_TERMS
    ).exists()
    event = AuditEvent.objects.get(user=user, code=AuditCode.TERMS_ACCEPTED)
    assert event.extra == {"accepted": {"terms": NEW_TERMS}}
    # up to date: the next login needs nothing
    again = APIClient().post("/api/v1/auth/login", login, format="json")
    assert again.status_code == 200


def test_an_api_token_issued_before_the_change_keeps_working_until_sign_in(
    user, settings
):
    client = api_client_for(user)
    settings.LEGAL_PRIVACY_VERSION = NEW_TERMS

    assert client.get("/api/v1/me").status_code == 200


def test_pages_show_the_new_version_first_and_go_on_after_acceptance(user, settings):
    client = Client()
    client.force_login(user)
    settings.LEGAL_PRIVACY_VERSION = NEW_TERMS

    response = client.get("/wallet/")

    assert response.status_code == 302
    assert response["Location"] == "/account/terms/?next=%2Fwallet%2F"
    page = client.get(response["Location"])
    assert [doc.document for doc in page.context["documents"]] == ["privacy"]
    assert NEW_TERMS in page.content.decode()

    unticked = client.post("/account/terms/?next=/wallet/", {"next": "/wallet/"})
    assert unticked.status_code == 200
    assert "accept_terms" in unticked.context["form"].errors
    assert client.get("/wallet/").status_code == 302

    ticked = client.post("/account/terms/", {"next": "/wallet/", "accept_terms": "on"})
    assert ticked.status_code == 302
    assert ticked["Location"] == "/wallet/"
    assert client.get("/wallet/").status_code == 200
    user.refresh_from_db()
    assert user.privacy_version == NEW_TERMS
    # the legal pages and logging out stay reachable while a version waits
    settings.LEGAL_TERMS_VERSION = NEW_TERMS
    assert client.get("/legal/terms/").status_code == 200
    assert client.post("/logout/").status_code == 302


def test_the_documents_in_force_are_public_with_their_versions(settings):
    page = Client().get("/legal/privacy/")
    assert page.status_code == 200
    assert f"Version {settings.LEGAL_PRIVACY_VERSION}" in page.content.decode()
    assert Client().get("/legal/cookies/").status_code == 404

    listed = APIClient().get("/api/v1/legal").json()

    assert [(d["document"], d["version"]) for d in listed] == [
        ("terms", settings.LEGAL_TERMS_VERSION),
        ("privacy", settings.LEGAL_PRIVACY_VERSION),
    ]
    assert listed[0]["url"] == "http://testserver/legal/terms/"


def test_the_signup_page_needs_the_box_ticked():
    response = Client().post(
        "/signup/",
        {
            "email": "page@example.com",
            "full_name": "Page User",
            "password": "a-long-enough-secret",
        },
    )

    assert response.status_code == 200
    assert response.context["form"].errors["accept_terms"] == [
        "Accept the terms of service and the privacy notice to open an account."
    ]
    assert not User.objects.exists()
    make_user(email="other@example.com")  # the helper accepts, as the seed does
    assert User.objects.get().terms_version
