import pytest

from accounts import seed as accounts_seed
from accounts.roles import sync_role_permissions
from kyc import seed as kyc_seed
from kyc.models import KycCase, KycProfile
from kyc.selectors import kyc_is_verified

pytestmark = pytest.mark.django_db


def test_demo_kyc_data_is_made_once():
    sync_role_permissions()
    lines: list[str] = []
    accounts_seed.seed(out=lines.append)
    kyc_seed.seed(out=lines.append)
    kyc_seed.seed(out=lines.append)
    statuses = dict(KycProfile.objects.values_list("user__email", "status"))
    assert statuses == {
        "alice@example.com": "approved",
        "bob@example.com": "approved",
        "carol@example.com": "submitted",
        "dan@example.com": "resubmission_requested",
    }
    assert KycCase.objects.count() == 4
    alice = KycProfile.objects.get(user__email="alice@example.com").user
    assert kyc_is_verified(user=alice)
