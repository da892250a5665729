"""Run the engine tests against either build of the same source, and the
scenario tests against both books (fixture ``book_class``).

By default Python imports the mypyc-compiled modules when they have been built
(``make engine-build``) and the plain ``.py`` files otherwise. ``ENGINE_PURE=1``
forces the plain source even when the compiled modules are present, so the suite
can prove both builds behave the same.
"""

from typing import Any

import pytest

from trading.engine_select import honour_engine_pure

honour_engine_pure()


@pytest.fixture(params=["fast", "reference"])
def book_class(request: pytest.FixtureRequest) -> Any:
    """Each scenario runs on the fast book and on the reference book: the same
    table states the rules for both."""
    from trading.engine import book_class as chosen

    return chosen(request.param)
