"""torsion: Twisted's programming model on an event loop written in Rust."""

__version__ = "0.1.0"
