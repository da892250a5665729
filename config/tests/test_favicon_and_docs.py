"""/favicon.ico answers with the icon in static; the API docs pages name no
other origin (their offline run in Chromium is in
marketdata/tests/test_retail_pages_browser.py)."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

pytestmark = pytest.mark.django_db


def test_favicon_redirects_to_a_real_icon_in_static():
    response = Client().get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == "/static/img/favicon.ico"
    path = finders.find("img/favicon.ico")
    assert path is not None
    with open(path, "rb") as icon:
        assert icon.read(4) == b"\x00\x00\x01\x00"  # the ICO header


def test_every_page_links_its_icons():
    page = Client().get("/login/").content.decode()
    for href in re.findall(
        r'<link rel="(?:icon|apple-touch-icon)" href="([^"]+)"', page
    ):
        assert finders.find(href.removeprefix("/static/")), href


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_api_docs_pages_reference_only_this_origin(path):
    html = Client().get(path).content.decode()
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert refs, "the page loads its bundle"
    for ref in refs:
        assert ref.startswith("/static/drf_spectacular_sidecar/"), ref
        assert finders.find(ref.removeprefix("/static/")), ref
    assert "cdn" not in html.lower() and "https://" not in html
