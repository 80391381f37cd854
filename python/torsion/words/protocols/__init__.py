"""Chat protocols, mirroring ``twisted.words.protocols``."""
