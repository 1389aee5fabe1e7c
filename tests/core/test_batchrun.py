"""Batch runs in one process: planning, resuming by key, failures that stop and retry,
cancelling, and progress counted from the chunks."""

from __future__ import annotations

import pytest

from ohm.core import audit, batchrun
from ohm.core.models import AuditEvent, BatchChunk, BatchRun

EVENT = "tests.batch_item.processed"
ACTOR = audit.SystemActor("test")


def _processed() -> list[int]:
    return sorted(
        int(r) for r in AuditEvent.objects.filter(event=EVENT).values_list("reason", flat=True)
    )


@pytest.fixture
def kind():
    failures: set[int] = set()

    def process(*, run, items, at):
        for item in items:
            audit.record(EVENT, subject=None, actor=ACTOR, at=at, reason=str(item))
            if item in failures:
                raise ValueError(f"item {item} is bad")
        return {"items": len(items), "odd": sum(1 for i in items if i % 2)}

    def finish(*, run, at):
        return {"finished": 1}

    batchrun.register(batchrun.JobKind("tests.unit", "Unit test", process, finish))
    return failures


def _plan(at, items=range(10), key="k1"):
    return batchrun.plan_run(
        kind="tests.unit", items=items, chunk_size=3, actor=ACTOR, at=at, key=key
    )


@pytest.mark.django_db
class TestPlanRun:
    def test_writes_the_run_and_its_chunks(self, kind, at):
        run = _plan(at)

        assert (run.total_items, run.chunk_count, run.status) == (10, 4, "planned")
        assert [c.items for c in run.chunks.order_by("sequence")] == [
            [0, 1, 2],
            [3, 4, 5],
            [6, 7, 8],
            [9],
        ]
        assert run.resumed is False

    def test_the_same_key_returns_the_run_already_planned(self, kind, at):
        first = _plan(at)

        second = _plan(at, items=range(50))

        assert second.pk == first.pk
        assert second.resumed is True
        assert BatchChunk.objects.filter(run=first).count() == 4

    def test_refuses_an_unknown_kind(self, at):
        with pytest.raises(batchrun.UnknownJobKind):
            batchrun.plan_run(kind="nope", items=[1], chunk_size=1, actor=ACTOR, at=at)


@pytest.mark.django_db
class TestExecuteRun:
    def test_processes_every_item_once_and_sums_the_results(self, kind, at):
        run = _plan(at)
        seen = []

        run = batchrun.execute_run(run, at=lambda: at, progress=lambda *a: seen.append(a))

        assert run.status == BatchRun.Status.SUCCEEDED
        assert _processed() == list(range(10))
        assert run.result == {"items": 10, "odd": 5, "finished": 1}
        assert seen[0] == ("Unit test", 0, 10)
        assert seen[-1] == ("Unit test", 10, 10)
        assert batchrun.get_progress(run).percent == 100

    def test_a_failing_chunk_rolls_back_stops_the_run_and_is_retried(self, kind, at):
        kind.add(7)
        run = _plan(at)

        run = batchrun.execute_run(run, at=lambda: at)

        assert run.status == BatchRun.Status.FAILED
        assert "item 7 is bad" in run.message
        assert _processed() == [0, 1, 2, 3, 4, 5]  # chunk [6, 7, 8] wrote nothing
        progress = batchrun.get_progress(run)
        assert (progress.done_items, progress.failed_chunks) == (6, 1)

        kind.clear()
        run = batchrun.execute_run(run, at=lambda: at)

        assert run.status == BatchRun.Status.SUCCEEDED
        assert _processed() == list(range(10))
        assert run.chunks.get(sequence=2).attempts == 2

    def test_max_chunks_leaves_the_run_resumable(self, kind, at):
        run = _plan(at)

        run = batchrun.execute_run(run, at=lambda: at, max_chunks=2)

        assert run.status == BatchRun.Status.RUNNING
        assert _processed() == [0, 1, 2, 3, 4, 5]
        assert [r.pk for r in batchrun.list_unfinished_runs(kind="tests.unit")] == [run.pk]
        run = batchrun.execute_run(_plan(at), at=lambda: at)
        assert run.status == BatchRun.Status.SUCCEEDED
        assert _processed() == list(range(10))

    def test_a_finished_run_does_not_run_again(self, kind, at):
        run = batchrun.execute_run(_plan(at), at=lambda: at)

        with pytest.raises(batchrun.RunNotResumable):
            batchrun.execute_run(run, at=lambda: at)

        assert _processed() == list(range(10))

    def test_an_empty_run_succeeds(self, kind, at):
        run = batchrun.execute_run(_plan(at, items=[]), at=lambda: at)

        assert run.status == BatchRun.Status.SUCCEEDED
        assert run.total_items == 0


@pytest.mark.django_db
class TestCancelRun:
    def test_stops_the_rest_and_keeps_what_was_done(self, kind, at, supervisor):
        run = _plan(at)
        batchrun.execute_run(run, at=lambda: at, max_chunks=1)

        run = batchrun.cancel_run(run=run, actor=supervisor, at=at, reason="wrong cycle")

        assert run.status == BatchRun.Status.CANCELLED
        with pytest.raises(batchrun.RunNotResumable):
            batchrun.execute_run(run, at=lambda: at)
        assert _processed() == [0, 1, 2]
        assert AuditEvent.objects.filter(
            event="core.batch_run.cancelled", reason="wrong cycle"
        ).exists()
