"""Chart of accounts, accounting periods and the journal.

Invariants (checked in ``operations`` and, for immutability, by database triggers):
- every ``JournalEntry``'s lines sum to zero (debits positive, credits negative, in cents);
- entries and lines are never updated or deleted: a correction is a reversing entry;
- receivable lines carry the customer account, so the receivables control account equals
  the sum of customer balances at every instant.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class GLAccount(models.Model):
    class Kind(models.TextChoices):
        ASSET = "asset", "Asset"
        LIABILITY = "liability", "Liability"
        EQUITY = "equity", "Equity"
        REVENUE = "revenue", "Revenue"
        EXPENSE = "expense", "Expense"

    code = models.CharField(
        max_length=20, unique=True, help_text="The city's general-ledger account code"
    )
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    role = models.CharField(
        max_length=40,
        blank=True,
        help_text="What Ohm posts here (e.g. receivables, cash_cashier); empty for accounts only people post to",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["role"], condition=~Q(role=""), name="one_gl_account_per_role"
            )
        ]
        verbose_name = "GL account"

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class AccountingPeriod(models.Model):
    """A calendar month of the books. Months without a row are open."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    year = models.PositiveSmallIntegerField()
    month = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.OPEN)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by_label = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["-year", "-month"]
        constraints = [
            models.UniqueConstraint(fields=["year", "month"], name="one_period_per_month"),
            models.CheckConstraint(
                condition=Q(month__gte=1, month__lte=12), name="period_month_1_to_12"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.year}-{self.month:02d} ({self.status})"


class JournalEntry(models.Model):
    """One balanced posting. Never updated or deleted (database triggers refuse it)."""

    kind = models.CharField(
        max_length=30,
        help_text="bill, payment, adjustment, fee, transfer, write_off, recovery, reversal, opening_balance, …",
    )
    effective_date = models.DateField(
        db_index=True, help_text="The business date the books show it on"
    )
    posted_at = models.DateTimeField(help_text="When it was written")
    description = models.CharField(max_length=200)
    reason_code = models.CharField(max_length=40, blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=150)
    source = models.CharField(
        max_length=80, blank=True, help_text="What caused it, e.g. bill:123, payment:45, approval:6"
    )

    class Meta:
        ordering = ["effective_date", "id"]
        verbose_name_plural = "journal entries"
        permissions = [
            ("view_books", "See the books: trial balance, GL summary, aging report"),
            ("close_period", "Close and reopen accounting periods"),
        ]

    def __str__(self) -> str:
        return f"JE {self.pk} {self.kind} {self.effective_date}"


class JournalLine(models.Model):
    class Category(models.TextChoices):
        CHARGE = "charge", "Charge"
        DEPOSIT = "deposit", "Deposit charge"
        ARRANGEMENT = "arrangement", "Arrangement installment"
        CREDIT = "credit", "Credit"

    entry = models.ForeignKey(JournalEntry, on_delete=models.PROTECT, related_name="lines")
    # The composite indexes below lead with gl_account and with account, so these foreign
    # keys need no index of their own (each index costs every batch insert: ADR 0004).
    gl_account = models.ForeignKey(
        GLAccount, on_delete=models.PROTECT, related_name="lines", db_index=False
    )
    amount_cents = models.BigIntegerField(
        help_text="Cents. Debits positive, credits negative; the lines of one entry sum to zero"
    )
    account = models.ForeignKey(
        "customers.Account",
        null=True,
        blank=True,
        db_index=False,
        on_delete=models.PROTECT,
        related_name="journal_lines",
        help_text="Customer subledger key (always on receivable lines)",
    )
    service_agreement = models.ForeignKey(
        "agreements.ServiceAgreement",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="journal_lines",
    )
    effective_date = models.DateField(
        help_text="The entry's effective date, copied for fast balance and aging queries"
    )
    due_date = models.DateField(
        null=True, blank=True, help_text="When a receivable debit falls due; aging counts from it"
    )
    category = models.CharField(
        max_length=12,
        choices=Category.choices,
        default=Category.CHARGE,
        help_text="How payments apply to it: charges oldest first, then arrangement installments, then deposits",
    )
    memo = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(amount_cents=0), name="journal_line_not_zero")
        ]
        indexes = [
            models.Index(
                fields=["account", "gl_account", "effective_date"], name="journal_line_subledger"
            ),
            models.Index(fields=["gl_account", "effective_date"], name="journal_line_gl_date"),
        ]

    def __str__(self) -> str:
        return f"{self.gl_account.code} {self.amount_cents:+d}"
