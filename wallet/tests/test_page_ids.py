"""The wallet page's four forms: every id is unique and every label points at
its own form's field."""

import re
from collections import Counter

import pytest
from django.test import Client

from kyc.testing import make_verified_user
from trading.tests.helpers import make_btc_usd

pytestmark = pytest.mark.django_db


def test_wallet_page_ids_are_unique_and_labels_point_at_their_fields():
    make_btc_usd()
    user = make_verified_user(email="ids@example.com")
    client = Client()
    client.force_login(user, backend="accounts.backends.EmailBackend")
    html = client.get("/wallet/").content.decode()
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    labels = re.findall(r'<label for="([^"]+)"', html)
    assert set(labels) >= {
        "id_deposit_amount",
        "id_withdrawal_amount",
        "id_transfer_amount",
        "id_deposit_asset",
        "id_alert_asset",
    }
    for target in labels:
        assert target in ids, target
    # each form keeps the usual field names: only the ids differ
    for prefix in ("deposit", "withdrawal", "transfer"):
        tag = re.search(rf'<input[^>]*id="id_{prefix}_amount"[^>]*>', html)
        assert tag is not None and 'name="amount"' in tag[0], prefix
