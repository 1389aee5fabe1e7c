"""Crash-safe batch runs: a run is planned as chunks, and each chunk commits its work together
with its own "done" mark.

How it stays exactly-once:

1. ``plan_run`` writes the run and all its chunks (the item keys each will process) in one
   transaction. A run with a ``key`` exists at most once: planning the same key again returns
   the run already planned, so a restarted command resumes instead of starting over.
2. ``execute_run`` takes the next chunk that is not done, and in ONE transaction re-reads it
   (locked: ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several workers can share a
   run; SQLite's IMMEDIATE transaction already holds the only write lock), calls the kind's
   ``process`` function, and marks the chunk done. Killed before the commit, nothing of the
   chunk exists and it runs again; killed after, it is done and is skipped.
3. A chunk whose ``process`` raises rolls back, is marked failed with the error, and stops
   the run (status failed). Running it again retries the failed chunk and carries on.
4. When no chunk is left, the kind's ``finish`` function runs (it must be idempotent: a kill
   during it runs it again), then the run is marked succeeded.

5. A kind with a ``prepare`` function splits each chunk in two: ``prepare`` only reads and
   computes (it may run in another process, ahead of time), ``process`` gets its result and
   writes inside the chunk's transaction — after checking that what was read still holds.
   ``execute_run`` then prepares the next chunks in ``settings.OHM_BATCH_WORKERS`` forked
   worker processes while it writes the current one, so a run uses every core; the order of
   chunks, their transactions and the exactly-once rules are those above. A chunk whose
   preparation failed is prepared again in the run's process.

Job kinds register themselves (``register``) from the app that owns them, usually in its
``AppConfig.ready``; ohm.core knows nothing about bills or payments.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any, Protocol

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Q, Sum
from django.tasks import task

from ohm.core import audit, gctune
from ohm.core.models import BatchChunk, BatchRun


class ProcessChunk(Protocol):
    def __call__(
        self, *, run: BatchRun, items: list, at: datetime
    ) -> dict[str, int] | None: ...  # pragma: no cover


class PrepareChunk(Protocol):
    def __call__(self, *, run: BatchRun, items: list) -> Any: ...  # pragma: no cover


class Progress(Protocol):
    def __call__(self, stage: str, done: int, total: int) -> None: ...  # pragma: no cover


@dataclass(frozen=True)
class JobKind:
    """``process`` does one chunk's work inside the chunk's transaction and returns counts
    (summed into the run's result); ``finish`` runs once the chunks are all done. With
    ``prepare``, ``process`` is called with ``prepared=`` what ``prepare`` returned for the
    chunk (or None: then it prepares itself)."""

    name: str
    label: str
    process: ProcessChunk
    finish: Callable[..., dict[str, Any] | None] | None = None
    prepare: PrepareChunk | None = None


_KINDS: dict[str, JobKind] = {}


class UnknownJobKind(LookupError):
    def __init__(self, kind: str):
        super().__init__(f"no batch job kind “{kind}” is registered (its app was not loaded?)")


class RunNotResumable(Exception):
    """The run was cancelled, or finished already."""


def register(kind: JobKind) -> JobKind:
    """Make a job kind known; registering the same name again replaces it."""
    _KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> JobKind:
    try:
        return _KINDS[name]
    except KeyError:
        raise UnknownJobKind(name) from None


def _actor_fields(actor) -> dict:
    return {
        "actor": actor if getattr(actor, "pk", None) is not None else None,
        "actor_label": getattr(actor, "username", "") or str(actor) or "system",
    }


def plan_run(
    *,
    kind: str,
    items: Iterable,
    chunk_size: int,
    actor,
    at: datetime,
    parameters: dict | None = None,
    key: str = "",
) -> BatchRun:
    """Write a run and its chunks of ``chunk_size`` items (JSON-able keys, e.g. account ids).

    With a ``key`` already planned, returns that run untouched (``run.resumed = True``).
    """
    get_kind(kind)
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    if key:
        existing = BatchRun.objects.filter(key=key).first()
        if existing is not None:
            existing.resumed = True  # type: ignore[attr-defined]
            return existing
    try:
        with transaction.atomic():
            run = BatchRun.objects.create(
                kind=kind,
                key=key,
                parameters=parameters or {},
                created_at=at,
                **_actor_fields(actor),
            )
            iterator = iter(items)
            chunks: list[BatchChunk] = []
            total = 0
            while batch := list(islice(iterator, chunk_size)):
                chunks.append(
                    BatchChunk(run=run, sequence=len(chunks), items=batch, item_count=len(batch))
                )
                total += len(batch)
            BatchChunk.objects.bulk_create(chunks, batch_size=500)
            run.total_items, run.chunk_count = total, len(chunks)
            run.save(update_fields=["total_items", "chunk_count"])
            audit.record(
                "core.batch_run.planned",
                subject=run,
                actor=actor,
                at=at,
                after={"kind": kind, "key": key, "items": total, "chunks": len(chunks)},
            )
    except IntegrityError:
        # Someone planned the same key at the same moment: theirs is the run.
        existing = BatchRun.objects.filter(key=key).first() if key else None
        if existing is None:
            raise
        existing.resumed = True  # type: ignore[attr-defined]
        return existing
    run.resumed = False  # type: ignore[attr-defined]
    return run


@dataclass(frozen=True)
class RunProgress:
    total_items: int
    done_items: int
    chunk_count: int
    done_chunks: int
    failed_chunks: int

    @property
    def percent(self) -> int:
        return 100 if not self.total_items else int(100 * self.done_items / self.total_items)


def get_progress(run: BatchRun) -> RunProgress:
    """Counted from the chunks, so it is exact at every instant (nothing to keep in step)."""
    row = BatchChunk.objects.filter(run_id=run.pk).aggregate(
        done_items=Sum("item_count", filter=Q(status=BatchChunk.Status.DONE)),
        done_chunks=Count("id", filter=Q(status=BatchChunk.Status.DONE)),
        failed_chunks=Count("id", filter=Q(status=BatchChunk.Status.FAILED)),
    )
    return RunProgress(
        total_items=run.total_items,
        done_items=row["done_items"] or 0,
        chunk_count=run.chunk_count,
        done_chunks=row["done_chunks"] or 0,
        failed_chunks=row["failed_chunks"] or 0,
    )


def summed_results(run: BatchRun) -> dict[str, int]:
    totals: dict[str, int] = {}
    for result in BatchChunk.objects.filter(
        run_id=run.pk, status=BatchChunk.Status.DONE
    ).values_list("result", flat=True):
        for name, value in (result or {}).items():
            if isinstance(value, int) and not isinstance(value, bool):
                totals[name] = totals.get(name, 0) + value
    return totals


def _claim_next(run: BatchRun) -> BatchChunk | None:
    """The next chunk to do, locked for this transaction (or None when none is left)."""
    pending = BatchChunk.objects.filter(
        run_id=run.pk, status__in=[BatchChunk.Status.PENDING, BatchChunk.Status.FAILED]
    ).order_by("sequence")
    if connection.features.has_select_for_update_skip_locked:
        pending = pending.select_for_update(skip_locked=True)
    return pending.first()


def execute_run(
    run: BatchRun,
    *,
    at: Callable[[], datetime],
    progress: Progress | None = None,
    max_chunks: int | None = None,
) -> BatchRun:
    """Process every chunk not yet done, then finish the run. ``at`` gives the moment each
    chunk is stamped with (the clock, read by the caller's interface layer).

    Returns the run; its status is succeeded, failed (the error in ``message``; run it again
    to retry), or still running when ``max_chunks`` stopped it early.

    :raises RunNotResumable: for a cancelled or succeeded run.
    """
    kind = get_kind(run.kind)
    run.refresh_from_db()
    if run.status in (BatchRun.Status.CANCELLED, BatchRun.Status.SUCCEEDED):
        raise RunNotResumable(f"run {run.pk} is {run.get_status_display().lower()}")
    started = at()
    BatchRun.objects.filter(pk=run.pk).update(
        status=BatchRun.Status.RUNNING,
        started_at=run.started_at or started,
        message="",
    )
    run.refresh_from_db()
    done = get_progress(run).done_items
    if progress is not None:
        progress(kind.label, done, run.total_items)
    workers = _worker_count(kind)
    if workers and _to_do(run).count() > 1:  # one chunk: nothing to prepare ahead of
        return _execute_prepared_ahead(
            run, kind, at=at, progress=progress, max_chunks=max_chunks, workers=workers, done=done
        )
    processed = 0
    while True:
        if max_chunks is not None and processed >= max_chunks:
            run.refresh_from_db()
            return run  # stopped early on purpose; still running, resumable
        sequence = None
        try:
            with transaction.atomic():
                chunk = _claim_next(run)
                if chunk is None:
                    break
                sequence = chunk.sequence
                _do_chunk(run, kind, chunk, at=at)
        except Exception as error:
            if sequence is None:
                raise
            _record_failure(run, sequence, error, at=at())
            run.refresh_from_db()
            return run
        processed += 1
        done += chunk.item_count
        if progress is not None:
            progress(kind.label, done, run.total_items)
    return _finish(run, kind, at=at())


def _do_chunk(run: BatchRun, kind: JobKind, chunk: BatchChunk, *, at, **prepared) -> None:
    """One chunk's work and its done mark, in the caller's transaction."""
    moment = at()
    result = kind.process(run=run, items=list(chunk.items), at=moment, **prepared)
    chunk.status = BatchChunk.Status.DONE
    chunk.done_at = moment
    chunk.attempts += 1
    chunk.result = result or {}
    chunk.error = ""
    chunk.save(update_fields=["status", "done_at", "attempts", "result", "error"])


def _worker_count(kind: JobKind) -> int:
    """Worker processes to prepare chunks in: none for a kind without ``prepare``, inside a
    transaction (the workers could not see it) or on an in-memory database (they could not
    open it)."""
    from django.conf import settings

    workers = int(getattr(settings, "OHM_BATCH_WORKERS", 0) or 0)
    if kind.prepare is None or workers < 1 or connection.in_atomic_block:
        return 0
    if connection.vendor == "sqlite" and connection.is_in_memory_db():  # type: ignore[attr-defined]
        return 0
    return workers


def _prepare_in_worker(kind_name: str, run_id: int, items: list) -> Any:
    """Runs in a worker process: its own database connection, read only."""
    run = BatchRun.objects.get(pk=run_id)
    prepare = get_kind(kind_name).prepare
    assert prepare is not None  # only kinds with a prepare step get workers
    return prepare(run=run, items=items)


def _start_worker(parent: int) -> None:
    """A forked worker must never use (or close) the parent's database connections; the
    parent closed them before forking, so drop whatever wrappers came along. And it must not
    outlive the run's process: killed (``kill -9`` included), the parent cannot stop it, so
    it watches and exits when its parent is gone."""
    import os
    import threading
    import time

    from django.db import connections

    for alias in connections:
        connections[alias].connection = None
    gctune.settle_worker()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="batch-parent-watch", daemon=True).start()


def _execute_prepared_ahead(
    run: BatchRun,
    kind: JobKind,
    *,
    at: Callable[[], datetime],
    progress: Progress | None,
    max_chunks: int | None,
    workers: int,
    done: int,
) -> BatchRun:
    """``execute_run`` with the next chunks prepared in worker processes (see the module's
    rule 5). Chunks are still claimed, processed and committed one at a time, in order, by
    this process; a chunk another executor finished meanwhile is skipped."""
    import multiprocessing

    from django.db import connections

    pending = list(_to_do(run).order_by("sequence").values_list("sequence", "items"))
    if max_chunks is not None:
        pending = pending[:max_chunks]
    connections.close_all()  # the workers are forked next; they open their own
    context = multiprocessing.get_context("fork")
    with gctune.fewer_collections():
        return _run_ahead(
            run,
            kind,
            pending,
            at=at,
            progress=progress,
            max_chunks=max_chunks,
            workers=workers,
            done=done,
            context=context,
        )


def _run_ahead(
    run: BatchRun,
    kind: JobKind,
    pending: list,
    *,
    at: Callable[[], datetime],
    progress: Progress | None,
    max_chunks: int | None,
    workers: int,
    done: int,
    context,
) -> BatchRun:
    import os
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor

    processed = 0
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_start_worker,
        initargs=(os.getpid(),),
    ) as pool:
        ahead: deque = deque()
        upcoming = iter(pending)

        def top_up() -> None:
            while len(ahead) < workers + 1:
                following = next(upcoming, None)
                if following is None:
                    return
                sequence, items = following
                ahead.append(
                    (sequence, pool.submit(_prepare_in_worker, kind.name, run.pk, list(items)))
                )

        top_up()
        while ahead:
            sequence, future = ahead.popleft()
            try:
                prepared = future.result()
            except Exception:
                prepared = None  # prepared again below, in this process, where errors report
            top_up()
            try:
                with transaction.atomic():
                    chunk = _claim(run, sequence)
                    if chunk is None:
                        continue  # done by another executor meanwhile
                    _do_chunk(run, kind, chunk, at=at, prepared=prepared)
            except Exception as error:
                for _, later in ahead:
                    later.cancel()
                _record_failure(run, sequence, error, at=at())
                run.refresh_from_db()
                return run
            processed += 1
            done += chunk.item_count
            if progress is not None:
                progress(kind.label, done, run.total_items)
    if max_chunks is not None and processed >= max_chunks:
        run.refresh_from_db()
        return run  # stopped early on purpose; still running, resumable
    return _finish(run, kind, at=at())


def _to_do(run: BatchRun):
    return BatchChunk.objects.filter(
        run_id=run.pk, status__in=[BatchChunk.Status.PENDING, BatchChunk.Status.FAILED]
    )


def _claim(run: BatchRun, sequence: int) -> BatchChunk | None:
    """Chunk ``sequence`` of the run if it is still to do, locked for this transaction."""
    chunk = BatchChunk.objects.filter(
        run_id=run.pk,
        sequence=sequence,
        status__in=[BatchChunk.Status.PENDING, BatchChunk.Status.FAILED],
    )
    if connection.features.has_select_for_update_skip_locked:
        chunk = chunk.select_for_update(skip_locked=True)
    return chunk.first()


def _record_failure(run: BatchRun, sequence: int, error: Exception, *, at: datetime) -> None:
    text = "".join(traceback.format_exception_only(error)).strip()
    with transaction.atomic():
        chunk = BatchChunk.objects.get(run_id=run.pk, sequence=sequence)
        chunk.status = BatchChunk.Status.FAILED
        chunk.attempts += 1
        chunk.error = traceback.format_exc(limit=8)
        chunk.save(update_fields=["status", "attempts", "error"])
        BatchRun.objects.filter(pk=run.pk).update(
            status=BatchRun.Status.FAILED,
            finished_at=at,
            message=f"chunk {sequence} failed: {text}"[:2000],
        )


def _finish(run: BatchRun, kind: JobKind, *, at: datetime) -> BatchRun:
    with transaction.atomic():
        run = BatchRun.objects.select_for_update().get(pk=run.pk)
        if run.status == BatchRun.Status.SUCCEEDED:
            return run
        totals: dict[str, Any] = dict(summed_results(run))
        if kind.finish is not None:
            totals.update(kind.finish(run=run, at=at) or {})
        run.status = BatchRun.Status.SUCCEEDED
        run.finished_at = at
        run.result = totals
        run.message = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in totals.items())[:2000]
        run.save(update_fields=["status", "finished_at", "result", "message"])
        audit.record(
            "core.batch_run.finished",
            subject=run,
            actor=audit.SystemActor(run.actor_label or "batch"),
            at=at,
            after={"kind": run.kind, "items": run.total_items, "result": totals},
        )
    return run


@transaction.atomic
def cancel_run(*, run: BatchRun, actor, at: datetime, reason: str) -> BatchRun:
    """Stop a run from going on; chunks already done stay done (their work committed).

    :raises RunNotResumable: if it already succeeded.
    """
    run = BatchRun.objects.select_for_update().get(pk=run.pk)
    if run.status == BatchRun.Status.SUCCEEDED:
        raise RunNotResumable(f"run {run.pk} has already finished")
    before = {"status": run.status}
    run.status = BatchRun.Status.CANCELLED
    run.finished_at = at
    run.message = f"cancelled: {reason}"[:2000]
    run.save(update_fields=["status", "finished_at", "message"])
    audit.record(
        "core.batch_run.cancelled",
        subject=run,
        actor=actor,
        at=at,
        before=before,
        after={"status": run.status},
        reason=reason,
    )
    return run


def list_unfinished_runs(*, kind: str | None = None) -> Sequence[BatchRun]:
    runs = BatchRun.objects.filter(
        status__in=[BatchRun.Status.PLANNED, BatchRun.Status.RUNNING, BatchRun.Status.FAILED]
    )
    if kind:
        runs = runs.filter(kind=kind)
    return list(runs.order_by("created_at", "id"))


@task()
def execute_batch_run(run_id: int) -> str:
    """Run (or resume) a batch run on the task worker (``ohm db_worker``, started by ``ohm up``):
    what the console enqueues. A worker killed mid-run leaves the run resumable; enqueueing it
    again finishes it with every item processed exactly once."""
    from ohm.core import clock

    run = BatchRun.objects.get(pk=run_id)
    if run.status in (BatchRun.Status.SUCCEEDED, BatchRun.Status.CANCELLED):
        return run.status
    run = execute_run(run, at=clock.now)
    return f"{run.status}: {run.message}"
