"""Importing this module installs torsion's reactor, as importing
twisted.internet.reactor installs Twisted's default one; afterwards
``from torsion.internet import reactor`` is the reactor itself."""

import sys

del sys.modules["torsion.internet.reactor"]

from torsion.internet import default  # noqa: E402

default.install()
