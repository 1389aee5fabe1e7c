"""Chart of accounts, accounting periods and the journal.

Invariants (checked in ``operations`` and, for immutability, by database triggers):
- every ``JournalEntry``'s lines sum to zero (debits positive, credits negative, in cents);
- entries, their lines and GL totals are never updated or deleted: a correction is a
  reversing entry;
- receivable lines carry the customer account, so the receivables control account equals
  the sum of customer balances at every instant.

Layout ("few, wide rows", ADR 0005): an entry is ONE row. Its first receivable line lives in
the entry's own indexed columns (``account`` … ``receivable_memo``), further receivable lines
(a transfer's second account, a bill's second service agreement) in ``ReceivableExtra`` rows,
and every other line in the compact JSON array ``other_lines``. ``Receivable`` is a database
view over the first two: the customer subledger, one row per receivable line. ``GLTotal`` rows
carry each posting's debits and credits per GL account and day, for the trial balance and
the GL summary; ``ohm ledger check`` recomputes them from the lines.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from ohm.core import fields
from ohm.ledger.lines import Line, join

RECEIVABLES = "receivables"


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


# The journal's primary key and ``other_lines`` (ADR 0006). On SQLite: no ``AUTOINCREMENT``
# (the append-only triggers guarantee nothing is deleted) and no ``JSON_VALID`` CHECK (only the
# ledger writes ``other_lines``, through the ORM's JSON encoder or the batch's templates in
# ``ohm.ledger.batch``; ``check_books`` reads every row back through ``json_each``, which
# refuses malformed JSON). The names stay: migration 0006 refers to them.
JournalId = fields.RowidPrimaryKey
LinesField = fields.UncheckedJSONField


class Category(models.TextChoices):
    """How a receivable line takes part in payment application (``ohm.ledger.aging``)."""

    CHARGE = "charge", "Charge"
    DEPOSIT = "deposit", "Deposit charge"
    ARRANGEMENT = "arrangement", "Arrangement installment"
    CREDIT = "credit", "Credit"


class JournalEntry(models.Model):
    """One balanced posting, in one row. Never updated or deleted (database triggers refuse it)."""

    Category = Category

    id = JournalId(primary_key=True)
    kind = models.CharField(
        max_length=30,
        help_text="bill, payment, adjustment, fee, transfer, write_off, recovery, reversal, opening_balance, …",
    )
    effective_date = models.DateField(help_text="The business date the books show it on")
    posted_at = models.DateTimeField(help_text="When it was written")
    description = models.CharField(max_length=200)
    reason_code = models.CharField(max_length=40, blank=True)
    idempotency_key = models.CharField(max_length=200, unique=True)
    reverses = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        db_index=False,
        on_delete=models.PROTECT,
        related_name="reversals",
        help_text="The entry this one reverses (at most one reversal each: a partial unique index)",
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        db_index=False,
        on_delete=models.PROTECT,
        related_name="+",
    )
    actor_label = models.CharField(max_length=150)
    source = models.CharField(
        max_length=80, blank=True, help_text="What caused it, e.g. bill:123, payment:45, approval:6"
    )
    # The first receivable line, inline (null when the entry has none).
    account = models.ForeignKey(
        "customers.Account",
        null=True,
        blank=True,
        db_index=False,
        on_delete=models.PROTECT,
        related_name="journal_entries",
        help_text="Customer subledger key of the first receivable line",
    )
    service_agreement = models.ForeignKey(
        "agreements.ServiceAgreement",
        null=True,
        blank=True,
        db_index=False,
        on_delete=models.PROTECT,
        related_name="journal_entries",
    )
    receivable_cents = models.BigIntegerField(
        null=True, blank=True, help_text="The first receivable line's amount (debit positive)"
    )
    due_date = models.DateField(
        null=True, blank=True, help_text="When a receivable debit falls due; aging counts from it"
    )
    category = models.CharField(max_length=12, choices=Category.choices, blank=True)
    receivable_memo = models.CharField(max_length=200, blank=True)
    other_lines = LinesField(
        default=list,
        help_text="Every non-receivable line: [gl_account_id, cents] plus, when set, "
        "[account_id, agreement_id, memo] (ohm.ledger.lines)",
    )

    class Meta:
        ordering = ["effective_date", "id"]
        verbose_name_plural = "journal entries"
        permissions = [
            ("view_books", "See the books: trial balance, GL summary, aging report"),
            ("close_period", "Close and reopen accounting periods"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["reverses"],
                condition=Q(reverses__isnull=False),
                name="journal_entry_reversed_once",
            ),
            models.CheckConstraint(
                condition=Q(account__isnull=True, receivable_cents__isnull=True)
                | (Q(account__isnull=False) & ~Q(receivable_cents=0)),
                name="journal_entry_receivable_complete",
            ),
        ]
        indexes = [
            # The customer subledger: partial, so entries without a customer cost nothing.
            models.Index(
                fields=["account", "effective_date"],
                condition=Q(account__isnull=False),
                name="journal_entry_subledger",
            ),
        ]

    def __str__(self) -> str:
        return f"JE {self.pk} {self.kind} {self.effective_date}"

    @property
    def reversed_by(self) -> JournalEntry | None:
        """The entry that reverses this one, if any."""
        return self.reversals.first()

    def line_list(self) -> list[Line]:
        """Every line of the entry: receivable lines first, in their order, then the others."""
        first = None
        extras: list[Line] = []
        if self.account_id is not None:
            receivables_id = GLAccount.objects.only("pk").get(role=RECEIVABLES).pk
            first = Line(
                receivables_id,
                self.receivable_cents or 0,
                self.account_id,
                self.service_agreement_id,
                self.due_date,
                self.category,
                self.receivable_memo,
                receivable=True,
            )
            extras = [
                Line(
                    receivables_id,
                    extra.amount_cents,
                    extra.account_id,
                    extra.service_agreement_id,
                    extra.due_date,
                    extra.category,
                    extra.memo,
                    receivable=True,
                )
                for extra in self.receivable_extras.order_by("position")
            ]
        return join(first, extras, self.other_lines)


class ReceivableExtra(models.Model):
    """A receivable line after an entry's first: its second account or service agreement."""

    entry = models.ForeignKey(
        JournalEntry, on_delete=models.PROTECT, related_name="receivable_extras", db_index=False
    )
    position = models.PositiveSmallIntegerField(help_text="1, 2, …: the order among its lines")
    account = models.ForeignKey(
        "customers.Account", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    service_agreement = models.ForeignKey(
        "agreements.ServiceAgreement",
        null=True,
        blank=True,
        db_index=False,
        on_delete=models.PROTECT,
        related_name="+",
    )
    amount_cents = models.BigIntegerField()
    effective_date = models.DateField()
    due_date = models.DateField(null=True, blank=True)
    category = models.CharField(max_length=12, choices=Category.choices)
    memo = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entry", "position"], name="receivable_extra_position"),
            models.CheckConstraint(condition=~Q(amount_cents=0), name="receivable_extra_not_zero"),
        ]
        indexes = [
            models.Index(fields=["account", "effective_date"], name="receivable_extra_subledger")
        ]

    def __str__(self) -> str:
        return f"JE {self.entry_id} receivable line {self.position}"


class Receivable(models.Model):
    """The customer subledger: one row per receivable line (a database view over the
    entries' inline receivable columns and ``ReceivableExtra``). Read only."""

    pk = models.CompositePrimaryKey("entry_id", "position")
    entry = models.ForeignKey(
        JournalEntry, on_delete=models.DO_NOTHING, related_name="receivables", db_constraint=False
    )
    position = models.PositiveSmallIntegerField()
    account = models.ForeignKey(
        "customers.Account", on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )
    service_agreement = models.ForeignKey(
        "agreements.ServiceAgreement",
        null=True,
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
    )
    amount_cents = models.BigIntegerField()
    effective_date = models.DateField()
    due_date = models.DateField(null=True)
    category = models.CharField(max_length=12, choices=Category.choices)
    memo = models.CharField(max_length=200)

    class Meta:
        managed = False
        db_table = "ledger_receivable"

    def __str__(self) -> str:
        return f"JE {self.entry_id} line {self.position}: {self.amount_cents:+d}"


class GLTotal(models.Model):
    """Debits and credits one posting (an entry, or a batch chunk) made to a GL account on a
    day. Append-only; their sums are the trial balance and the GL summary."""

    gl_account = models.ForeignKey(
        GLAccount, on_delete=models.PROTECT, related_name="totals", db_index=False
    )
    effective_date = models.DateField()
    debit_cents = models.BigIntegerField(default=0)
    credit_cents = models.BigIntegerField(default=0, help_text="Positive: the credits' size")
    lines = models.PositiveIntegerField(help_text="How many journal lines the row sums")
    entry = models.ForeignKey(
        JournalEntry,
        null=True,
        blank=True,
        db_index=False,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The entry, for a single posting; empty for a batch chunk's row",
    )

    class Meta:
        verbose_name = "GL total"
        constraints = [
            models.CheckConstraint(
                condition=Q(debit_cents__gte=0, credit_cents__gte=0), name="gl_total_not_negative"
            )
        ]
        indexes = [models.Index(fields=["gl_account", "effective_date"], name="gl_total_gl_date")]

    def __str__(self) -> str:
        return f"{self.effective_date} GL {self.gl_account_id}: +{self.debit_cents} -{self.credit_cents}"
