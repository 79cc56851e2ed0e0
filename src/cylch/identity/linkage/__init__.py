"""Probabilistic record linkage: one Splink model, used in batch (DuckDB or Spark) and online.

``features`` turns what an agency sent into comparable columns, ``model`` builds, trains and
saves the Splink model as versioned JSON, ``batch`` scores every pair the blocking rules
generate and clusters them with guards, ``online`` scores one new record against the index,
and ``evaluate`` measures all of it against known truth.
"""
