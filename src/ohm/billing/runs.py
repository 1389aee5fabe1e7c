"""The bill run: a cycle's accounts billed as a ``BatchRun`` of chunks (``ohm.core.batchrun``).

Planning picks the cycle's latest read on or before the as-of date and lists the cycle's
accounts; each chunk's bills are prepared (``operations.prepare_bills``: determinants, rating, checks;
read only, in worker processes ahead of their turn when the run has them) and issued
(``operations.issue_bills``: ledger summary, rows, journal entries) inside the chunk's
transaction, so the bills, their lines, their journal entries and the chunk's "done" mark
commit together. A chunk prepared elsewhere is checked first: if any of its agreements was
billed meanwhile it is prepared again inside the transaction. The run's key names the cycle and read date: launching the same cycle and
read date again resumes that run instead of starting another.
"""

from __future__ import annotations

from datetime import date, datetime

from ohm.billing import calendar
from ohm.billing.models import BillCycle
from ohm.billing.operations import BillDates, Prepared, issue_bills, prepare_bills, still_current
from ohm.core import batchrun
from ohm.core.models import BatchRun
from ohm.customers.models import Account

KIND = "billing.bill_run"
#: Accounts per chunk: big enough that per-chunk work (queries, rate versions, the commit)
#: is small beside the bills, small enough that a restart redoes little (~1 s of work).
CHUNK_SIZE = 5_000


class CycleNotActive(ValueError):
    pass


def cycle_dates(*, cycle: int, as_of: date) -> calendar.CycleDates:
    """The cycle's latest read on or before ``as_of``, with its bill and due dates."""
    row = BillCycle.objects.filter(number=cycle).first()
    if row is None:
        raise calendar.NoSuchCycle(cycle)
    if not row.is_active:
        raise CycleNotActive(f"Cycle {cycle} is not active.")
    return calendar.latest_dates(row.rule, as_of=as_of)


def run_key(dates: calendar.CycleDates) -> str:
    return f"{KIND}:cycle={dates.cycle}:read={dates.read_date.isoformat()}"


def plan_bill_run(
    *, cycle: int, as_of: date, actor, at: datetime, chunk_size: int = CHUNK_SIZE
) -> BatchRun:
    """Plan (or find, to resume) the run billing ``cycle`` for its latest read by ``as_of``."""
    dates = cycle_dates(cycle=cycle, as_of=as_of)
    previous = calendar.previous_dates(dates, BillCycle.objects.get(number=cycle).rule)
    accounts = (
        Account.objects.filter(bill_cycle=cycle)
        .exclude(status=Account.Status.CLOSED)
        .order_by("id")
        .values_list("id", flat=True)
    )
    return batchrun.plan_run(
        kind=KIND,
        items=list(accounts),
        chunk_size=chunk_size,
        actor=actor,
        at=at,
        key=run_key(dates),
        parameters={
            "cycle": dates.cycle,
            "as_of": as_of.isoformat(),
            "read_date": dates.read_date.isoformat(),
            "bill_date": dates.bill_date.isoformat(),
            "due_date": dates.due_date.isoformat(),
            "previous_read_date": previous.read_date.isoformat(),
        },
    )


def _dates_of(run: BatchRun) -> BillDates:
    p = run.parameters
    return BillDates(
        cycle=int(p["cycle"]),
        read_date=date.fromisoformat(p["read_date"]),
        bill_date=date.fromisoformat(p["bill_date"]),
        due_date=date.fromisoformat(p["due_date"]),
        previous_read_date=date.fromisoformat(p["previous_read_date"]),
    )


#: Rate versions and parsed tariffs of the run being executed in this process, kept across
#: its chunks: every chunk of one execution prices with the same rates (a version approved
#: meanwhile applies from the next run, or when the run is resumed).
_rate_cache: dict[int, dict] = {}


def _cache_of(run: BatchRun) -> dict:
    if run.pk not in _rate_cache:
        _rate_cache.clear()
        _rate_cache[run.pk] = {}
    return _rate_cache[run.pk]


def _prepare(*, run: BatchRun, items: list) -> Prepared:
    """Read and compute a chunk's bills (in a worker process, ahead of its turn)."""
    return prepare_bills(
        account_ids=[int(i) for i in items], dates=_dates_of(run), cache=_cache_of(run)
    )


def _process(
    *, run: BatchRun, items: list, at: datetime, prepared: Prepared | None = None
) -> dict[str, int]:
    from ohm.core.audit import SystemActor

    actor = run.actor if run.actor_id else SystemActor(run.actor_label or "bill run")
    if prepared is None or not still_current(prepared):
        # Prepared nowhere, or somebody billed some of these agreements since: read again,
        # now, inside the chunk's transaction.
        prepared = _prepare(run=run, items=items)
    result = issue_bills(prepared, dates=_dates_of(run), at=at, actor=actor, run_id=run.pk)
    return result.counts()


def register() -> None:
    batchrun.register(
        batchrun.JobKind(name=KIND, label="Bill run", process=_process, prepare=_prepare)
    )
