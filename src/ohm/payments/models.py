"""Payments, cash drawers, deposit batches, file import runs and card processor records.

The money itself lives in ``ohm.ledger``: each payment points at the journal entry that
posted it (and at the one that reversed it). A payment's ``status`` says where its money is:

- ``posted``: on a customer account (cash clearing debit, receivables credit);
- ``unapplied``: in suspense (cash clearing debit, unapplied-cash credit) until a CSR applies it;
- ``reversed``: returned by the bank (NSF, stop payment, ACH return) or charged back;
- ``cancelled``: undone the same day for a cashier's error;
- ``pending`` / ``unknown``: a card payment sent to the processor with no answer yet (nothing
  is in the books until the processor's answer is known);
- ``declined``: the processor said no; nothing was posted.

Journal entries are referred to by their idempotency key (``to_field``), which the payment
chooses before posting, so file imports can write payments and entries set-based without
reading ids back. These references carry no database constraint: the journal is append-only
(its triggers refuse deletes), the key is written in the same transaction as its entry, and
a constraint would make SQLite search the payments for every journal entry inserted while a
payment waits for its entry in the same transaction.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Tender(models.TextChoices):
    CASH = "cash", "Cash"
    CHECK = "check", "Check"
    MONEY_ORDER = "money_order", "Money order"
    CARD = "card", "Card"
    ACH = "ach", "ACH"


class Channel(models.TextChoices):
    CASHIER = "cashier", "Cashier"
    PHONE_IVR = "phone_ivr", "Phone / IVR"
    PORTAL = "portal", "Portal"
    AUTOPAY = "autopay", "Autopay"
    LOCKBOX = "lockbox", "Lockbox"
    PAY_AGENT = "pay_agent", "Pay agent"
    COLLECTION_AGENCY = "collection_agency", "Collection agency"


#: The cash clearing GL role each channel's money lands in (``ohm.ledger.chart``).
CLEARING_ROLE: dict[str, str] = {
    Channel.CASHIER: "cash_cashier",
    Channel.PHONE_IVR: "cash_card",
    Channel.PORTAL: "cash_card",
    Channel.AUTOPAY: "cash_ach",
    Channel.LOCKBOX: "cash_lockbox",
    Channel.PAY_AGENT: "cash_pay_agent",
    Channel.COLLECTION_AGENCY: "cash_agency",
}


class Payment(models.Model):
    class Status(models.TextChoices):
        POSTED = "posted", "Posted"
        UNAPPLIED = "unapplied", "Unapplied (suspense)"
        REVERSED = "reversed", "Reversed"
        CANCELLED = "cancelled", "Cancelled"
        PENDING = "pending", "Pending (card)"
        UNKNOWN = "unknown", "Unknown (card, no answer)"
        DECLINED = "declined", "Declined"

    # Foreign keys that the composite indexes below cover, or that nothing looks up by, carry
    # no index of their own: every index costs each row of a 50,000-payment file import.
    account = models.ForeignKey(
        "customers.Account",
        null=True,
        blank=True,
        db_index=False,
        on_delete=models.PROTECT,
        related_name="payments",
        help_text="Empty while the payment is unapplied",
    )
    amount_cents = models.BigIntegerField(help_text="Cents, more than zero")
    tender = models.CharField(max_length=12, choices=Tender.choices)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    status = models.CharField(max_length=10, choices=Status.choices)
    idempotency_key = models.CharField(
        max_length=200,
        help_text="The channel's key: request id, lockbox item, ACH trace number; unique per channel",
    )
    reference = models.CharField(
        max_length=80, blank=True, help_text="Check number, trace number, item number"
    )
    payer_name = models.CharField(max_length=120, blank=True)
    tender_detail = models.CharField(
        max_length=60, blank=True, help_text="Masked, e.g. “Visa •••• 4242”; never a card number"
    )
    stated_account = models.CharField(
        max_length=40,
        blank=True,
        help_text="The account number or scan line the payer or file gave, as given",
    )
    unapplied_reason = models.CharField(max_length=200, blank=True)
    received_at = models.DateTimeField()
    effective_date = models.DateField()
    entry = models.ForeignKey(
        "ledger.JournalEntry",
        to_field="idempotency_key",
        db_column="entry_key",
        null=True,
        blank=True,
        db_index=False,
        db_constraint=False,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reversal_entry = models.ForeignKey(
        "ledger.JournalEntry",
        to_field="idempotency_key",
        db_column="reversal_entry_key",
        null=True,
        blank=True,
        db_index=False,
        db_constraint=False,
        on_delete=models.PROTECT,
        related_name="+",
    )
    fee_entry = models.ForeignKey(
        "ledger.JournalEntry",
        to_field="idempotency_key",
        db_column="fee_entry_key",
        null=True,
        blank=True,
        db_index=False,
        db_constraint=False,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reversal_reason = models.CharField(max_length=40, blank=True)
    reversed_at = models.DateTimeField(null=True, blank=True)
    drawer = models.ForeignKey(
        "CashDrawer",
        null=True,
        blank=True,
        db_index=False,
        on_delete=models.PROTECT,
        related_name="payments",
    )
    # No database constraint: every row of a file import set it, and on PostgreSQL each
    # checked it at commit (a trigger and a lock on the run's row per payment, ~0.7 s of a
    # 50,000-item file). The run is written, committed, before its first chunk and is never
    # deleted (PROTECT), so the reference cannot dangle.
    import_run = models.ForeignKey(
        "ImportRun",
        null=True,
        blank=True,
        db_index=False,
        db_constraint=False,
        on_delete=models.PROTECT,
        related_name="payments",
    )
    processor_ref = models.CharField(max_length=80, blank=True)
    processor_message = models.CharField(max_length=200, blank=True)
    work_item = models.ForeignKey(
        "workqueue.WorkItem",
        null=True,
        blank=True,
        db_index=False,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_by_label = models.CharField(max_length=150)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "idempotency_key"], name="payment_key_unique_per_channel"
            ),
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=~Q(status="posted", account__isnull=True),
                name="posted_payment_has_account",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "received_at"], name="payment_account_received"),
            models.Index(
                fields=["drawer"], condition=Q(drawer__isnull=False), name="payment_drawer"
            ),
            models.Index(fields=["received_at"], name="payment_received"),
            models.Index(
                fields=["status", "received_at"],
                condition=Q(status__in=["unapplied", "pending", "unknown"]),
                name="payment_open_status",
            ),
            models.Index(
                fields=["processor_ref"], condition=~Q(processor_ref=""), name="payment_card_ref"
            ),
        ]
        permissions = [
            ("take_payment", "Take payments (cashier screen, card, check)"),
            ("reverse_payment", "Reverse returned payments and cancel same-day payments"),
            ("transfer_payment", "Move a misapplied payment to another account"),
            ("apply_payment", "Apply unapplied payments from suspense"),
            ("import_payments", "Import lockbox and bank files"),
            ("sign_off_drawer", "Sign off cash drawers and make deposits"),
        ]

    def __str__(self) -> str:
        return f"Payment {self.pk} {self.amount_cents}¢ {self.channel}/{self.tender}"

    @property
    def is_in_books(self) -> bool:
        return self.status in (self.Status.POSTED, self.Status.UNAPPLIED)


class PaymentMove(models.Model):
    """A payment moved in the books after it posted: applied from suspense to an account, or
    transferred from the wrong account to the right one. One balanced entry each."""

    class Kind(models.TextChoices):
        APPLIED = "applied", "Applied from suspense"
        TRANSFERRED = "transferred", "Transferred"

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="moves")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    from_account = models.ForeignKey(
        "customers.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_account = models.ForeignKey("customers.Account", on_delete=models.PROTECT, related_name="+")
    entry = models.ForeignKey(
        "ledger.JournalEntry",
        to_field="idempotency_key",
        db_column="entry_key",
        on_delete=models.PROTECT,
        related_name="+",
    )
    reason = models.CharField(max_length=200, blank=True)
    moved_at = models.DateTimeField()
    actor_label = models.CharField(max_length=150)

    class Meta:
        ordering = ["moved_at", "id"]

    def __str__(self) -> str:
        return f"payment {self.payment_id} {self.kind} to {self.to_account_id}"


class CashDrawer(models.Model):
    """One cashier's drawer for one business day: opened with a float, closed with counts."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed, waiting for sign-off"
        SIGNED_OFF = "signed_off", "Signed off"

    cashier = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="cash_drawers"
    )
    name = models.CharField(max_length=40, help_text="The till, e.g. “Window 2”")
    business_date = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    float_cents = models.BigIntegerField(help_text="Starting cash, cents")
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    counted_cash_cents = models.BigIntegerField(
        null=True, blank=True, help_text="All cash in the drawer at close, float included"
    )
    counted_checks_cents = models.BigIntegerField(null=True, blank=True)
    counted_check_count = models.PositiveIntegerField(null=True, blank=True)
    counted_money_orders_cents = models.BigIntegerField(null=True, blank=True)
    expected_cash_cents = models.BigIntegerField(null=True, blank=True)
    expected_checks_cents = models.BigIntegerField(null=True, blank=True)
    expected_money_orders_cents = models.BigIntegerField(null=True, blank=True)
    over_short_cents = models.BigIntegerField(
        null=True, blank=True, help_text="Counted minus expected: positive over, negative short"
    )
    over_short_entry = models.ForeignKey(
        "ledger.JournalEntry",
        to_field="idempotency_key",
        db_column="over_short_entry_key",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    close_note = models.CharField(max_length=200, blank=True)
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    signed_off_at = models.DateTimeField(null=True, blank=True)
    deposit = models.ForeignKey(
        "DepositBatch", null=True, blank=True, on_delete=models.PROTECT, related_name="drawers"
    )

    class Meta:
        ordering = ["-business_date", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["cashier"], condition=Q(status="open"), name="one_open_drawer_per_cashier"
            ),
            models.CheckConstraint(
                condition=Q(float_cents__gte=0), name="drawer_float_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.business_date} ({self.cashier})"

    @property
    def deposit_cents(self) -> int | None:
        """What goes to the bank: everything counted but the float."""
        if self.counted_cash_cents is None:
            return None
        return (
            self.counted_cash_cents
            - self.float_cents
            + (self.counted_checks_cents or 0)
            + (self.counted_money_orders_cents or 0)
        )


class DepositBatch(models.Model):
    """Cash, checks and money orders of signed-off drawers taken to the bank together."""

    business_date = models.DateField()
    cash_cents = models.BigIntegerField()
    checks_cents = models.BigIntegerField()
    check_count = models.PositiveIntegerField()
    money_orders_cents = models.BigIntegerField()
    total_cents = models.BigIntegerField()
    bank_account = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField()
    created_by_label = models.CharField(max_length=150)

    class Meta:
        ordering = ["-business_date", "-id"]
        verbose_name_plural = "deposit batches"

    def __str__(self) -> str:
        return f"Deposit {self.pk} {self.business_date}"


class ImportRun(models.Model):
    """One bank or lockbox file's import: found by the file's SHA-256, posted in chunks by a
    ``core.BatchRun`` (``batch_run``). A run killed part way is resumed by importing the same
    file again: chunks already committed are skipped, the rest are posted. This row keeps what
    the payments office reads: the file, its totals and the reconciliation."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        REFUSED = "refused", "Refused"

    file_sha256 = models.CharField(max_length=64, unique=True)
    file_name = models.CharField(max_length=255)
    format = models.CharField(max_length=10)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    actor_label = models.CharField(max_length=150)
    deposit_date = models.DateField(null=True, blank=True)
    file_item_count = models.PositiveIntegerField(default=0)
    file_total_cents = models.BigIntegerField(default=0)
    batch_run = models.ForeignKey(
        "core.BatchRun", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    posted_count = models.PositiveIntegerField(default=0)
    posted_cents = models.BigIntegerField(default=0)
    unapplied_count = models.PositiveIntegerField(default=0)
    unapplied_cents = models.BigIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(
        default=0, help_text="Items posted before from another file (same bank item key)"
    )
    duplicate_cents = models.BigIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(
        default=0, help_text="Records that are not payments (e.g. BAI2 debits)"
    )
    skipped_cents = models.BigIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    notes = models.JSONField(default=list, blank=True, help_text="Per-item remarks, e.g. suspense")

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.format} import {self.file_name} ({self.status})"

    @property
    def reconciled(self) -> bool:
        """File totals equal what was posted: to accounts, to suspense, and items an earlier
        file had already posted."""
        return (
            self.status == self.Status.DONE
            and self.posted_cents + self.unapplied_cents + self.duplicate_cents
            == self.file_total_cents
            and self.posted_count + self.unapplied_count + self.duplicate_count
            == self.file_item_count
        )


class CardWebhookEvent(models.Model):
    """A processor webhook received (signature checked); its id makes a resend a no-op."""

    event_id = models.CharField(max_length=80, unique=True)
    kind = models.CharField(max_length=40)
    processor_ref = models.CharField(max_length=80, blank=True)
    payload = models.JSONField()
    received_at = models.DateTimeField()
    outcome = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-received_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.event_id}"


class SimulatedCardCharge(models.Model):
    """The fake processor's own books (simulator only): what it charged, under which key.

    A real processor keeps this on its side; the simulator keeps it here so that a timeout
    in one process can be looked up by the janitor in another.
    """

    idempotency_key = models.CharField(max_length=200, unique=True)
    processor_ref = models.CharField(max_length=80, unique=True)
    token = models.CharField(max_length=80)
    amount_cents = models.BigIntegerField()
    status = models.CharField(max_length=12)  # authorized, captured, voided, refunded, declined
    refunded_cents = models.BigIntegerField(default=0)
    created_at = models.DateTimeField()
    decline_reason = models.CharField(max_length=80, blank=True)

    def __str__(self) -> str:
        return f"simulated charge {self.processor_ref} {self.status}"


class SimulatedCardRefund(models.Model):
    """A refund the fake processor made (simulator only), under the caller's idempotency key:
    the same key again returns this refund and gives nothing back twice."""

    idempotency_key = models.CharField(max_length=200, unique=True)
    processor_ref = models.CharField(max_length=80, unique=True)
    charge = models.ForeignKey(
        SimulatedCardCharge, on_delete=models.PROTECT, related_name="refunds"
    )
    amount_cents = models.BigIntegerField()
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"simulated refund {self.processor_ref} of {self.charge_id}"
