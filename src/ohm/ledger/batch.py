"""Posting many entries at once, for bill runs and imports.

Each entry passes the same ``check_entry`` rules as ``post_entry``; what differs is the write
path. Entries go in chunks, each one atomic transaction that:

1. skips the keys already posted (one query per chunk), so a batch killed at any point and
   run again posts each key exactly once;
2. checks every remaining entry (GL accounts read once per batch; closed periods read again
   in each chunk's transaction, so a month closed meanwhile is still refused);
3. writes entries and lines set-based, with primary keys chosen up front so lines can name
   their entry without reading anything back: on SQLite one prepared INSERT run over the
   chunk (``executemany``) with ids from ``max(id) + 1`` — safe because the IMMEDIATE
   transaction holds the only write lock; on PostgreSQL ids reserved from the sequences and
   rows sent with ``COPY ... FROM STDIN``.

A chunk with one bad entry writes nothing and stops the batch with an error naming the
entry's key; chunks committed before it stay (they are whole and idempotent). One audit
event per batch counts what was posted and replayed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from itertools import islice

from django.core.exceptions import ValidationError
from django.db import connection, transaction

from ohm.core import audit
from ohm.ledger.operations import (
    EntrySpec,
    _actor_fields,
    check_entry,
    closed_periods,
    gl_accounts_by_ref,
)

CHUNK_SIZE = 10_000

ENTRY_TABLE = "ledger_journalentry"
LINE_TABLE = "ledger_journalline"
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
)
LINE_COLUMNS = (
    "id",
    "entry_id",
    "gl_account_id",
    "amount_cents",
    "account_id",
    "service_agreement_id",
    "effective_date",
    "due_date",
    "category",
    "memo",
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
                with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                placeholders = ", ".join(["?"] * len(columns))
                # Straight to the driver: Django's cursor wrapper would rewrite every row's
                # parameters for its %s placeholders.
                cursor.cursor.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders})", rows
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

    entry_ids = writer.next_ids(ENTRY_TABLE, len(fresh))
    line_ids = iter(writer.next_ids(LINE_TABLE, sum(len(r) for _, r in fresh)))
    posted_at = writer.moment(at)
    actor_id = actor_fields["actor"].pk if actor_fields["actor"] is not None else None
    actor_label = actor_fields["actor_label"]
    day = writer.day
    entries = []
    lines = []
    for entry_id, (spec, resolved) in zip(entry_ids, fresh, strict=True):
        effective = day(spec.effective_date)
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
            )
        )
        for line, gl in resolved:
            lines.append(
                (
                    next(line_ids),
                    entry_id,
                    gl.pk,
                    line.amount_cents,
                    line.account_id,
                    line.agreement_id,
                    effective,
                    day(line.due_date) if line.amount_cents > 0 else None,
                    line.category,
                    line.memo[:200],
                )
            )
    writer.insert(ENTRY_TABLE, ENTRY_COLUMNS, entries)
    writer.insert(LINE_TABLE, LINE_COLUMNS, lines)
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
