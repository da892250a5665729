"""The publisher merges what queued up, per group, in order."""

from marketdata.publish import coalesce


def test_queued_messages_merge_per_group_in_order():
    frame = {"type": "market.frame"}
    merged = coalesce(
        [
            ("market.A", {**frame, "first": 1, "last": 2, "ts": 5, "body": "a"}),
            ("user.1", {"type": "user.events", "events": [[1, "x"]]}),
            ("market.B", {**frame, "first": 7, "last": 7, "ts": 6, "body": "c"}),
            ("market.A", {**frame, "first": 3, "last": 4, "ts": 6, "body": "b"}),
            ("user.1", {"type": "user.events", "events": [[2, "y"]]}),
        ]
    )
    assert merged == [
        ("market.A", {**frame, "first": 1, "last": 4, "ts": 5, "body": "a,b"}),
        ("user.1", {"type": "user.events", "events": [[1, "x"], [2, "y"]]}),
        ("market.B", {**frame, "first": 7, "last": 7, "ts": 6, "body": "c"}),
    ]
