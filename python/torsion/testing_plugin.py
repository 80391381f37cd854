"""pytest plugin entry point for torsion (filled in by the testing work)."""
