"""Banking: autopay enrolments, the ACH files Ohm sends and the returns the bank sends back,
and refunds of credit balances by check or ACH credit.

Bank account numbers are encrypted at rest (``EncryptedTextField``) and shown masked; the
last four digits are kept apart in the clear so screens and searches never decrypt. The
NACHA text of a file holds full account numbers, so it is encrypted too.

Each ACH entry has a ``dedupe_key`` (``autopay:<account>:<due date>``, ``prenote:…``,
``refund:<id>``) that is unique among entries not cancelled: an autopay debit can sit in one
file only, ever.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from ohm.core.crypto import EncryptedTextField, mask_tail


class AccountType(models.TextChoices):
    CHECKING = "checking", "Checking"
    SAVINGS = "savings", "Savings"


class AutopayEnrolment(models.Model):
    """A customer's standing authorization to debit their bank account on each due date."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        CANCELLED = "cancelled", "Cancelled"

    class Prenote(models.TextChoices):
        NOT_REQUIRED = "not_required", "Not required"
        PENDING = "pending", "To be sent"
        SENT = "sent", "Sent, waiting"
        CLEARED = "cleared", "Cleared"
        FAILED = "failed", "Returned"

    account = models.ForeignKey(
        "customers.Account", on_delete=models.PROTECT, related_name="autopay_enrolments"
    )
    holder_name = models.CharField(max_length=22, help_text="The name on the bank account")
    routing_number = models.CharField(max_length=9)
    account_number = EncryptedTextField(help_text="Encrypted at rest; shown masked")
    account_last4 = models.CharField(max_length=4)
    account_type = models.CharField(max_length=8, choices=AccountType.choices)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.ACTIVE, db_index=True
    )
    prenote_status = models.CharField(
        max_length=12, choices=Prenote.choices, default=Prenote.PENDING
    )
    prenote_sent_date = models.DateField(null=True, blank=True)
    start_date = models.DateField(help_text="No debit for amounts due before this date")
    enrolled_at = models.DateTimeField()
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    enrolled_by_label = models.CharField(max_length=150)
    bank_changed_at = models.DateTimeField(
        help_text="When the bank details were last set: refunds to them wait out a cooling-off period"
    )
    status_reason = models.CharField(max_length=200, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-enrolled_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=~Q(status="cancelled"),
                name="one_live_autopay_per_account",
            )
        ]

    def __str__(self) -> str:
        return f"Autopay {self.pk} on account {self.account_id} ({self.masked_account})"

    @property
    def masked_account(self) -> str:
        return mask_tail("0" * 4 + self.account_last4)

    @property
    def is_live(self) -> bool:
        return self.status != self.Status.CANCELLED


class AchFile(models.Model):
    """One NACHA file: built by one person, released to the bank by a different one."""

    class Status(models.TextChoices):
        BUILT = "built", "Built, awaiting release"
        RELEASED = "released", "Released to the bank"
        CANCELLED = "cancelled", "Cancelled"

    effective_date = models.DateField(help_text="The settlement date asked of the bank")
    creation_date = models.DateField(help_text="The file header's creation date")
    file_id_modifier = models.CharField(max_length=1)
    file_name = models.CharField(max_length=80)
    content = EncryptedTextField(help_text="The NACHA text (holds account numbers: encrypted)")
    sha256 = models.CharField(max_length=64, unique=True)
    entry_count = models.PositiveIntegerField()
    prenote_count = models.PositiveIntegerField(default=0)
    debit_cents = models.BigIntegerField()
    credit_cents = models.BigIntegerField()
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.BUILT, db_index=True
    )
    built_at = models.DateTimeField()
    built_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    built_by_label = models.CharField(max_length=150)
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_note = models.CharField(max_length=200, blank=True)
    release_run = models.ForeignKey(
        "core.BatchRun",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Posting the released entries, chunk by chunk",
    )

    class Meta:
        ordering = ["-built_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["creation_date", "file_id_modifier"], name="ach_file_modifier_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"ACH file {self.file_name}"


class AchEntry(models.Model):
    """One entry of an ACH file: an autopay debit, a prenote or a refund credit."""

    class Kind(models.TextChoices):
        DEBIT = "debit", "Autopay debit"
        PRENOTE = "prenote", "Prenote"
        CREDIT = "credit", "Refund credit"

    class Status(models.TextChoices):
        BUILT = "built", "In a file awaiting release"
        SENT = "sent", "Sent"
        RETURNED = "returned", "Returned"
        CANCELLED = "cancelled", "Cancelled (file not released)"

    ach_file = models.ForeignKey(AchFile, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BUILT)
    account = models.ForeignKey(
        "customers.Account", on_delete=models.PROTECT, related_name="ach_entries"
    )
    enrolment = models.ForeignKey(
        AutopayEnrolment, null=True, blank=True, on_delete=models.PROTECT, related_name="entries"
    )
    refund = models.ForeignKey(
        "Refund", null=True, blank=True, on_delete=models.PROTECT, related_name="ach_entries"
    )
    dedupe_key = models.CharField(max_length=80)
    due_date = models.DateField(null=True, blank=True)
    amount_cents = models.BigIntegerField()
    transaction_code = models.PositiveSmallIntegerField()
    trace_number = models.CharField(max_length=15, unique=True)
    routing_number = models.CharField(max_length=9)
    account_last4 = models.CharField(max_length=4)
    payment = models.ForeignKey(
        "payments.Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    return_code = models.CharField(max_length=3, blank=True)

    class Meta:
        ordering = ["ach_file", "trace_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["dedupe_key"],
                condition=~Q(status="cancelled"),
                name="ach_entry_once_ever",
            ),
            models.CheckConstraint(
                condition=Q(amount_cents__gte=0), name="ach_amount_not_negative"
            ),
        ]
        verbose_name_plural = "ACH entries"

    def __str__(self) -> str:
        return f"ACH {self.get_kind_display().lower()} {self.trace_number}"

    @property
    def masked_account(self) -> str:
        return mask_tail("0" * 4 + self.account_last4)


class AchReturnImport(models.Model):
    """A returns / notifications-of-change file read once (its SHA-256 is the key)."""

    sha256 = models.CharField(max_length=64, unique=True)
    file_name = models.CharField(max_length=200)
    imported_at = models.DateTimeField()
    imported_by_label = models.CharField(max_length=150)
    return_count = models.PositiveIntegerField(default=0)
    change_count = models.PositiveIntegerField(default=0)
    returned_cents = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["-imported_at", "-id"]

    def __str__(self) -> str:
        return f"Returns file {self.file_name}"


class AchReturnItem(models.Model):
    """One return (R-code) or notification of change (C-code) and what Ohm did about it."""

    class Kind(models.TextChoices):
        RETURN = "return", "Return"
        CHANGE = "change", "Notification of change"

    imported = models.ForeignKey(AchReturnImport, on_delete=models.PROTECT, related_name="items")
    kind = models.CharField(max_length=6, choices=Kind.choices)
    code = models.CharField(max_length=3)
    original_trace = models.CharField(max_length=15)
    entry = models.ForeignKey(
        AchEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="return_items"
    )
    amount_cents = models.BigIntegerField(default=0)
    outcome = models.CharField(max_length=300)
    work_item = models.ForeignKey(
        "workqueue.WorkItem", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["imported", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["original_trace", "kind", "code"], name="ach_return_item_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} on {self.original_trace}"


class Refund(models.Model):
    """Money owed back to a customer with a credit balance, paid by check or ACH credit.

    Ledger: at approval, receivables DR / refunds payable CR (the credit leaves the account);
    at issue, refunds payable DR / cash CR (the check or ACH credit leaves the bank; a card
    refund leaves card cash clearing, as the processor nets it from its next settlement).
    """

    class Reason(models.TextChoices):
        OVERPAYMENT = "overpayment", "Overpayment"
        FINAL_BILL = "final_bill", "Credit on a final bill"
        DEPOSIT_RETURN = "deposit_return", "Deposit return"

    class Method(models.TextChoices):
        CHECK = "check", "Check to the mailing address"
        ACH = "ach", "ACH credit to the autopay bank account"
        CARD = "card", "Back to the card that paid"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending approval"
        APPROVED = "approved", "Approved, to be issued"
        ISSUED = "issued", "Issued"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"
        VOID = "void", "Check voided"

    account = models.ForeignKey(
        "customers.Account", on_delete=models.PROTECT, related_name="refunds"
    )
    amount_cents = models.BigIntegerField()
    reason = models.CharField(max_length=16, choices=Reason.choices)
    method = models.CharField(max_length=6, choices=Method.choices)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    memo = models.CharField(max_length=200, blank=True)
    payee_name = models.CharField(max_length=120)
    payee_address = models.TextField(help_text="The mailing address of record, as at the request")
    enrolment = models.ForeignKey(
        AutopayEnrolment, null=True, blank=True, on_delete=models.PROTECT, related_name="refunds"
    )
    idempotency_key = models.CharField(max_length=200, unique=True)
    maker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="refunds_made"
    )
    made_at = models.DateTimeField()
    checker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="refunds_decided",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=500, blank=True)
    approval_entry = models.OneToOneField(
        "ledger.JournalEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    issue_entry = models.OneToOneField(
        "ledger.JournalEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    issued_at = models.DateTimeField(null=True, blank=True)
    work_item = models.ForeignKey(
        "workqueue.WorkItem", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    payment = models.ForeignKey(
        "payments.Payment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="A card refund: the card payment whose card gets the money back",
    )
    processor_ref = models.CharField(
        max_length=80, blank=True, help_text="The card processor's reference of the refund"
    )
    processor_message = models.CharField(
        max_length=200, blank=True, help_text="The processor's latest answer (timeout, refusal)"
    )

    class Meta:
        ordering = ["-made_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(
                condition=~Q(method="card") | Q(payment__isnull=False),
                name="card_refund_names_its_payment",
            ),
        ]

    def __str__(self) -> str:
        return f"Refund {self.pk}"


class RefundCheck(models.Model):
    """The check register: one row per check Ohm prints, reported to the bank (positive pay)."""

    class Status(models.TextChoices):
        ISSUED = "issued", "Issued"
        VOID = "void", "Void"

    number = models.PositiveIntegerField(unique=True)
    refund = models.ForeignKey(Refund, on_delete=models.PROTECT, related_name="checks")
    payee_name = models.CharField(max_length=120)
    amount_cents = models.BigIntegerField()
    issue_date = models.DateField(db_index=True)
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.ISSUED)
    void_reason = models.CharField(max_length=200, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"Check {self.number}"
