"""Programs that choose Twisted's pollreactor port to torsion by their imports
alone: install() installs torsion's reactor."""

from __future__ import annotations

from torsion.internet.default import install

__all__ = ["install"]
