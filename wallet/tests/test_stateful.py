"""Hypothesis drives the posting service with random deposits, transfers, holds,
posts, voids and withdrawals, and compares it with a plain dict model after every
step, together with every invariant verify_ledger checks."""

import itertools

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)

from accounts.models import User
from config.errors import ApplicationError
from wallet.ledger import (
    Posting,
    account_ensure,
    hold_create,
    hold_post,
    hold_void,
    ledger_post,
)
from wallet.models import Account, Asset
from wallet.selectors import balance_list
from wallet.services import (
    withdrawal_approve,
    withdrawal_mark_sent,
    withdrawal_reject,
    withdrawal_request,
)
from wallet.tests.helpers import make_beneficiary
from wallet.verification import ledger_problems

USERS = ("u0", "u1", "u2")
ASSETS = ("USD", "BTC")
amounts = st.integers(min_value=1, max_value=5_000)


class LedgerMachine(RuleBasedStateMachine):
    holds = Bundle("holds")
    withdrawals = Bundle("withdrawals")

    def __init__(self):
        super().__init__()
        self._savepoint = transaction.savepoint()
        self.refs = itertools.count()
        self.assets = {
            code: Asset.objects.create(
                code=code,
                name=code,
                decimals=2,
                kind="fiat",
                payout_rails=["bank_iban"],
            )
            for code in ASSETS
        }
        self.users = {}
        self.beneficiaries = {}
        for name in USERS:
            user = User.objects.create_user(email=f"{name}@example.com", full_name=name)
            self.users[name] = user
            self.beneficiaries[name] = make_beneficiary(user)
        self.operator = User.objects.create_superuser(email="op@example.com")
        self.operator2 = User.objects.create_superuser(email="op2@example.com")
        # model: (user, asset) -> [available, held]; pending holds by id
        self.model = {(u, a): [0, 0] for u in USERS for a in ASSETS}
        self.external = dict.fromkeys(ASSETS, 0)
        self.pending: dict[int, int] = {}

    def teardown(self):
        transaction.savepoint_rollback(self._savepoint)

    def _avail(self, user, asset):
        return account_ensure(
            owner=self.users[user], asset=self.assets[asset], kind="available"
        )

    @rule(user=st.sampled_from(USERS), asset=st.sampled_from(ASSETS), amount=amounts)
    def deposit(self, user, asset, amount):
        ledger_post(
            kind="deposit",
            reference=f"d{next(self.refs)}",
            postings=[
                Posting(
                    account_ensure(asset=self.assets[asset], kind="external"), -amount
                ),
                Posting(self._avail(user, asset), amount),
            ],
        )
        self.model[user, asset][0] += amount
        self.external[asset] -= amount

    @rule(
        sender=st.sampled_from(USERS),
        recipient=st.sampled_from(USERS),
        asset=st.sampled_from(ASSETS),
        amount=amounts,
    )
    def transfer(self, sender, recipient, asset, amount):
        postings = [
            Posting(self._avail(sender, asset), -amount),
            Posting(self._avail(recipient, asset), amount),
        ]
        if self.model[sender, asset][0] < amount:
            with pytest.raises(ApplicationError) as info:
                ledger_post(
                    kind="transfer", reference=f"t{next(self.refs)}", postings=postings
                )
            assert info.value.code == "insufficient_funds"
            return
        ledger_post(kind="transfer", reference=f"t{next(self.refs)}", postings=postings)
        self.model[sender, asset][0] -= amount
        self.model[recipient, asset][0] += amount

    @rule(
        target=holds,
        user=st.sampled_from(USERS),
        asset=st.sampled_from(ASSETS),
        amount=amounts,
    )
    def hold(self, user, asset, amount):
        if self.model[user, asset][0] < amount:
            with pytest.raises(ApplicationError):
                hold_create(
                    user=self.users[user],
                    asset=self.assets[asset],
                    amount=amount,
                    reference_kind="order",
                    reference_id=f"h{next(self.refs)}",
                )
            return None
        hold = hold_create(
            user=self.users[user],
            asset=self.assets[asset],
            amount=amount,
            reference_kind="order",
            reference_id=f"h{next(self.refs)}",
        )
        self.model[user, asset][0] -= amount
        self.model[user, asset][1] += amount
        self.pending[hold.pk] = amount
        return (hold, user, asset)

    @rule(item=holds, to=st.sampled_from(USERS), fraction=st.floats(0.01, 1.0))
    def post_part(self, item, to, fraction):
        if item is None:
            return
        hold, user, asset = item
        remaining = self.pending.get(hold.pk, 0)
        if remaining == 0:
            with pytest.raises(ApplicationError) as info:
                hold_post(
                    hold=hold,
                    amount=1,
                    postings=[Posting(self._avail(to, asset), 1)],
                    kind="trade",
                    reference=f"p{next(self.refs)}",
                )
            assert info.value.code == "hold_not_pending"
            return
        part = max(1, int(remaining * fraction))
        fee = part // 100
        hold_post(
            hold=hold,
            amount=part,
            postings=[
                Posting(self._avail(to, asset), part - fee),
                Posting(account_ensure(asset=self.assets[asset], kind="fees"), fee),
            ],
            kind="trade",
            reference=f"p{next(self.refs)}",
        )
        self.pending[hold.pk] = remaining - part
        self.model[user, asset][1] -= part
        self.model[to, asset][0] += part - fee
        if self.pending[hold.pk] == 0:
            del self.pending[hold.pk]
            self.pending[hold.pk] = 0

    @rule(item=consumes(holds))
    def void(self, item):
        if item is None:
            return
        hold, user, asset = item
        remaining = self.pending.get(hold.pk, 0)
        if remaining == 0:
            with pytest.raises(ApplicationError) as info:
                hold_void(hold=hold, reference=f"v{next(self.refs)}")
            assert info.value.code == "hold_not_pending"
            return
        hold_void(hold=hold)
        self.pending[hold.pk] = 0
        self.model[user, asset][1] -= remaining
        self.model[user, asset][0] += remaining

    @rule(
        target=withdrawals,
        user=st.sampled_from(USERS),
        asset=st.sampled_from(ASSETS),
        amount=amounts,
    )
    def withdraw(self, user, asset, amount):
        if self.model[user, asset][0] < amount:
            with pytest.raises(ApplicationError):
                withdrawal_request(
                    user=self.users[user],
                    asset=self.assets[asset],
                    amount=amount,
                    beneficiary=self.beneficiaries[user],
                )
            return None
        withdrawal = withdrawal_request(
            user=self.users[user],
            asset=self.assets[asset],
            amount=amount,
            beneficiary=self.beneficiaries[user],
        )
        self.model[user, asset][0] -= amount
        self.model[user, asset][1] += amount
        return (withdrawal, user, asset, amount)

    @rule(item=consumes(withdrawals), approve=st.booleans())
    def decide(self, item, approve):
        if item is None:
            return
        withdrawal, user, asset, amount = item
        self.model[user, asset][1] -= amount
        if approve:
            note = "Checked by the state machine."
            withdrawal = withdrawal_approve(
                withdrawal=withdrawal, operator=self.operator, note=note
            )
            if withdrawal.status == "first_approved":  # above the threshold
                withdrawal_approve(
                    withdrawal=withdrawal, operator=self.operator2, note=note
                )
            withdrawal_mark_sent(
                withdrawal=withdrawal,
                operator=self.operator,
                payout_reference=f"ref-{withdrawal.pk}",
                note=note,
            )
            self.external[asset] += amount
        else:
            withdrawal_reject(
                withdrawal=withdrawal, operator=self.operator, reason="not this time"
            )
            self.model[user, asset][0] += amount

    @invariant()
    def balances_match_the_model(self):
        for name, user in self.users.items():
            for b in balance_list(user=user):
                assert [b.available, b.held] == self.model[name, b.asset.code]
        for code, asset in self.assets.items():
            external = account_ensure(asset=asset, kind=Account.Kind.EXTERNAL)
            assert external.balance == self.external[code]

    @invariant()
    def ledger_invariants_hold(self):
        assert ledger_problems() == []


@pytest.mark.django_db
def test_posting_service_matches_a_dict_model(monkeypatch):
    # The KYC gate has its own tests; here every user may withdraw.
    monkeypatch.setattr(
        "wallet.services.withdrawals.kyc_is_verified", lambda *, user: True
    )
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=20,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
