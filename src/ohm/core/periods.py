"""Half-open periods ``[start, end)`` of datetimes or dates; ``end`` None means open-ended.
Imports no Django."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


class InvalidPeriod(ValueError):
    """A period whose end is not after its start."""


@dataclass(frozen=True, slots=True)
class Period[T: (date, datetime)]:
    start: T
    end: T | None = None

    def __post_init__(self) -> None:
        if self.end is not None and not self.end > self.start:
            raise InvalidPeriod(f"period end {self.end} must be after its start {self.start}")

    def contains(self, moment: T) -> bool:
        return self.start <= moment and (self.end is None or moment < self.end)

    def overlaps(self, other: Period[T]) -> bool:
        starts_before_other_ends = other.end is None or self.start < other.end
        other_starts_before_self_ends = self.end is None or other.start < self.end
        return starts_before_other_ends and other_starts_before_self_ends

    @property
    def is_open(self) -> bool:
        return self.end is None
