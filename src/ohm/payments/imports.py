"""Importing a bank's payment file (BAI2, lockbox; pay-agent files use the lockbox path).

1. The file's SHA-256 names its ``ImportRun``: a file imported before posts nothing again.
2. The whole file is read and checked first (``lockbox_format``, ``bai2_format``): a bad file
   is refused with every error found and nothing is posted.
3. Each item is matched to an account: by OCR scan line, else by account number, else by
   the payer's name together with an amount equal to exactly one such customer's balance.
   Items that match nothing (or a closed account, or a cash-only account's check) go to
   unapplied cash, and one work item asks a CSR to work the unapplied queue.
4. Items post through a ``core.BatchRun`` (kind ``payments.file_import``, key the file's
   SHA-256): each chunk is one transaction holding its payments (set-based rows), one
   deposit journal entry (``ohm.ledger.batch.post_entries_batch``: the channel's cash
   clearing debited with the chunk's total, a credit line per payment on its account or in
   suspense), the import's counters and the chunk's done mark, so a run killed at any point and started again (same file) resumes
   after the last whole chunk; items whose keys are already posted are never posted twice.
5. The run keeps the reconciliation: file totals against posted, unapplied and duplicate.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from itertools import repeat

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Q

from ohm.core import audit, batchrun
from ohm.core.audit import SystemActor
from ohm.core.bulk import insert_rows
from ohm.core.localtime import localdate
from ohm.core.lookups import any_of_sql
from ohm.core.models import BatchRun
from ohm.core.money import format_cents
from ohm.customers.models import Account
from ohm.ledger import queries as ledger_queries
from ohm.ledger.batch import post_entries_batch
from ohm.ledger.operations import EntrySpec, LineSpec
from ohm.payments import policies, scanline
from ohm.payments.bai2_format import parse_bai2
from ohm.payments.lockbox_format import (
    DEFAULT_LAYOUT,
    FileItem,
    FileRefused,
    LockboxLayout,
    ParsedFile,
    parse_lockbox,
)
from ohm.payments.models import CLEARING_ROLE, Channel, ImportRun, Payment, Tender
from ohm.payments.operations import AR, CHARGE, CREDIT, SUSPENSE
from ohm.workqueue import operations as workqueue

FORMATS = ("bai2", "lockbox")
#: The journal entry kind of a file chunk's deposit (one entry, a line per payment).
BATCH_ENTRY_KIND = "payment_batch"
_CHANNEL_TITLES = dict(Channel.choices)
CHUNK_SIZE = 25_000
NOTES_KEPT = 200
NAME_CANDIDATES = 20


class ImportRefused(ValidationError):
    """The file as a whole is refused; nothing of it posted."""

    def __init__(self, file_name: str, errors: list[str]):
        self.errors = errors
        super().__init__({"file": [f"{file_name}: {error}" for error in errors]}, code="refused")


@dataclass(frozen=True)
class ImportResult:
    run: ImportRun
    replayed: bool  # the file was imported before: nothing posted now
    batch: BatchRun | None = None

    @property
    def finished(self) -> bool:
        return self.run.status == ImportRun.Status.DONE


def file_sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def parse_file(
    content: bytes, *, file_format: str, layout: LockboxLayout | None = None
) -> ParsedFile:
    """:raises FileRefused: the file is not acceptable as a whole."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileRefused([f"byte {exc.start}: the file is not UTF-8 or ASCII text"]) from exc
    if file_format == "bai2":
        return parse_bai2(text)
    if file_format == "lockbox":
        return parse_lockbox(text.splitlines(), layout=layout or DEFAULT_LAYOUT)
    raise FileRefused([f"“{file_format}” is not a file format Ohm reads ({', '.join(FORMATS)})"])


# Matching ----------------------------------------------------------------------------------------


def _fetch(sql: str, params: list) -> list[tuple]:
    """Rows of one read, fetched at once (Django's cursor iterates row by row in Python)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _account_rows(numbers: set[str]) -> dict[str, tuple[int, str, bool]]:
    """number → (id, status, cash_only) for the numbers that exist; one query."""
    if not numbers:
        return {}
    # One SQL parameter: Django's ``__in`` prepares each value in Python, most of the
    # matching time for a 50,000-item file.
    where, params = any_of_sql("number", numbers)
    rows = _fetch(
        f"SELECT number, id, status, cash_only FROM {Account._meta.db_table} WHERE {where}", params
    )
    return {number: (pk, status, bool(cash_only)) for number, pk, status, cash_only in rows}


def _account_rows_by_id(ids: set[int]) -> dict[int, tuple[str, str, bool]]:
    """id → (number, status, cash_only) for the ids that exist; one query."""
    if not ids:
        return {}
    where, params = any_of_sql("id", sorted(ids))
    rows = _fetch(
        f"SELECT id, number, status, cash_only FROM {Account._meta.db_table} WHERE {where}", params
    )
    return {pk: (number, status, bool(cash_only)) for pk, number, status, cash_only in rows}


def _wanted_number(item: FileItem) -> tuple[str, str]:
    """(account number, why not) from an item whose scan line is not a plain, valid one
    (``scanline.scan_line_accounts`` took those): a scan line written with spaces or marks,
    a misread one (the reason names it), else the account number the bank keyed."""
    problem = ""
    if item.scan_line:
        try:
            return scanline.parse_scan_line(item.scan_line).account_number, ""
        except scanline.InvalidScanLine as exc:
            problem = str(exc)
    digits = re.sub(r"[\s\-]", "", item.account_number)
    if digits:
        if len(digits) == 10 and digits.isdigit() and scanline.is_luhn_valid(digits):
            return digits, ""
        problem = problem or f"“{item.account_number}” is not an account number."
    return "", problem


def _by_name_and_amount(item: FileItem) -> int | None:
    """The one open account whose customer bears the payer's name and owes exactly the amount."""
    words = [w for w in re.split(r"[\s,.]+", item.payer_name) if len(w) > 1]
    if not words:
        return None
    named = Q()
    for word in words:
        named |= Q(account_persons__person__last_name__iexact=word)
    named |= Q(account_persons__person__business_name__iexact=item.payer_name)
    candidates = list(
        Account.objects.filter(named, account_persons__end_date__isnull=True)
        .exclude(status=Account.Status.CLOSED)
        .values_list("pk", flat=True)
        .distinct()[:NAME_CANDIDATES]
    )
    owing = [
        pk
        for pk in candidates
        if ledger_queries.get_balance_cents(account_id=pk) == item.amount_cents
    ]
    return owing[0] if len(owing) == 1 else None


# A chunk's items, as stored in its BatchChunk (JSON): decided once, when the run is planned.
# [line, key, cents, tender, reference, payer name, account id or None, why unapplied, stated]
Row = list

_TENDERS = frozenset(Tender.values)
_CLOSED = str(Account.Status.CLOSED)
_REFUSED_WHEN_CASH_ONLY = frozenset(policies.REFUSED_WHEN_CASH_ONLY)


def decide_items(items: list[FileItem]) -> list[Row]:
    """Where each item goes, as the chunk rows that post it. The rules, in order: the stub's
    scan line, else the account number the bank keyed, else the payer's name with an amount
    equal to exactly one such customer's balance; a closed account, or a check from a
    cash-only account, goes to suspense with the reason.

    Scan lines are checked as one column and all account numbers read in one query, so a
    file of 50,000 items is matched in a fraction of a second.
    """
    numbers = scanline.scan_line_accounts([item.scan_line for item in items])
    # Items without a scan line: the account number the bank keyed, when it is a plain one.
    keyed = [i for i, number in enumerate(numbers) if not number and not items[i].scan_line]
    for i, number in zip(
        keyed,
        scanline.plain_account_numbers([items[i].account_number for i in keyed]),
        strict=True,
    ):
        numbers[i] = number
    problems: dict[int, str] = {}
    for i in [i for i, number in enumerate(numbers) if not number]:
        numbers[i], problem = _wanted_number(items[i])
        if problem:
            problems[i] = problem
    accounts = _account_rows(set(numbers) - {""})
    found = [accounts.get(number) for number in numbers]
    # The usual item: its account found, open and not cash only. The rest one by one below.
    account_ids: list[int | None] = [
        row[0] if row is not None and row[1] != _CLOSED and not row[2] else None for row in found
    ]
    reasons = [""] * len(items)
    for i in [i for i, account_id in enumerate(account_ids) if account_id is None]:
        item, row, number = items[i], found[i], numbers[i]
        if row is None:
            account_ids[i] = _by_name_and_amount(item) if item.payer_name else None
            if account_ids[i] is None:
                reasons[i] = problems.get(i) or (
                    f"No account {number}." if number else "The item names no account."
                )
        elif row[1] == _CLOSED:
            reasons[i] = f"Account {number} is closed."
        elif item.tender in _REFUSED_WHEN_CASH_ONLY:
            reasons[i] = f"Account {number} is cash only: a {item.tender} arrived anyway."
        else:
            account_ids[i] = row[0]
        reasons[i] = reasons[i][:200]
    return list(
        map(
            list,
            zip(
                [item.line for item in items],
                [item.key for item in items],
                [item.amount_cents for item in items],
                [item.tender if item.tender in _TENDERS else "check" for item in items],
                [item.reference[:80] for item in items],
                [item.payer_name[:120] for item in items],
                account_ids,
                reasons,
                [(item.scan_line or item.account_number)[:40] for item in items],
                strict=True,
            ),
        )
    )


# Posting -----------------------------------------------------------------------------------------


def _posted_keys(channel: str, keys: list[str]) -> dict[str, int]:
    """key → payment id of the keys already posted on the channel; one query."""
    if not keys:
        return {}
    where, params = any_of_sql("idempotency_key", keys)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT idempotency_key, id FROM {Payment._meta.db_table} "
            f"WHERE channel = %s AND {where}",
            [channel, *params],
        )
        return dict(cursor.fetchall())


_POSTED = str(Payment.Status.POSTED)
_UNAPPLIED = str(Payment.Status.UNAPPLIED)


def _actor(run: BatchRun):
    return run.actor if run.actor_id is not None else SystemActor(run.actor_label or "import")


def post_rows(
    items: list[Row],
    *,
    channel: str,
    effective_date: date,
    actor,
    at: datetime,
    import_run_id: int | None,
    description: str,
    source: str,
) -> tuple[list[Row], list[tuple[Row, int]]]:
    """Post decided items set-based inside the caller's transaction; returns (posted rows,
    (duplicate row, earlier payment id)). Keys posted before are not posted again.

    One deposit entry for them all: the channel's cash clearing debited with the total, each
    payment's account (or suspense) credited on its own line — a third of the rows of an
    entry per payment, and every customer's statement still shows its own payment.
    """
    already = _posted_keys(channel, [row[1] for row in items])
    if already:
        fresh = [row for row in items if row[1] not in already]
        duplicates = [(row, already[row[1]]) for row in items if row[1] in already]
    else:
        fresh, duplicates = items, []
    if not fresh:
        return fresh, duplicates
    entry_key = f"payment-batch:{channel}:{fresh[0][1]}"
    # Built column by column (a line per payment): the account's receivable, or suspense.
    accounts = [row[6] or None for row in fresh]
    credits = list(
        map(
            LineSpec,
            [AR if account_id else SUSPENSE for account_id in accounts],
            [-row[2] for row in fresh],
            accounts,
            repeat(None),
            repeat(None),
            [CREDIT if account_id else CHARGE for account_id in accounts],
            [f"{row[4] or row[5]} {row[1]}"[:200] for row in fresh],
        )
    )
    total = sum(row[2] for row in fresh)
    spec = EntrySpec(
        kind=BATCH_ENTRY_KIND,
        effective_date=effective_date,
        idempotency_key=entry_key,
        description=f"{_CHANNEL_TITLES[channel]} deposit: {len(fresh)} payments ({description})"[
            :200
        ],
        lines=[LineSpec(CLEARING_ROLE[channel], total, memo=source), *credits],
        reason_code="payment",
        source=source,
    )
    post_entries_batch([spec], actor=actor, at=at, source=source)
    _insert_payments(
        fresh,
        channel=channel,
        effective_date=effective_date,
        at=at,
        entry_key=entry_key,
        import_run_id=import_run_id,
        label=getattr(actor, "username", "") or str(actor),
    )
    return fresh, duplicates


#: Payment columns a batch writes; the rest keep their defaults (empty, null).
PAYMENT_COLUMNS = (
    "account_id",
    "amount_cents",
    "tender",
    "channel",
    "status",
    "idempotency_key",
    "reference",
    "payer_name",
    "tender_detail",
    "stated_account",
    "unapplied_reason",
    "received_at",
    "effective_date",
    "entry_key",
    "reversal_reason",
    "import_run_id",
    "processor_ref",
    "processor_message",
    "created_by_label",
)


def _insert_payments(
    rows: list[Row],
    *,
    channel: str,
    effective_date: date,
    at: datetime,
    entry_key: str,
    import_run_id: int | None,
    label: str,
) -> None:
    """The payment rows of decided items, set-based.

    On SQLite one statement: the rows go in as one JSON parameter (the chunk's own rows) and
    SQLite takes each column out of it (``json_each``), with what the rows share bound once —
    about half the cost of binding 19 parameters per row. On PostgreSQL ``COPY``.
    """
    if connection.vendor != "sqlite":
        insert_rows(
            Payment._meta.db_table,
            PAYMENT_COLUMNS,
            (
                (
                    account_id,
                    cents,
                    tender,
                    channel,
                    _POSTED if account_id else _UNAPPLIED,
                    key,
                    reference,
                    payer,
                    "",
                    stated,
                    reason,
                    at,
                    effective_date,
                    entry_key,
                    "",
                    import_run_id,
                    "",
                    "",
                    label,
                )
                for _line, key, cents, tender, reference, payer, account_id, reason, stated in rows
            ),
        )
        return
    columns = ", ".join(connection.ops.quote_name(c) for c in PAYMENT_COLUMNS)
    # [line, key, cents, tender, reference, payer, account id, why unapplied, stated]
    values = (
        "value ->> 6, value ->> 2, value ->> 3, %s, "
        "CASE WHEN value ->> 6 IS NULL THEN %s ELSE %s END, "
        "value ->> 1, value ->> 4, value ->> 5, '', value ->> 8, value ->> 7, "
        "%s, %s, %s, '', %s, '', '', %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Payment._meta.db_table} ({columns}) "
            f"SELECT {values} FROM json_each(%s) ORDER BY key",
            [
                channel,
                _UNAPPLIED,
                _POSTED,
                connection.ops.adapt_datetimefield_value(at),
                connection.ops.adapt_datefield_value(effective_date),
                entry_key,
                import_run_id,
                label,
                json.dumps(rows, separators=(",", ":")),
            ],
        )


def process_chunk(*, run: BatchRun, items: list[Row], at: datetime) -> dict[str, int]:
    """One chunk, inside the BatchRun's chunk transaction: its payments, their deposit entry
    and the import's counters. Keys posted before (an earlier file sent the same bank item)
    are counted as duplicates, not posted again."""
    params = run.parameters
    import_run_id = params["import_run"]
    fresh, duplicates = post_rows(
        items,
        channel=params["channel"],
        effective_date=date.fromisoformat(params["effective_date"]),
        actor=_actor(run),
        at=at,
        import_run_id=import_run_id,
        description=params.get("file", ""),
        source=f"import:{import_run_id}",
    )
    unapplied = [row for row in fresh if not row[6]]
    unapplied_cents = sum(row[2] for row in unapplied)
    counts = {
        "posted_count": len(fresh) - len(unapplied),
        "posted_cents": sum(row[2] for row in fresh) - unapplied_cents,
        "unapplied_count": len(unapplied),
        "unapplied_cents": unapplied_cents,
        "duplicate_count": len(duplicates),
        "duplicate_cents": sum(row[2] for row, _ in duplicates),
    }
    notes = [
        f"line {row[0]}: {format_cents(row[2])} to suspense — {row[7]}"
        for row in unapplied[:NOTES_KEPT]
    ] + [
        f"line {row[0]}: {format_cents(row[2])} was posted before as payment {pk}"
        for row, pk in duplicates
    ]
    ImportRun.objects.filter(pk=import_run_id).update(
        **{name: F(name) + value for name, value in counts.items()}
    )
    if notes:
        import_run = ImportRun.objects.get(pk=import_run_id)
        import_run.notes = (import_run.notes + notes)[:NOTES_KEPT]
        import_run.save(update_fields=["notes"])
    return counts


def finish_import(*, run: BatchRun, at: datetime) -> dict:
    """Once every chunk is in: the import is done, its reconciliation audited, and one work
    item raised when payments went to suspense. Idempotent (a kill here runs it again)."""
    import_run = ImportRun.objects.select_for_update().get(pk=run.parameters["import_run"])
    if import_run.status == ImportRun.Status.DONE:
        return {"reconciled": int(import_run.reconciled)}
    actor = _actor(run)
    import_run.status = ImportRun.Status.DONE
    import_run.finished_at = at
    import_run.save(update_fields=["status", "finished_at"])
    if import_run.unapplied_count:
        workqueue.raise_work_item(
            category_code="unapplied_payment",
            title=f"{import_run.unapplied_count} unapplied payments "
            f"({format_cents(import_run.unapplied_cents)}) from {import_run.file_name}"[:200],
            description="Open the unapplied payments queue, find each payer's account and "
            "apply the payment. The import's notes say why each went to suspense.",
            subject=import_run,
            actor=actor,
            at=at,
        )
    audit.record(
        "payments.import.done",
        subject=import_run,
        actor=actor,
        at=at,
        after={
            "file": import_run.file_name,
            "sha256": import_run.file_sha256,
            "items": import_run.file_item_count,
            "total_cents": import_run.file_total_cents,
            "posted": [import_run.posted_count, import_run.posted_cents],
            "unapplied": [import_run.unapplied_count, import_run.unapplied_cents],
            "duplicates": [import_run.duplicate_count, import_run.duplicate_cents],
            "reconciled": import_run.reconciled,
        },
    )
    return {"reconciled": int(import_run.reconciled)}


JOB_KIND = "payments.file_import"


def register_job() -> None:
    batchrun.register(
        batchrun.JobKind(
            name=JOB_KIND, label="Payment file", process=process_chunk, finish=finish_import
        )
    )


def _refuse(
    run: ImportRun | None,
    *,
    sha: str,
    file_name: str,
    file_format: str,
    errors: list[str],
    actor,
    at: datetime,
) -> None:
    with transaction.atomic():
        if run is None:
            run = ImportRun.objects.create(
                file_sha256=sha,
                file_name=file_name[:255],
                format=file_format,
                started_at=at,
                actor_label=getattr(actor, "username", "") or str(actor),
            )
        run.status = ImportRun.Status.REFUSED
        run.errors = errors[:NOTES_KEPT]
        run.finished_at = at
        run.save(update_fields=["status", "errors", "finished_at"])
        audit.record(
            "payments.import.refused",
            subject=run,
            actor=actor,
            at=at,
            after={"file": file_name, "sha256": sha, "errors": errors[:20]},
        )


def import_payment_file(
    *,
    content: bytes,
    file_name: str,
    file_format: str,
    actor,
    at: datetime,
    clock: Callable[[], datetime] | None = None,
    channel: str = Channel.LOCKBOX,
    layout: LockboxLayout | None = None,
    effective_date: date | None = None,
    chunk_size: int = CHUNK_SIZE,
    max_chunks: int | None = None,
    progress: batchrun.Progress | None = None,
) -> ImportResult:
    """Import one bank file (see the module docstring) and return its run.

    ``effective_date`` defaults to the file's deposit date; ``clock`` stamps each chunk (the
    interface's clock; ``at`` when left out). A run that stops part way (a chunk failed, or
    ``max_chunks`` reached) comes back with ``run.status == "running"`` and the BatchRun's
    message; importing the same file again resumes it.

    :raises ImportRefused: the file is bad as a whole (nothing posted; the run is kept as
        refused with its errors).
    """
    if channel not in (Channel.LOCKBOX, Channel.PAY_AGENT, Channel.COLLECTION_AGENCY):
        raise ValidationError({"channel": f"Files do not arrive by the {channel} channel."})
    sha = file_sha256(content)
    run = ImportRun.objects.filter(file_sha256=sha).first()
    if run is not None and run.status == ImportRun.Status.DONE:
        return ImportResult(run=run, replayed=True)
    batch = run.batch_run if run is not None and run.batch_run_id else None
    if batch is None:
        try:
            parsed = parse_file(content, file_format=file_format, layout=layout)
        except FileRefused as exc:
            _refuse(
                run,
                sha=sha,
                file_name=file_name,
                file_format=file_format,
                errors=exc.errors,
                actor=actor,
                at=at,
            )
            raise ImportRefused(file_name, exc.errors) from exc
        day = effective_date or parsed.deposit_date or localdate(at)
        rows = decide_items(parsed.items)
        with transaction.atomic():
            if run is None:
                run = ImportRun.objects.create(
                    file_sha256=sha,
                    file_name=file_name[:255],
                    format=file_format,
                    started_at=at,
                    actor_label=getattr(actor, "username", "") or str(actor),
                )
            run.status = ImportRun.Status.RUNNING
            run.errors = []
            run.deposit_date = parsed.deposit_date
            run.file_item_count = parsed.file_item_count
            run.file_total_cents = parsed.file_total_cents
            run.skipped_count = len(parsed.skipped)
            run.skipped_cents = sum(cents for _, cents, _ in parsed.skipped)
            batch = batchrun.plan_run(
                kind=JOB_KIND,
                items=rows,
                chunk_size=chunk_size,
                actor=actor,
                at=at,
                parameters={
                    "import_run": run.pk,
                    "channel": channel,
                    "effective_date": day.isoformat(),
                    "file": file_name,
                },
                key=f"{JOB_KIND}:{sha}",
            )
            run.batch_run = batch
            run.save()
    batch = batchrun.execute_run(
        batch, at=clock or (lambda: at), progress=progress, max_chunks=max_chunks
    )
    if run is None:  # pragma: no cover - made above
        raise RuntimeError("the import has no run")
    run.refresh_from_db()
    return ImportResult(run=run, replayed=False, batch=batch)
