"""Financial transactions people make on customer accounts: reason codes, fee schedules and
requests waiting for a second person's approval.

The money itself lives in ``ohm.ledger``; these tables say *why* (reason codes), *how much*
(fee schedules) and *who let it happen* (requests above the maker's limit).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class AdjustmentReason(models.Model):
    """Why an account is charged or credited by hand, and where the other side posts."""

    class Direction(models.TextChoices):
        CREDIT = "credit", "Credits only"
        DEBIT = "debit", "Charges only"
        BOTH = "both", "Credits and charges"

    class LineCategory(models.TextChoices):
        CHARGE = "charge", "Charge"
        DEPOSIT = "deposit", "Deposit charge"

    code = models.CharField(max_length=40, unique=True)
    label = models.CharField(max_length=100)
    direction = models.CharField(max_length=6, choices=Direction.choices, default=Direction.BOTH)
    gl_role = models.CharField(
        max_length=40,
        help_text="The GL account role the other side of the receivable line posts to "
        "(e.g. billing_adjustments, tax_uut, deposits_held)",
    )
    line_category = models.CharField(
        max_length=12,
        choices=LineCategory.choices,
        default=LineCategory.CHARGE,
        help_text="How a charge under this reason is applied by payments: deposit charges are "
        "paid after regular charges, so they never make an account look past due on its bill",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["label"]

    def __str__(self) -> str:
        return self.label

    def allows(self, direction: str) -> bool:
        return self.direction in (self.Direction.BOTH, direction)


class FeeSchedule(models.Model):
    """A fee's amount from ``effective_date`` on; the latest row on or before a date applies.

    The late fee is ``rate_basis_points`` of the past-due amount, charged only when the past
    due is at least ``minimum_past_due_cents``, and kept between ``floor_cents`` and
    ``cap_cents``. The other fees are the flat ``amount_cents``.
    """

    class Kind(models.TextChoices):
        LATE = "late", "Late payment fee"
        RETURNED_PAYMENT = "returned_payment", "Returned payment fee"
        RECONNECT = "reconnect", "Reconnection fee"
        FIELD_TRIP = "field_trip", "Field trip fee"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    effective_date = models.DateField()
    amount_cents = models.BigIntegerField(default=0, help_text="Flat fees: the fee in cents")
    rate_basis_points = models.PositiveIntegerField(
        default=0, help_text="Late fee: hundredths of a percent of the past due (150 = 1.5%)"
    )
    minimum_past_due_cents = models.BigIntegerField(
        default=0, help_text="Late fee: no fee below this past-due amount"
    )
    floor_cents = models.BigIntegerField(default=0, help_text="Late fee: at least this much")
    cap_cents = models.BigIntegerField(
        null=True, blank=True, help_text="Late fee: at most this much (empty: no cap)"
    )

    class Meta:
        ordering = ["kind", "-effective_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "effective_date"], name="one_fee_per_kind_date"
            ),
            models.CheckConstraint(
                condition=Q(amount_cents__gte=0), name="fee_amount_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} from {self.effective_date}"


class FinancialRequest(models.Model):
    """A transaction above its maker's limit, waiting for a different person to approve it.

    ``payload`` holds the operation's arguments (ids and ISO dates); approving runs the
    operation then, keyed by the request so it posts once however often it is approved.
    """

    class Kind(models.TextChoices):
        ADJUSTMENT = "adjustment", "Adjustment"
        TRANSFER = "transfer", "Balance transfer"
        WRITE_OFF = "write_off", "Write-off"
        WRITE_OFF_REVERSAL = "write_off_reversal", "Write-off reversal"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    payload = models.JSONField()
    amount_cents = models.BigIntegerField()
    account = models.ForeignKey(
        "customers.Account", on_delete=models.PROTECT, related_name="financial_requests"
    )
    summary = models.CharField(max_length=200)
    idempotency_key = models.CharField(max_length=200, unique=True)
    maker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="financial_requests_made"
    )
    made_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    checker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="financial_requests_decided",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)
    journal_entry = models.OneToOneField(
        "ledger.JournalEntry",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="financial_request",
    )
    work_item = models.ForeignKey(
        "workqueue.WorkItem", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["made_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="request_amount_positive")
        ]
        permissions = [
            ("post_adjustment", "Charge or credit a customer account with a reason code"),
            ("assess_fee", "Charge a fee from the fee schedule"),
            ("transfer_balance", "Move a balance from one account to another"),
            ("write_off", "Write off a balance, reverse a write-off, record a recovery"),
            ("approve_request", "Approve or reject others' requests within one's own limit"),
        ]

    def __str__(self) -> str:
        return f"Request {self.pk}: {self.summary}"

    @property
    def is_pending(self) -> bool:
        return self.status == self.Status.PENDING
