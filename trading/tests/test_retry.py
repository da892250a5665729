"""The matcher retries a batch that lost a deadlock, and only that."""

from unittest import mock

import psycopg
import pytest
from django.db import OperationalError

from trading.services import matching


def _deadlock() -> OperationalError:
    error = OperationalError("deadlock detected")
    error.__cause__ = psycopg.errors.DeadlockDetected("deadlock detected")
    return error


def test_deadlocked_batch_is_retried_then_succeeds():
    outcomes = [_deadlock(), matching.MatchResult(processed=3)]

    def run(instrument_id, batch_size, now):
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    with mock.patch.object(matching, "_run", side_effect=run) as patched:
        result = matching.matching_run(instrument_id=7, batch_size=10)
    assert result.processed == 3
    assert patched.call_count == 2


def test_other_errors_are_not_retried_and_deadlocks_give_up_after_three():
    with mock.patch.object(matching, "_run", side_effect=ValueError("bug")) as bug:
        with pytest.raises(ValueError):
            matching.matching_run(instrument_id=7, batch_size=10)
    assert bug.call_count == 1
    with mock.patch.object(matching, "_run", side_effect=_deadlock()) as stuck:
        with pytest.raises(OperationalError):
            matching.matching_run(instrument_id=7, batch_size=10)
    assert stuck.call_count == matching.MAX_ATTEMPTS
