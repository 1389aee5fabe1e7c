"""Rate schedules. The rates issue adds effective-dated versions and the rating engine."""

from __future__ import annotations

from django.db import models


class RateSchedule(models.Model):
    class CustomerClass(models.TextChoices):
        RESIDENTIAL = "residential", "Residential"
        SMALL_COMMERCIAL = "small_commercial", "Small commercial"
        LARGE_COMMERCIAL = "large_commercial", "Large commercial"
        MUNICIPAL = "municipal", "Municipal"
        LIGHTING = "lighting", "Street lighting"

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=120)
    customer_class = models.CharField(max_length=20, choices=CustomerClass.choices)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True, help_text="Open to new service agreements")

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"
