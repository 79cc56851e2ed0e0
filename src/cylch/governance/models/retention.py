"""Governance: retention tables (see docs/governance.md)."""

__all__: list[str] = []
