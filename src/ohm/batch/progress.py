"""A small terminal progress bar for long batch commands.

``ProgressBar`` is called as ``bar(stage, done, total)``. On a terminal it redraws one line
in place; elsewhere (a log file, a test's captured output) it writes one line per stage when
the stage finishes, so logs stay short.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 30


class ProgressBar:
    def __init__(self, stream: TextIO | None = None, *, interactive: bool | None = None):
        self.stream = stream or sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.interactive = interactive if interactive is not None else bool(isatty and isatty())
        self.started = time.monotonic()
        self._stage = ""
        self._stage_started = self.started
        self._last_draw = 0.0
        self._last_call = self.started

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage != self._stage:
            # A stage began when the previous one last reported.
            self._stage = stage
            self._stage_started = self._last_call
        self._last_call = now
        finished = total > 0 and done >= total
        if self.interactive:
            # Redrawing more often than ~10 times a second only costs time.
            if not finished and now - self._last_draw < 0.1:
                return
            self._last_draw = now
            fraction = min(done / total, 1.0) if total else 1.0
            filled = int(WIDTH * fraction)
            bar = "█" * filled + "·" * (WIDTH - filled)
            line = f"\r  {stage:<24} {bar} {done:>8,}/{total:<8,} {now - self.started:6.1f}s"
            self.stream.write(line + ("\n" if finished else ""))
            self.stream.flush()
        elif finished:
            self.stream.write(f"  {stage:<24} {total:>8,} in {now - self._stage_started:5.1f}s\n")
            self.stream.flush()
