"""The project's JSON parser: hostile nesting is a 400, never a 500.

Python's `json` raises `RecursionError`, not `ValueError`, on input nested about a
thousand deep, and DRF's `JSONParser` catches only `ValueError`: 10,000 brackets
made every JSON endpoint answer an HTML 500. Here the body is read (its size is
already bounded by `config.middleware`), its nesting measured before decoding, and
anything deeper than `API_JSON_MAX_DEPTH` refused as a `parse_error`.
"""

from __future__ import annotations

import re

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser as DRFJSONParser

# New in DRF 3.18 (the charset check), not yet in djangorestframework-stubs.
from rest_framework.parsers import get_encoding  # type: ignore[attr-defined]
from rest_framework.utils import json

# A string literal (skipped whole, so brackets inside it do not count) or a bracket.
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
_OPEN = frozenset(b"[{")


def json_depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether `body` opens more than `limit` arrays or objects inside each other.

    A plain count of brackets outside string literals; malformed input is left to
    the decoder to refuse. Stops at the first bracket past the limit."""
    depth = 0
    for match in _TOKENS.finditer(body):
        token = match.group()
        if len(token) != 1:
            continue
        if token[0] in _OPEN:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


class JSONParser(DRFJSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = get_encoding(parser_context)
        body = stream.read() if stream is not None else b""
        limit = settings.API_JSON_MAX_DEPTH
        if json_depth_exceeds(body, limit):
            raise ParseError(f"JSON parse error - nested deeper than {limit} levels.")
        try:
            text = body.decode(encoding)
            parse_constant = json.strict_constant if self.strict else None
            return json.loads(text, parse_constant=parse_constant)
        except (ValueError, RecursionError) as exc:
            # RecursionError: a depth under the limit above cannot raise it; kept
            # so that a limit raised past the interpreter's never becomes a 500.
            raise ParseError(f"JSON parse error - {exc}") from None
