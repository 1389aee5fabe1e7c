"""Posting to the journal: the only writes the ledger knows.

``post_entry`` checks, in the posting transaction, that the entry balances, that every GL
account exists and is active, that receivable lines name the customer account, and that the
effective date's period is open. An idempotency key posted twice returns the first entry and
writes nothing. Corrections are ``reverse_entry``: the mirror lines, pointing at the original.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from ohm.core import audit
from ohm.ledger.lines import Line, gl_totals, split
from ohm.ledger.models import (
    RECEIVABLES,
    AccountingPeriod,
    Category,
    GLAccount,
    GLTotal,
    JournalEntry,
    ReceivableExtra,
)

__all__ = ["RECEIVABLES", "Category", "EntrySpec", "LineSpec", "post_entry", "reverse_entry"]


class EntryNotBalanced(ValidationError):
    def __init__(self, total: int):
        super().__init__(
            {"lines": f"The entry does not balance: debits and credits differ by {total} cents."},
            code="not_balanced",
        )


class PeriodClosed(ValidationError):
    def __init__(self, effective_date: date):
        super().__init__(
            {
                "effective_date": f"The books for {effective_date:%B %Y} are closed: post with a date in an open period."
            },
            code="period_closed",
        )


class UnknownGLAccount(ValidationError):
    def __init__(self, ref: str):
        super().__init__(
            {"lines": f"“{ref}” is not an active GL account (code or role)."},
            code="unknown_gl_account",
        )


class EntryAlreadyReversed(ValidationError):
    def __init__(self, entry: JournalEntry):
        reversal = entry.reversed_by
        by = f" by entry {reversal.pk}" if reversal is not None else ""
        super().__init__(
            {"entry": f"Journal entry {entry.pk} was already reversed{by}."},
            code="already_reversed",
        )


@dataclass(frozen=True)
class LineSpec:
    """One line to post. ``gl`` is a GL role (``"receivables"``) or code (``"1100"``)."""

    gl: str
    amount_cents: int
    account_id: int | None = None
    agreement_id: int | None = None
    due_date: date | None = None
    category: str = Category.CHARGE
    memo: str = ""


@dataclass(frozen=True)
class EntrySpec:
    kind: str
    effective_date: date
    idempotency_key: str
    description: str
    lines: Sequence[LineSpec] = field(default_factory=list)
    reason_code: str = ""
    source: str = ""


def gl_accounts_by_ref() -> dict[str, GLAccount]:
    """Active GL accounts keyed by both code and role."""
    refs: dict[str, GLAccount] = {}
    for gl in GLAccount.objects.filter(is_active=True):
        refs[gl.code] = gl
        if gl.role:
            refs[gl.role] = gl
    return refs


def closed_periods() -> set[tuple[int, int]]:
    return set(
        AccountingPeriod.objects.filter(status=AccountingPeriod.Status.CLOSED).values_list(
            "year", "month"
        )
    )


def check_entry(
    spec: EntrySpec, *, refs: dict[str, GLAccount], closed: set[tuple[int, int]]
) -> list[tuple[LineSpec, GLAccount]]:
    """Every rule a posting must pass; returns the lines with their GL accounts.

    One pass over the lines: batch posting runs this for every entry.

    :raises ValidationError: naming what is wrong.
    """
    effective = spec.effective_date
    if closed and (effective.year, effective.month) in closed:
        raise PeriodClosed(effective)
    lines = spec.lines
    if len(lines) < 2:
        raise ValidationError({"lines": "An entry needs at least two lines."}, code="too_few_lines")
    resolved = []
    total = 0
    for line in lines:
        cents = line.amount_cents
        if cents.__class__ is not int:  # not bool, float, Decimal or a numpy integer
            raise ValidationError(
                {"lines": f"Amounts are whole cents, not {cents!r}."}, code="not_cents"
            )
        if not cents:
            raise ValidationError(
                {"lines": "A line of zero cents says nothing: leave it out."}, code="zero_line"
            )
        gl = refs.get(line.gl)
        if gl is None:
            raise UnknownGLAccount(line.gl)
        if line.account_id is None and gl.role == RECEIVABLES:
            raise ValidationError(
                {"lines": "A receivable line must name the customer account."},
                code="receivable_without_account",
            )
        total += cents
        resolved.append((line, gl))
    if total:
        raise EntryNotBalanced(total)
    if not spec.idempotency_key:
        raise ValidationError(
            {"idempotency_key": "Every posting needs an idempotency key."},
            code="no_idempotency_key",
        )
    return resolved


def resolved_lines(resolved: list[tuple[LineSpec, GLAccount]]) -> list[Line]:
    """Checked lines in the journal's form; a due date only on receivable debits."""
    return [
        Line(
            gl.pk,
            line.amount_cents,
            line.account_id,
            line.agreement_id,
            line.due_date if line.amount_cents > 0 else None,
            line.category,
            line.memo[:200],
            gl.role == RECEIVABLES,
        )
        for line, gl in resolved
    ]


def inline_receivable(first: Line | None) -> dict:
    """The entry's columns for its first receivable line."""
    if first is None:
        return {}
    return {
        "account_id": first.account_id,
        "service_agreement_id": first.agreement_id,
        "receivable_cents": first.amount_cents,
        "due_date": first.due_date,
        "category": first.category,
        "receivable_memo": first.memo,
    }


def _write_lines(entry: JournalEntry, lines: list[Line]) -> None:
    """The rows beside the entry's own: further receivable lines and its GL totals."""
    _, extras, _ = split(lines)
    if extras:
        ReceivableExtra.objects.bulk_create(
            [
                ReceivableExtra(
                    entry=entry,
                    position=position,
                    account_id=line.account_id,  # type: ignore[misc]  # receivable: never None
                    service_agreement_id=line.agreement_id,
                    amount_cents=line.amount_cents,
                    effective_date=entry.effective_date,
                    due_date=line.due_date,
                    category=line.category,
                    memo=line.memo,
                )
                for position, line in enumerate(extras, start=1)
            ]
        )
    GLTotal.objects.bulk_create(
        [
            GLTotal(
                gl_account_id=gl_id,
                effective_date=entry.effective_date,
                debit_cents=debit,
                credit_cents=credit,
                lines=count,
                entry=entry,
            )
            for gl_id, (debit, credit, count) in gl_totals(lines).items()
        ]
    )


def _actor_fields(actor) -> dict:
    return {
        "actor": actor if getattr(actor, "pk", None) is not None else None,
        "actor_label": getattr(actor, "username", "") or str(actor),
    }


@transaction.atomic
def post_entry(
    spec: EntrySpec,
    *,
    actor,
    at: datetime,
    reverses: JournalEntry | None = None,
    audited: bool = True,
) -> JournalEntry:
    """Post one balanced entry, or return the entry already posted under its key.

    The returned entry has ``replayed = True`` when nothing new was written.
    """
    existing = JournalEntry.objects.filter(idempotency_key=spec.idempotency_key).first()
    if existing is not None:
        existing.replayed = True  # type: ignore[attr-defined]
        return existing
    resolved = check_entry(spec, refs=gl_accounts_by_ref(), closed=closed_periods())
    lines = resolved_lines(resolved)
    first, _, others = split(lines)
    try:
        with transaction.atomic():
            entry = JournalEntry.objects.create(
                kind=spec.kind,
                effective_date=spec.effective_date,
                posted_at=at,
                description=spec.description[:200],
                reason_code=spec.reason_code,
                idempotency_key=spec.idempotency_key,
                reverses=reverses,
                source=spec.source,
                **_actor_fields(actor),
                **inline_receivable(first),
                other_lines=others,
            )
    except IntegrityError:
        # Another transaction posted the same key (or reversed the same entry) first.
        existing = JournalEntry.objects.filter(idempotency_key=spec.idempotency_key).first()
        if existing is None:
            raise
        existing.replayed = True  # type: ignore[attr-defined]
        return existing
    _write_lines(entry, lines)
    entry.replayed = False  # type: ignore[attr-defined]
    if audited:
        account_ids = sorted(
            {line.account_id for line in spec.lines if line.account_id is not None}
        )
        audit.record(
            f"ledger.entry.{'reversed' if reverses else 'posted'}",
            subject=entry,
            actor=actor,
            at=at,
            account_id=account_ids[0] if len(account_ids) == 1 else None,
            after={
                "kind": spec.kind,
                "effective_date": spec.effective_date,
                "lines": [(gl.code, line.amount_cents, line.account_id) for line, gl in resolved],
            },
            reason=spec.reason_code,
        )
    return entry


@transaction.atomic
def reverse_entry(
    *,
    entry: JournalEntry,
    effective_date: date,
    actor,
    at: datetime,
    reason: str,
    idempotency_key: str | None = None,
) -> JournalEntry:
    """Post the mirror of ``entry`` on ``effective_date`` (which may be in a later period than
    the original, e.g. when the original's month is closed).

    :raises EntryAlreadyReversed: if it was reversed before.
    """
    entry = JournalEntry.objects.select_for_update().get(pk=entry.pk)
    key = idempotency_key or f"reversal:{entry.pk}"
    replay = JournalEntry.objects.filter(idempotency_key=key).first()
    if replay is not None:
        replay.replayed = True  # type: ignore[attr-defined]
        return replay
    if JournalEntry.objects.filter(reverses=entry).exists():
        raise EntryAlreadyReversed(entry)
    codes = dict(GLAccount.objects.values_list("pk", "code"))
    lines = [
        LineSpec(
            gl=codes[line.gl_account_id],
            amount_cents=-line.amount_cents,
            account_id=line.account_id,
            agreement_id=line.agreement_id,
            due_date=effective_date if line.amount_cents < 0 else None,
            category=line.category,
            memo=f"reversal of JE {entry.pk}",
        )
        for line in entry.line_list()
    ]
    spec = EntrySpec(
        kind="reversal",
        effective_date=effective_date,
        idempotency_key=key,
        description=f"Reversal of JE {entry.pk}: {reason}"[:200],
        lines=lines,
        reason_code="reversal",
        source=f"reverses:{entry.pk}",
    )
    return post_entry(spec, actor=actor, at=at, reverses=entry)


@transaction.atomic
def close_period(*, year: int, month: int, actor, at: datetime) -> AccountingPeriod:
    """Close a month: nothing more posts with an effective date in it."""
    if not 1 <= month <= 12:
        raise ValidationError({"month": f"{month} is not a month."})
    period, _ = AccountingPeriod.objects.get_or_create(year=year, month=month)
    if period.status == AccountingPeriod.Status.CLOSED:
        raise ValidationError({"month": f"{year}-{month:02d} is already closed."})
    period.status = AccountingPeriod.Status.CLOSED
    period.closed_at = at
    period.closed_by_label = getattr(actor, "username", "") or str(actor)
    period.save()
    audit.record(
        "ledger.period.closed",
        subject=period,
        actor=actor,
        at=at,
        after={"year": year, "month": month},
    )
    return period


@transaction.atomic
def reopen_period(*, year: int, month: int, actor, at: datetime, reason: str) -> AccountingPeriod:
    period = AccountingPeriod.objects.filter(
        year=year, month=month, status=AccountingPeriod.Status.CLOSED
    ).first()
    if period is None:
        raise ValidationError({"month": f"{year}-{month:02d} is not closed."})
    if not reason.strip():
        raise ValidationError({"reason": "Say why a closed month must reopen."})
    period.status = AccountingPeriod.Status.OPEN
    period.save(update_fields=["status"])
    audit.record("ledger.period.reopened", subject=period, actor=actor, at=at, reason=reason)
    return period
