"""``python -m torsion``: the torsion command line (see torsion.cli)."""

import sys

from torsion.cli import main

if __name__ == "__main__":
    sys.exit(main())
