"""`messages.dumps`, the one JSON encoder of every stream message: the same text
as the standard library's compact form, only faster."""

from __future__ import annotations

import json

from marketdata import messages


def compact(data) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def test_dumps_writes_what_json_writes_compactly():
    order = {
        "type": "order",
        "event_id": 41,
        "order": {
            "id": 7,
            "client_order_id": None,
            "post_only": False,
            "price": "101.00",
            "quantity": "0.50000000",
            "created_at": "2026-12-07T13:00:00.123456Z",
        },
    }
    level = {"type": "level", "seq": 3, "side": "sell", "price": "1.00"}
    for data in (order, level, [[10100, 50], [10000, 7]], {"a": [], "b": {}}):
        assert messages.dumps(data) == compact(data)
        assert json.loads(messages.dumps(data)) == data


def test_dumps_sends_other_characters_as_utf8_and_escapes_control_ones():
    data = {"reason": 'Arrêt "manuel"\n\\ 😀', "x": "\x01"}
    text = messages.dumps(data)
    assert text == '{"reason":"Arrêt \\"manuel\\"\\n\\\\ 😀","x":"\\u0001"}'
    assert json.loads(text) == data


def test_dumps_keeps_what_only_the_standard_library_can_write():
    data = {"units": 2**70, 5: "int key"}
    assert messages.dumps(data) == '{"units":1180591620717411303424,"5":"int key"}'
