"""Mirrors ``twisted.persisted.styles``: ``Ephemeral``, for objects that
must not outlive their process (connections, open files)."""

from __future__ import annotations

import gc
from typing import Any

from torsion.python import log


class Ephemeral:
    """An object that pickles as a bare ``Ephemeral``: its state is never
    written, and pickling it logs a warning naming what refers to it."""

    def __reduce__(self) -> tuple[type, tuple[()]]:
        return (Ephemeral, ())

    def __getstate__(self) -> None:  # type: ignore[override]
        log.msg(f"WARNING: serializing ephemeral {self}")
        for referrer in gc.get_referrers(self):
            log.msg(f" referred to by {referrer}")
        return None

    def __setstate__(self, state: Any) -> None:
        log.msg(f"WARNING: unserializing ephemeral {self.__class__}")
        self.__class__ = Ephemeral
