"""The default reactor: torsion's (mirrors twisted.internet.default)."""

from __future__ import annotations

from torsion.internet._reactor import TorsionReactor

__all__ = ["TorsionReactor", "install"]


def install() -> TorsionReactor:
    """Create and install torsion's reactor."""
    from torsion.internet.main import installReactor

    reactor = TorsionReactor()
    installReactor(reactor)
    return reactor
