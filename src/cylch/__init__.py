"""Cylch: a multi-agency safeguarding hub for Wales."""

__version__ = "0.1.0"
