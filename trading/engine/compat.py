"""``mypyc_attr`` without a hard dependency.

The decorator only carries hints for the mypyc compiler (which needs
``mypy_extensions``, installed with mypy). When the package is absent the engine
runs interpreted and the hints mean nothing, so a no-op stands in.
"""

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

try:
    from mypy_extensions import mypyc_attr
except ImportError:  # pragma: no cover - interpreted without mypy installed

    def mypyc_attr(*attrs: str, **kwattrs: object) -> Callable[[T], T]:
        def keep(cls: T) -> T:
            return cls

        return keep


__all__ = ["mypyc_attr"]
