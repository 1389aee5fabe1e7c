"""The one place interfaces read the clock. Domain code takes times as arguments.

Tests and training sandboxes can pin or move the clock with ``frozen_at``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import datetime

from django.utils import timezone

_pinned = threading.local()


def now() -> datetime:
    pinned = getattr(_pinned, "at", None)
    return pinned if pinned is not None else timezone.now()


@contextlib.contextmanager
def frozen_at(moment: datetime) -> Iterator[None]:
    previous = getattr(_pinned, "at", None)
    _pinned.at = moment
    try:
        yield
    finally:
        _pinned.at = previous
