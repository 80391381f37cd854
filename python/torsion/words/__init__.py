"""Chat protocols, mirroring ``twisted.words``."""
