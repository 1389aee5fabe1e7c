"""Posting many entries at once, for bill runs and imports.

Each entry passes the same ``check_entry`` rules as ``post_entry``; what differs is the write
path. Entries go in chunks, each one atomic transaction that:

1. skips the keys already posted (one query per chunk), so a batch killed at any point and
   run again posts each key exactly once. ``post_columns`` first tries without asking: a
   chunk that names each key once and no closed month is written inside a savepoint, and
   only a unique-key violation (a replay) sends it back to the careful way (ADR 0006);
2. checks every remaining entry (GL accounts read once per batch; closed periods read again
   in each chunk's transaction, so a month closed meanwhile is still refused);
3. writes set-based, one row per entry (ADR 0006: the first receivable line inline, others
   as compact JSON), a ``ReceivableExtra`` row only for an entry's second and later
   receivable lines, and one ``GLTotal`` row per GL account and day for the whole chunk.
   Primary keys are chosen up front so extras can name their entry without reading
   anything back: on SQLite one prepared INSERT run over the chunk (``executemany``) with
   ids from ``max(id) + 1`` — safe because the IMMEDIATE transaction holds the only write
   lock — and the values every row of the chunk shares written into the statement as
   literals; on PostgreSQL ids reserved from the sequence and rows sent with
   ``COPY ... FROM STDIN``.

The database still checks every row: the unique key, the foreign keys (the customer account
among them; deferred, so checked when the chunk commits) and the CHECK constraints.

A chunk with one bad entry writes nothing and stops the batch with an error naming the
entry's key; chunks committed before it stay (they are whole and idempotent). One audit
event per batch counts what was posted and replayed.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice

import numpy as np
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from ohm.core import audit
from ohm.core.bulk import executemany, sql_literal
from ohm.ledger.models import RECEIVABLES, Category
from ohm.ledger.operations import (
    EntryNotBalanced,
    EntrySpec,
    PeriodClosed,
    UnknownGLAccount,
    _actor_fields,
    check_entry,
    closed_periods,
    gl_accounts_by_ref,
)

CHUNK_SIZE = 10_000

ENTRY_TABLE = "ledger_journalentry"
EXTRA_TABLE = "ledger_receivableextra"
TOTAL_TABLE = "ledger_gltotal"
ENTRY_COLUMNS = (
    "id",
    "kind",
    "effective_date",
    "posted_at",
    "description",
    "reason_code",
    "idempotency_key",
    "reverses_id",
    "actor_id",
    "actor_label",
    "source",
    "account_id",
    "service_agreement_id",
    "receivable_cents",
    "due_date",
    "category",
    "receivable_memo",
    "other_lines",
)
EXTRA_COLUMNS = (
    "entry_id",
    "position",
    "account_id",
    "service_agreement_id",
    "amount_cents",
    "effective_date",
    "due_date",
    "category",
    "memo",
)
TOTAL_COLUMNS = (
    "gl_account_id",
    "effective_date",
    "debit_cents",
    "credit_cents",
    "lines",
    "entry_id",
)


@dataclass(frozen=True)
class BatchResult:
    posted: int
    replayed: int


class BatchEntryRefused(ValidationError):
    """One entry of a batch broke a posting rule; its chunk wrote nothing."""

    def __init__(self, idempotency_key: str, error: ValidationError):
        self.idempotency_key = idempotency_key
        self.cause = error
        messages = {
            name: [f"Entry “{idempotency_key}”: {message}" for message in errors]
            for name, errors in error.message_dict.items()
        }
        super().__init__(messages, code=getattr(error, "code", None))


def _chunks(specs: Iterable[EntrySpec], size: int) -> Iterator[list[EntrySpec]]:
    iterator = iter(specs)
    while chunk := list(islice(iterator, size)):
        yield chunk


def posted_keys(keys: list[str]) -> set[str]:
    """Which of ``keys`` are already in the journal: one query, one parameter."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"SELECT idempotency_key FROM {ENTRY_TABLE} WHERE idempotency_key = ANY(%s)",
                [keys],
            )
        else:
            cursor.execute(
                f"SELECT idempotency_key FROM {ENTRY_TABLE} "
                "WHERE idempotency_key IN (SELECT value FROM json_each(%s))",
                [json.dumps(keys)],
            )
        return {row[0] for row in cursor.fetchall()}


class Same:
    """A value every row of an insert shares (``_Writer.insert_columns``)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class _Writer:
    """Row values in the form each database takes fastest."""

    def __init__(self):
        self.postgresql = connection.vendor == "postgresql"
        self._dates: dict[date, object] = {}

    def day(self, value: date | None):
        if value is None or self.postgresql:
            return value
        text = self._dates.get(value)
        if text is None:
            text = self._dates[value] = connection.ops.adapt_datefield_value(value)
        return text

    def moment(self, value: datetime):
        return value if self.postgresql else connection.ops.adapt_datetimefield_value(value)

    def next_ids(self, table: str, count: int) -> list[int]:
        with connection.cursor() as cursor:
            if self.postgresql:
                cursor.execute(
                    "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                    [table, count],
                )
                return [row[0] for row in cursor.fetchall()]
            # The IMMEDIATE transaction holds SQLite's write lock: nobody else can take these.
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
            first = cursor.fetchone()[0] + 1
            return list(range(first, first + count))

    def insert(self, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
        if not rows:
            return
        with connection.cursor() as cursor:
            if self.postgresql:
                sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
                with connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                placeholders = ", ".join(["?"] * len(columns))
                executemany(
                    cursor,
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})",
                    rows,
                )

    def insert_columns(self, table: str, columns: dict[str, list | Same]) -> None:
        """Insert rows given column by column; a ``Same`` column holds one value for every
        row. On SQLite those values are written into the statement as literals
        (``sql_literal``), so each row binds only the values that differ: binding a
        parameter costs the driver about 1,000 instructions (ADR 0006). The statement is
        prepared once per call. On PostgreSQL every value goes through ``COPY``."""
        names = list(columns)
        lists = [values for values in columns.values() if not isinstance(values, Same)]
        if not lists or not lists[0]:
            return
        if self.postgresql:
            fields = [
                itertools.repeat(values.value) if isinstance(values, Same) else values
                for values in columns.values()
            ]
            self.insert(table, tuple(names), list(zip(*fields, strict=False)))
            return
        slots = []
        bound = []
        for values in columns.values():
            literal = sql_literal(values.value) if isinstance(values, Same) else None
            if literal is not None:
                slots.append(literal)
            else:
                slots.append("?")
                bound.append(itertools.repeat(values.value) if isinstance(values, Same) else values)
        rows = list(zip(*bound, strict=False))  # the repeats are endless; the lists all n long
        with connection.cursor() as cursor:
            executemany(
                cursor,
                f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join(slots)})",
                rows,
            )


def _other_line(gl_id: int, line) -> str:
    return json.dumps(
        [gl_id, line.amount_cents, line.account_id, line.agreement_id, line.memo[:200]],
        separators=(",", ":"),
    )


def _post_chunk(
    chunk: list[EntrySpec], *, refs, actor_fields: dict, at: datetime, writer: _Writer
) -> tuple[int, int]:
    keys = [spec.idempotency_key for spec in chunk]
    done = posted_keys(keys)
    closed = closed_periods()
    fresh: list[tuple[EntrySpec, list]] = []
    for spec in chunk:
        if spec.idempotency_key in done:
            continue
        try:
            resolved = check_entry(spec, refs=refs, closed=closed)
        except ValidationError as error:
            raise BatchEntryRefused(spec.idempotency_key, error) from error
        done.add(spec.idempotency_key)  # the same key twice in one batch posts once
        fresh.append((spec, resolved))
    if not fresh:
        return 0, len(chunk)

    receivables_id = refs[RECEIVABLES].id
    entry_ids = writer.next_ids(ENTRY_TABLE, len(fresh))
    posted_at = writer.moment(at)
    actor_id = actor_fields["actor"].pk if actor_fields["actor"] is not None else None
    actor_label = actor_fields["actor_label"]
    day = writer.day
    entries = []
    extras = []
    # GL totals of the chunk: day → GL account id → [debits, credits, lines]
    totals: dict[object, dict[int, list[int]]] = {}
    for entry_id, (spec, resolved) in zip(entry_ids, fresh, strict=True):
        effective = day(spec.effective_date)
        day_totals = totals.get(effective)
        if day_totals is None:
            day_totals = totals[effective] = {}
        first = None
        others = []
        position = 0
        for line, gl in resolved:
            gl_id = gl.id
            cents = line.amount_cents
            total = day_totals.get(gl_id)
            if total is None:
                total = day_totals[gl_id] = [0, 0, 0]
            if cents > 0:
                total[0] += cents
            else:
                total[1] -= cents
            total[2] += 1
            if gl_id != receivables_id:
                if line.account_id is None and line.agreement_id is None and not line.memo:
                    others.append(f"[{gl_id},{cents}]")
                else:
                    others.append(_other_line(gl_id, line))
            elif first is None:
                first = line
            else:
                position += 1
                extras.append(
                    (
                        entry_id,
                        position,
                        line.account_id,
                        line.agreement_id,
                        cents,
                        effective,
                        day(line.due_date) if cents > 0 else None,
                        line.category,
                        line.memo[:200],
                    )
                )
        inline: tuple
        if first is None:
            inline = (None, None, None, None, "", "")
        else:
            cents = first.amount_cents
            inline = (
                first.account_id,
                first.agreement_id,
                cents,
                day(first.due_date) if cents > 0 else None,
                first.category,
                first.memo[:200],
            )
        entries.append(
            (
                entry_id,
                spec.kind,
                effective,
                posted_at,
                spec.description[:200],
                spec.reason_code,
                spec.idempotency_key,
                None,
                actor_id,
                actor_label,
                spec.source,
                *inline,
                "[" + ",".join(others) + "]",
            )
        )
    writer.insert(ENTRY_TABLE, ENTRY_COLUMNS, entries)
    writer.insert(EXTRA_TABLE, EXTRA_COLUMNS, extras)
    writer.insert(
        TOTAL_TABLE,
        TOTAL_COLUMNS,
        [
            (gl_id, effective, debit, credit, count, None)
            for effective, day_totals in totals.items()
            for gl_id, (debit, credit, count) in day_totals.items()
        ],
    )
    return len(fresh), len(chunk) - len(fresh)


def post_entries_batch(
    specs: Iterable[EntrySpec],
    *,
    actor,
    at: datetime,
    chunk_size: int = CHUNK_SIZE,
    source: str = "",
) -> BatchResult:
    """Post ``specs`` in chunks of ``chunk_size``, each chunk one transaction; keys already
    posted are skipped and counted as replayed.

    :raises BatchEntryRefused: naming the first bad entry's key; its chunk wrote nothing.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    refs = gl_accounts_by_ref()
    actor_fields = _actor_fields(actor)
    writer = _Writer()
    posted = replayed = chunks = 0
    for chunk in _chunks(specs, chunk_size):
        with transaction.atomic():
            new, old = _post_chunk(
                chunk, refs=refs, actor_fields=actor_fields, at=at, writer=writer
            )
        posted += new
        replayed += old
        chunks += 1
    audit.record(
        "ledger.batch.posted",
        subject=None,
        actor=actor,
        at=at,
        after={"posted": posted, "replayed": replayed, "chunks": chunks, "source": source},
    )
    return BatchResult(posted=posted, replayed=replayed)


# ---------------------------------------------------------------------------------------------
# Uniform batches, column by column: bill runs, payment files, autopay debits
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """One line position shared by every entry of an ``EntryColumns`` batch."""

    gl: str  # GL role or code
    category: str = Category.CHARGE
    memo: str = ""


@dataclass(frozen=True)
class EntryColumns:
    """Many entries of one shape, column by column (for numpy-built batches such as a bill run).

    Entry ``i`` has a line in slot ``j`` for every non-zero ``amounts[i, j]`` (cents, debits
    positive). Receivable slots name the customer ``account_ids[i]`` (and
    ``agreement_ids[i]``); ``due_dates[i]`` applies to their debits. An entry with no
    receivable line has ``None`` as its account. Everything ``post_entry`` refuses is refused
    here, naming the entry's key.
    """

    kind: str
    slots: Sequence[Slot]
    keys: Sequence[str]
    effective_dates: Sequence[date]
    amounts: np.ndarray
    account_ids: Sequence[int | None]
    descriptions: str | Sequence[str]
    due_dates: Sequence[date | None] | None = None
    agreement_ids: Sequence[int | None] | None = None
    reason_code: str = ""
    source: str = ""

    def __len__(self) -> int:
        return len(self.keys)


def _refuse(columns: EntryColumns, index: int, field: str, message: str, code: str):
    error = ValidationError({field: message}, code=code)
    return BatchEntryRefused(columns.keys[index], error)


def _check_columns(columns: EntryColumns, refs: dict) -> tuple[list[int], list[int]]:
    """The checks of ``check_entry``, vectorized over the batch. Returns the GL account id of
    each slot and the indexes of the receivable slots."""
    n = len(columns.keys)
    amounts = columns.amounts
    if not isinstance(amounts, np.ndarray) or not np.issubdtype(amounts.dtype, np.integer):
        raise ValidationError({"amounts": "Amounts are whole cents: an integer array."})
    if amounts.shape != (n, len(columns.slots)):
        raise ValidationError(
            {
                "amounts": f"Amounts have shape {amounts.shape}; expected ({n}, {len(columns.slots)})."
            }
        )
    for name in ("effective_dates", "account_ids", "due_dates", "agreement_ids"):
        values = getattr(columns, name)
        if values is not None and len(values) != n:
            raise ValidationError({name: f"{len(values)} values for {n} entries."})
    if not isinstance(columns.descriptions, str) and len(columns.descriptions) != n:
        raise ValidationError(
            {"descriptions": f"{len(columns.descriptions)} values for {n} entries."}
        )
    gl_ids = []
    receivable_slots = []
    for j, slot in enumerate(columns.slots):
        gl = refs.get(slot.gl)
        if gl is None:
            raise UnknownGLAccount(slot.gl)
        gl_ids.append(gl.id)
        if gl.role == RECEIVABLES:
            receivable_slots.append(j)
    if n == 0:
        return gl_ids, receivable_slots
    amounts = amounts.astype(np.int64, copy=False)
    totals = amounts.sum(axis=1)
    if (bad := np.flatnonzero(totals)).size:
        i = int(bad[0])
        raise BatchEntryRefused(columns.keys[i], EntryNotBalanced(int(totals[i])))
    if (bad := np.flatnonzero(np.count_nonzero(amounts, axis=1) < 2)).size:
        raise _refuse(
            columns, int(bad[0]), "lines", "An entry needs at least two lines.", "too_few_lines"
        )
    if receivable_slots:
        has_receivable = np.count_nonzero(amounts[:, receivable_slots], axis=1) > 0
        for i in np.flatnonzero(has_receivable).tolist():
            if columns.account_ids[i] is None:
                raise _refuse(
                    columns,
                    i,
                    "lines",
                    "A receivable line must name the customer account.",
                    "receivable_without_account",
                )
    if not all(columns.keys):
        i = next(i for i, key in enumerate(columns.keys) if not key)
        raise _refuse(
            columns,
            i,
            "idempotency_key",
            "Every posting needs an idempotency key.",
            "no_idempotency_key",
        )
    return gl_ids, receivable_slots


def _other_lines_json(gl_ids: list[int], others: list[int], amounts: np.ndarray) -> list[str]:
    """Each entry's non-receivable lines as compact JSON, formatted per pattern of present
    slots (a batch has few) with one ``str.format`` template each, mapped over the columns
    (no Python frame per entry); a column with one value in every row is written into the
    template."""
    n = amounts.shape[0]
    if not others:
        return ["[]"] * n
    block = amounts[:, others]
    present = block != 0
    patterns = present @ (1 << np.arange(len(others), dtype=np.int64))
    distinct = np.unique(patterns).tolist()
    texts: list[str] = [""] * n
    for pattern in distinct:
        slots = [k for k in range(len(others)) if pattern >> k & 1]
        rows = None if len(distinct) == 1 else np.flatnonzero(patterns == pattern)
        part = block if rows is None else block[rows]
        items = []
        varying = []
        for k in slots:
            values = part[:, k]
            if values.size and (values == values[0]).all():
                items.append(f"[{gl_ids[others[k]]},{int(values[0])}]")
            else:
                items.append(f"[{gl_ids[others[k]]},{{}}]")
                varying.append(values.tolist())
        template = "[" + ",".join(items) + "]"
        formatted = list(map(template.format, *varying)) if varying else [template] * part.shape[0]
        if rows is None:  # the usual case: every entry has the same lines
            return formatted
        for i, text in zip(rows.tolist(), formatted, strict=True):
            texts[i] = text
    return texts


def _post_columns_chunk(
    columns: EntryColumns,
    start: int,
    stop: int,
    *,
    gl_ids: list[int],
    receivable_slots: list[int],
    actor_fields: dict,
    at: datetime,
    writer: _Writer,
) -> tuple[int, int]:
    """Post entries ``start:stop``. First optimistically: when the chunk names each key once
    and no date falls in a closed month, every entry is written at once, without asking
    which keys are posted; a unique-key violation (a replay) rolls back to a savepoint and
    the chunk goes the careful way — posted keys read, replays skipped. The careful way
    also meets any other refusal again and reports it."""
    keys = list(columns.keys[start:stop])
    closed = closed_periods()
    if len(set(keys)) == len(keys) and not (
        closed
        and any((on.year, on.month) in closed for on in set(columns.effective_dates[start:stop]))
    ):
        try:
            with transaction.atomic():
                _write_columns(
                    columns,
                    start,
                    stop,
                    None,
                    gl_ids=gl_ids,
                    receivable_slots=receivable_slots,
                    actor_fields=actor_fields,
                    at=at,
                    writer=writer,
                )
            return len(keys), 0
        except IntegrityError:
            pass  # a key already posted, most likely: the careful way below sorts it out
    done = posted_keys(keys)
    rows = []
    seen = set(done)
    for offset, key in enumerate(keys):
        if key not in seen:
            seen.add(key)  # the same key twice in one batch posts once
            rows.append(start + offset)
    if not rows:
        return 0, len(keys)
    if closed:
        for i in rows:
            on = columns.effective_dates[i]
            if (on.year, on.month) in closed:
                raise BatchEntryRefused(columns.keys[i], PeriodClosed(on))
    _write_columns(
        columns,
        start,
        stop,
        rows,
        gl_ids=gl_ids,
        receivable_slots=receivable_slots,
        actor_fields=actor_fields,
        at=at,
        writer=writer,
    )
    return len(rows), len(keys) - len(rows)


def _write_columns(
    columns: EntryColumns,
    start: int,
    stop: int,
    rows: list[int] | None,
    *,
    gl_ids: list[int],
    receivable_slots: list[int],
    actor_fields: dict,
    at: datetime,
    writer: _Writer,
) -> None:
    """Write entries ``rows`` (None: all of ``start:stop``), checked already: the entry rows,
    extras for second receivable lines, and the chunk's GL totals."""

    def column(values, default=None) -> list:
        if values is None:
            return [default] * n
        if isinstance(values, str):
            return [values] * n
        if rows is None:  # the chunk's slice as it is
            return list(values[start:stop])
        return [values[i] for i in rows]

    if rows is None:
        n = stop - start
        amounts = columns.amounts[start:stop].astype(np.int64, copy=False)
    else:
        n = len(rows)
        amounts = columns.amounts[np.asarray(rows)].astype(np.int64, copy=False)
    dates = column(columns.effective_dates)
    day = writer.day
    # Dates rendered once per distinct day, then looked up (a batch has few days).
    rendered = {on: day(on) for on in set(dates)}
    days = list(map(rendered.__getitem__, dates))
    entry_ids = writer.next_ids(ENTRY_TABLE, n)
    accounts = column(columns.account_ids)
    agreements = column(columns.agreement_ids)
    due_dates = column(columns.due_dates)
    rendered_dues = {on: day(on) for on in set(due_dates)}
    rendered_dues[None] = None
    dues = list(map(rendered_dues.__getitem__, due_dates))
    slots = columns.slots

    # The first receivable line of each entry goes inline, any further ones into extras.
    inline: dict[str, list | Same]
    extras = []
    if len(receivable_slots) == 1 and np.all(amounts[:, receivable_slots[0]]):
        # The usual case: one receivable line in every entry, all inline.
        slot = slots[receivable_slots[0]]
        cents = amounts[:, receivable_slots[0]]
        if (cents > 0).all():
            inline_due: list | Same = dues
        else:
            inline_due = [
                due if value > 0 else None for due, value in zip(dues, cents.tolist(), strict=True)
            ]
        inline = {
            "account_id": accounts,
            "service_agreement_id": agreements,
            "receivable_cents": cents.tolist(),
            "due_date": inline_due,
            "category": Same(slot.category),
            "receivable_memo": Same(slot.memo),
        }
    else:
        inline_cents: list = [None] * n
        inline_due = [None] * n
        inline_category = [""] * n
        inline_memo = [""] * n
        inline_account: list = [None] * n
        inline_agreement: list = [None] * n
        if receivable_slots:
            block = amounts[:, receivable_slots]
            present = block != 0
            first = np.argmax(present, axis=1)
            any_present = present.any(axis=1)
            for k, j in enumerate(receivable_slots):
                chosen = np.flatnonzero(any_present & (first == k)).tolist()
                values = block[chosen, k].tolist()
                for i, value in zip(chosen, values, strict=True):
                    inline_cents[i] = value
                    inline_due[i] = dues[i] if value > 0 else None
                    inline_category[i] = slots[j].category
                    inline_memo[i] = slots[j].memo
                    inline_account[i] = accounts[i]
                    inline_agreement[i] = agreements[i]
                later = np.flatnonzero(present[:, k] & any_present & (first < k)).tolist()
                for i in later:
                    position = int(np.count_nonzero(present[i, :k]))
                    value = int(block[i, k])
                    extras.append(
                        (
                            entry_ids[i],
                            position,
                            accounts[i],
                            agreements[i],
                            value,
                            days[i],
                            dues[i] if value > 0 else None,
                            slots[j].category,
                            slots[j].memo,
                        )
                    )
        inline = {
            "account_id": inline_account,
            "service_agreement_id": inline_agreement,
            "receivable_cents": inline_cents,
            "due_date": inline_due,
            "category": inline_category,
            "receivable_memo": inline_memo,
        }
    others = [j for j in range(len(slots)) if j not in receivable_slots]
    descriptions: list | Same
    if isinstance(columns.descriptions, str):
        descriptions = Same(columns.descriptions[:200])
    else:
        descriptions = column(columns.descriptions)
        if any(len(text) > 200 for text in set(descriptions)):
            descriptions = [text[:200] for text in descriptions]
    if columns.agreement_ids is None and inline["service_agreement_id"] is agreements:
        inline["service_agreement_id"] = Same(None)
    if isinstance(inline["due_date"], list) and len(rendered_dues) <= 2:
        # One due date (or none) for the whole chunk, and every receivable line a debit.
        values = set(inline["due_date"])
        if len(values) == 1:
            inline["due_date"] = Same(values.pop())
    actor_id = actor_fields["actor"].pk if actor_fields["actor"] is not None else None
    writer.insert_columns(
        ENTRY_TABLE,
        {
            "id": entry_ids,
            "kind": Same(columns.kind),
            "effective_date": Same(days[0]) if len(rendered) == 1 else days,
            "posted_at": Same(writer.moment(at)),
            "description": descriptions,
            "reason_code": Same(columns.reason_code),
            "idempotency_key": keys_of(columns, start, stop, rows),
            "reverses_id": Same(None),
            "actor_id": Same(actor_id),
            "actor_label": Same(actor_fields["actor_label"]),
            "source": Same(columns.source),
            **inline,
            "other_lines": _other_lines_json(gl_ids, others, amounts),
        },
    )
    # GL totals per day and GL account, summed with numpy.
    totals: dict[tuple[object, int], list[int]] = {}
    day_index = {d: code for code, d in enumerate(set(days))}
    codes = np.array(list(map(day_index.__getitem__, days))) if len(day_index) > 1 else None
    for d, code in day_index.items():
        block = amounts if codes is None else amounts[codes == code]
        positive = np.where(block > 0, block, 0).sum(axis=0).tolist()
        negative = np.where(block < 0, -block, 0).sum(axis=0).tolist()
        count = np.count_nonzero(block, axis=0).tolist()
        for j, gl_id in enumerate(gl_ids):
            if count[j]:
                total = totals.setdefault((d, gl_id), [0, 0, 0])
                total[0] += positive[j]
                total[1] += negative[j]
                total[2] += count[j]
    writer.insert(EXTRA_TABLE, EXTRA_COLUMNS, extras)
    writer.insert(
        TOTAL_TABLE,
        TOTAL_COLUMNS,
        [
            (gl_id, d, debit, credit, count, None)
            for (d, gl_id), (debit, credit, count) in totals.items()
        ],
    )


def keys_of(columns: EntryColumns, start: int, stop: int, rows: list[int] | None) -> list[str]:
    if rows is None:
        return list(columns.keys[start:stop])
    return [columns.keys[i] for i in rows]


def post_columns(
    columns: EntryColumns,
    *,
    actor,
    at: datetime,
    chunk_size: int = CHUNK_SIZE,
) -> BatchResult:
    """Post a uniform batch in chunks of ``chunk_size``, each chunk one transaction; keys
    already posted are skipped and counted as replayed. The whole batch is checked before the
    first chunk writes (closed periods again in each chunk's transaction).

    :raises BatchEntryRefused: naming the first bad entry's key.
    """
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    gl_ids, receivable_slots = _check_columns(columns, gl_accounts_by_ref())
    actor_fields = _actor_fields(actor)
    writer = _Writer()
    posted = replayed = chunks = 0
    for start in range(0, len(columns), chunk_size):
        with transaction.atomic():
            new, old = _post_columns_chunk(
                columns,
                start,
                min(start + chunk_size, len(columns)),
                gl_ids=gl_ids,
                receivable_slots=receivable_slots,
                actor_fields=actor_fields,
                at=at,
                writer=writer,
            )
        posted += new
        replayed += old
        chunks += 1
    audit.record(
        "ledger.batch.posted",
        subject=None,
        actor=actor,
        at=at,
        after={
            "posted": posted,
            "replayed": replayed,
            "chunks": chunks,
            "source": columns.source,
            "kind": columns.kind,
        },
    )
    return BatchResult(posted=posted, replayed=replayed)
