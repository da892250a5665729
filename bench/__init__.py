"""Benchmarks (bench/README.md). ENGINE_PURE=1 is honoured for every bench: the
engine is imported from its source even when the compiled build is present."""

from trading.engine_select import honour_engine_pure

honour_engine_pure()
