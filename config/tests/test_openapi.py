"""The OpenAPI description states what the API answers (config/openapi.py): the
edges' error statuses on every operation, paginated lists as their envelope,
nullable and blank values where responses carry them. The live contract test is
config/tests/test_api_fuzz.py; these check the description itself, fast."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

METHODS = {"get", "put", "patch", "post", "delete"}
ERROR_REF = {"$ref": "#/components/schemas/Error"}
PAGINATED_LISTS = {
    "/api/v1/fills": "PaginatedFillOutputList",
    "/api/v1/orders": "PaginatedOrderOutputList",
    "/api/v1/price-alerts": "PaginatedPriceAlertOutputList",
    "/api/v1/me/security-events": "PaginatedSecurityEventOutputList",
    "/api/v1/wallet/beneficiaries": "PaginatedBeneficiaryOutputList",
    "/api/v1/wallet/deposits": "PaginatedDepositOutputList",
    "/api/v1/wallet/statement": "PaginatedStatementEntryOutputList",
    "/api/v1/wallet/transfers": "PaginatedTransferOutputList",
    "/api/v1/wallet/withdrawals": "PaginatedWithdrawalOutputList",
}


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            if method in METHODS:
                yield path, method, operation


def test_every_operation_documents_401_429_and_503_in_the_error_shape(schema):
    operations = list(_operations(schema))
    assert len(operations) >= 50
    for path, method, operation in operations:
        responses = operation["responses"]
        for status in ("401", "429", "503"):
            assert status in responses, (path, method, status)
            content = responses[status]["content"]["application/json"]
            assert content["schema"] == ERROR_REF, (path, method, status)
        for status in ("429", "503"):
            header = responses[status]["headers"]["Retry-After"]
            assert header["required"] is True
            assert header["schema"] == {"type": "integer", "minimum": 1}


def test_bodies_may_be_refused_and_path_objects_may_be_missing(schema):
    for path, method, operation in _operations(schema):
        responses = operation["responses"]
        has_body = "requestBody" in operation
        assert ("413" in responses) is has_body, (path, method)
        assert ("415" in responses) is has_body, (path, method)
        if has_body:
            assert "400" in responses, (path, method)
        if "{" in path:
            assert "404" in responses, (path, method)


def test_a_status_a_view_documents_keeps_its_description(schema):
    place = schema["paths"]["/api/v1/orders"]["post"]["responses"]
    assert place["429"]["description"] == "Throttled or locked out; retry later."
    assert "Retry-After" in place["429"]["headers"]


def test_paginated_lists_are_documented_as_their_envelope(schema):
    for path, component in PAGINATED_LISTS.items():
        get = schema["paths"][path]["get"]
        body = get["responses"]["200"]["content"]["application/json"]["schema"]
        assert body == {"$ref": f"#/components/schemas/{component}"}, path
        envelope = schema["components"]["schemas"][component]
        assert set(envelope["properties"]) == {"next", "previous", "results"}
        assert envelope["properties"]["next"]["nullable"] is True
        assert envelope["properties"]["results"]["type"] == "array"
        names = {p["name"] for p in get["parameters"] if p["in"] == "query"}
        assert {"cursor", "limit"} <= names, path


def test_nullable_and_blank_values_are_documented(schema):
    components = schema["components"]["schemas"]
    minimum = components["BalanceOutput"]["properties"]["minimum"]
    assert minimum["nullable"] is True
    reason_code = components["DocumentOutput"]["properties"]["reason_code"]
    enums = [
        components[choice["$ref"].rsplit("/", 1)[1]]["enum"]
        for choice in reason_code["oneOf"]
    ]
    assert enums == [
        [
            "expired",
            "unreadable",
            "mismatch",
            "suspected_forgery",
            "wrong_type",
            "other",
        ],
        [""],
    ]
