import pytest

from accounts.testing import make_user
from config.errors import Forbidden
from kyc.selectors import kyc_is_verified, kyc_require_verified
from kyc.testing import make_verified_user

pytestmark = pytest.mark.django_db


def test_make_verified_user_passes_the_gate_and_a_new_user_does_not():
    verified = make_verified_user(email="verified@example.com")
    newcomer = make_user(email="new@example.com")
    assert kyc_is_verified(user=verified) is True
    assert kyc_is_verified(user=newcomer) is False
    with pytest.raises(Forbidden) as error:
        kyc_require_verified(user=newcomer)
    assert error.value.code == "kyc_required"
