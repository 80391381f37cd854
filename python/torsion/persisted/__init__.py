"""Mirrors ``twisted.persisted``: only what other torsion modules use."""
