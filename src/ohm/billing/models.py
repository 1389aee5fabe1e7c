"""Bills: cycles, bills with their segments (one per service agreement), lines, determinants,
exception rules.

Nothing is edited in place once issued. A bill is held (exceptions found, not yet posted),
issued (its journal entry posted), cancelled (its entry reversed) or discarded (a held bill
that never reached the books). A rebill is a new bill that names the bill it replaces.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import NamedTuple

from django.conf import settings
from django.db import models
from django.db.models import Case, F, Q, Value, When

from ohm.billing import calendar
from ohm.core import fields


class BillCycle(models.Model):
    """One of the twenty cycles accounts are billed in (``Account.bill_cycle``)."""

    number = models.PositiveSmallIntegerField(primary_key=True)
    name = models.CharField(max_length=60)
    read_business_day = models.PositiveSmallIntegerField(
        help_text="Read on this business day of each month (weekends and holidays skipped)"
    )
    bill_lag_days = models.PositiveSmallIntegerField(
        default=1, help_text="Business days from the read to the bill date"
    )
    due_days = models.PositiveSmallIntegerField(
        default=21, help_text="Calendar days from the bill date to the due date"
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["number"]

    def __str__(self) -> str:
        return f"Cycle {self.number}"

    @property
    def rule(self) -> calendar.CycleRule:
        return calendar.CycleRule(
            number=self.number,
            read_business_day=self.read_business_day,
            bill_lag_days=self.bill_lag_days,
            due_days=self.due_days,
        )


class BillExceptionRule(models.Model):
    """A check every bill passes before it is issued; a bill that fails one is held for an
    analyst. ``threshold`` means what the rule's help says (a ratio, a count, cents)."""

    code = models.CharField(max_length=30, primary_key=True)
    label = models.CharField(max_length=120)
    is_active = models.BooleanField(default=True)
    threshold = models.CharField(
        max_length=20, blank=True, help_text="Decimal; its meaning is in the label"
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.label


class Bill(models.Model):
    """One account's bill for one period. Bills are cancelled, discarded or replaced by a
    rebill, never deleted (every reference to one is ``PROTECT``)."""

    class Status(models.TextChoices):
        HELD = "held", "Held for review"
        ISSUED = "issued", "Issued"
        CANCELLED = "cancelled", "Cancelled"
        DISCARDED = "discarded", "Discarded (never issued)"

    class Delivery(models.TextChoices):
        EMAIL = "email", "E-bill (paperless)"
        PRINT = "print", "Printed and mailed"

    # Never deleted, so a rowid key: no AUTOINCREMENT bookkeeping on SQLite (ADR 0006), and
    # ``max(id) + 1`` is still the next id (``operations._reserve_ids``).
    id = fields.RowidPrimaryKey(primary_key=True)
    number = models.CharField(max_length=20, unique=True)
    # Indexes cost every row a bill run writes: the account's bills are found through the
    # (account, end_date, …) unique index below, so the foreign keys that nobody searches by
    # carry none of their own.
    account = models.ForeignKey(
        "customers.Account", on_delete=models.PROTECT, related_name="bills", db_index=False
    )
    cycle = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices)
    bill_date = models.DateField()
    due_date = models.DateField()
    start_date = models.DateField(help_text="First local day billed (earliest segment)")
    end_date = models.DateField(help_text="Exclusive: the read date that closed the period")
    # Cents. The account summary printed on the bill: previous + payments + adjustments +
    # new charges = total due (payments and credits negative).
    previous_balance_cents = models.BigIntegerField(default=0)
    payments_cents = models.BigIntegerField(default=0)
    adjustments_cents = models.BigIntegerField(default=0)
    new_charges_cents = models.BigIntegerField(default=0)
    total_due_cents = models.BigIntegerField(default=0)
    is_estimated = models.BooleanField(default=False)
    estimated_streak = models.PositiveSmallIntegerField(
        default=0, help_text="Estimated bills in a row, this one included"
    )
    is_first = models.BooleanField(default=False)
    is_final = models.BooleanField(default=False)
    # Written only by billing (``operations._write``, with ``json.dumps``); read by the
    # console, presentment and the held-bill work item: no JSON CHECK on SQLite (ADR 0006).
    exceptions = fields.UncheckedJSONField(
        default=list, blank=True, help_text="[{code, message}] found before issuing"
    )
    messages = fields.UncheckedJSONField(
        default=list, blank=True, help_text="[{code, text}] printed"
    )
    language = models.CharField(max_length=5, default="en")
    delivery = models.CharField(max_length=5, choices=Delivery.choices, default=Delivery.PRINT)
    entry_key = models.CharField(
        max_length=60, blank=True, help_text="Idempotency key of the bill's journal entry"
    )
    entry = models.ForeignKey(
        "ledger.JournalEntry",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    reversal_entry = models.ForeignKey(
        "ledger.JournalEntry",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    # At most one rebill per bill: a partial unique index (``bill_replaced_once``), so the
    # bills that replace nothing (nearly all) cost no index entry.
    replaces = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="replaced_by",
        db_index=False,
    )
    # Which run wrote it; nothing searches bills by run (the period's bills are found by
    # cycle and end date), and runs are never deleted.
    run = models.ForeignKey(
        "core.BatchRun",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    work_item_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()
    created_by_label = models.CharField(max_length=150)
    issued_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(
        null=True, blank=True, help_text="When it was cancelled or discarded"
    )
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    close_reason = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-bill_date", "-id"]
        constraints = [
            # A period of an account is billed once: the bill run's exactly-once guarantee
            # holds in the database too. A rebill comes after the original is cancelled.
            # The third key is TRUE for a live bill and NULL otherwise (NULLs never collide),
            # so any number of cancelled bills may share the period. Not a partial index on
            # purpose: this one index is also how an account's bills are found (by account,
            # then end date) — a partial one would serve only queries that repeat its
            # condition, and a second index on the account would cost every bill written.
            models.UniqueConstraint(
                F("account"),
                F("end_date"),
                Case(When(status__in=["held", "issued"], then=Value(True)), default=None),
                name="one_live_bill_per_account_period",
            ),
            models.UniqueConstraint(
                fields=["replaces"],
                condition=Q(replaces__isnull=False),
                name="bill_replaced_once",
            ),
        ]
        indexes = [
            # A period's bills (delivery): end date first, so a run's bills go at the end.
            models.Index(fields=["end_date", "cycle"], name="bill_period"),
            # The held-bill queue and its counts per cycle; issued bills cost nothing.
            models.Index(fields=["cycle"], condition=Q(status="held"), name="bill_held"),
        ]
        permissions = [
            ("run_bills", "Run bill cycles"),
            ("review_bill", "Release, cancel and rebill bills"),
        ]

    def __str__(self) -> str:
        return f"bill {self.number}"

    @property
    def days(self) -> int:
        return (self.end_date - self.start_date).days

    @property
    def is_live(self) -> bool:
        return self.status in (self.Status.HELD, self.Status.ISSUED)

    def line_list(self) -> list[BillLine]:
        """The bill's lines in order, numbered from 1 across its segments."""
        return lines_of_bills([self.pk]).get(self.pk, [])


class BillSegment(models.Model):
    """One service agreement's part of a bill, with the determinants it was rated on."""

    id = fields.RowidPrimaryKey(primary_key=True)  # never deleted, like its bill
    bill = models.ForeignKey(Bill, on_delete=models.PROTECT, related_name="segments")
    agreement = models.ForeignKey(  # searched through the (agreement, end_date) index
        "agreements.ServiceAgreement",
        on_delete=models.PROTECT,
        related_name="bill_segments",
        db_index=False,
    )
    rate_code = models.CharField(max_length=20)
    # With ``determinants``: written only by billing (``operations._write``, the JSON text
    # made when the segment was rated); read by the console, ``queries.facts`` and rebills:
    # no JSON CHECK on SQLite (ADR 0006).
    rate_versions = fields.UncheckedJSONField(
        default=list, help_text="[{id, number, start, end}] versions that priced the days"
    )
    start_date = models.DateField()
    end_date = models.DateField(help_text="Exclusive")
    days = models.PositiveSmallIntegerField()
    # Determinants: integer watt-hours and watts; the estimated share a fraction 0..1.
    usage_wh = models.BigIntegerField(default=0, help_text="Energy delivered, Wh")
    received_wh = models.BigIntegerField(default=0, help_text="Energy exported, Wh")
    max_demand_w = models.BigIntegerField(default=0, help_text="Highest interval-average W")
    estimated_share = models.FloatField(default=0)
    missing_share = models.FloatField(default=0)
    determinants = fields.UncheckedJSONField(
        default=dict,
        help_text="Detail: Wh per TOU period, demand W per period, tiers, interval minutes",
    )
    charges_cents = models.BigIntegerField(default=0)
    lines_json = models.TextField(
        default="[]",
        help_text="The segment's bill lines, in order: JSON [[component, GL role, description, "
        "quantity, unit, price, cents, clause], …] (``line_list()``)",
    )

    class Meta:
        ordering = ["bill", "id"]
        indexes = [
            models.Index(fields=["agreement", "end_date"], name="bill_segment_agreement_end")
        ]

    def __str__(self) -> str:
        return f"{self.bill} segment {self.agreement_id}"

    def line_list(self, first_sequence: int = 1) -> list[BillLine]:
        return decode_lines(self.lines_json, segment_id=self.pk, first_sequence=first_sequence)


class BillLine(NamedTuple):
    """One charge as the customer reads it. ``amount_cents`` is the one rounded figure;
    quantity and price are the engine's Decimals as text. Lines are kept in their segment's
    row (``BillSegment.lines_json``): a bill run writes a row per bill and per segment, not
    one per line (the "few, wide rows" rule of the architecture)."""

    sequence: int
    segment_id: int | None
    component: str
    gl_role: str
    description: str
    quantity: str
    unit: str
    price: str
    amount_cents: int
    clause: str


def decode_lines(text: str, *, segment_id: int | None, first_sequence: int = 1) -> list[BillLine]:
    return [
        BillLine(first_sequence + k, segment_id, *row) for k, row in enumerate(json.loads(text))
    ]


def lines_of_bills(bill_ids: Iterable[int]) -> dict[int, list[BillLine]]:
    """Each bill's lines in order (its segments in id order), in one query."""
    out: dict[int, list[BillLine]] = {}
    rows = (
        BillSegment.objects.filter(bill_id__in=list(bill_ids))
        .order_by("bill_id", "id")
        .values_list("bill_id", "id", "lines_json")
    )
    for bill_id, segment_id, text in rows:
        mine = out.setdefault(bill_id, [])
        mine.extend(decode_lines(text, segment_id=segment_id, first_sequence=len(mine) + 1))
    return out
