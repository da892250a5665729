"""Example programs against the exchange API (docs/api-keys.md)."""
