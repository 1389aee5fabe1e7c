"""Writing bills: issuing a set of accounts' bills (the bill run's chunk), releasing held bills,
cancelling, rebilling and discarding.

``bill_accounts`` is set-based: determinants for all the accounts' agreements come from one
interval load per period and interval length, the rating engine prices each group of
agreements on one tariff in one vectorized call, the bills, segments and lines are written
in bulk, and the issued bills' journal entries go through the ledger's batch path — all in
the caller's transaction (the bill run's chunk), so a chunk is whole or absent.

A period of an account is billed once: the database refuses a second live bill for the same
account and period end, and ``bill_accounts`` skips agreements already billed to the read
date, so running it again for the same accounts writes nothing.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cached_property, partial
from itertools import islice
from typing import NamedTuple

import numpy as np
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Max

from ohm.agreements.models import ServiceAgreement
from ohm.billing import calendar, compose
from ohm.billing.determinants import Grid, Want, load_determinants
from ohm.billing.models import Bill, BillExceptionRule, BillLine, BillSegment, decode_lines
from ohm.core import audit, bulk, identifiers
from ohm.core.localtime import localdate, utility_zone
from ohm.core.lookups import Ids
from ohm.ledger import operations as ledger
from ohm.ledger.batch import EntryColumns, Slot, post_columns, post_entries_batch
from ohm.ledger.models import Category, JournalEntry
from ohm.ledger.queries import list_account_activity
from ohm.metering.usage import TouSchedule
from ohm.rates import calc
from ohm.rates import queries as rates
from ohm.rates.tariff import Tariff, TariffError
from ohm.workqueue import operations as work

#: The "tariff" of the days in a first or final bill's cycle period when nobody was served.
NOT_SERVED = Tariff(name="not served")


class BillNotHeld(ValidationError):
    def __init__(self, bill: Bill):
        super().__init__(
            {"bill": f"Bill {bill.number} is {bill.get_status_display().lower()}, not held."},
            code="not_held",
        )


class BillNotIssued(ValidationError):
    def __init__(self, bill: Bill):
        super().__init__(
            {"bill": f"Bill {bill.number} is {bill.get_status_display().lower()}, not issued."},
            code="not_issued",
        )


class ReasonRequired(ValidationError):
    def __init__(self):
        super().__init__({"reason": "Say why."}, code="reason_required")


# -- rating --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RatingGroup:
    """Agreements rated together: one period, one rate schedule, one interval grid."""

    schedule_id: int
    spans: list[calc.VersionSpan]
    start_date: date
    end_date: date


#: The one call that turns usage into bill lines (``ohm.rates.calc.rate_bills``); a test or
#: the benchmark's slow reference can stand in for it.
Rater = Callable[..., calc.RatedBills]


def _spans(schedule_id: int, start: date, end: date, cache: dict) -> list[calc.VersionSpan]:
    key = (schedule_id, start, end)
    if key not in cache:
        from ohm.rates.models import RateSchedule

        schedule = RateSchedule.objects.get(pk=schedule_id)
        segments = rates.list_version_segments(schedule=schedule, start_date=start, end_date=end)
        labelled = len(segments) > 1
        cache[key] = [
            calc.VersionSpan(
                _tariff(s.version, cache),
                s.start_date,
                s.end_date,
                f"v{s.version.number} from {s.version.effective_date:%b %-d}" if labelled else "",
            )
            for s in segments
        ]
        cache[("versions", *key)] = [
            {
                "id": s.version.pk,
                "number": s.version.number,
                "start": s.start_date.isoformat(),
                "end": s.end_date.isoformat(),
            }
            for s in segments
        ]
    return cache[key]


def _tariff(version, cache: dict) -> Tariff:
    key = ("tariff", version.pk)
    if key not in cache:
        cache[key] = rates.tariff_of(version)
    return cache[key]


# -- the set-based issue path --------------------------------------------------------------


@dataclass(slots=True)
class _Segment:
    agreement: dict
    start_date: date
    end_date: date
    usage_wh: int = 0
    received_wh: int = 0
    max_demand_w: int = 0
    estimated_share: float = 0.0
    missing_share: float = 0.0
    versions: list = field(default_factory=list)
    rated: bool = True  # False: no rate version covers the period
    problem: str = ""
    problem_code: str = ""  # missing_rate | rating_error | missing_reads: always held
    rate_start: date = date.min  # the period the engine prorates over (first/final bills)
    rate_end: date = date.min
    # The lines as rated and sealed (``seal_rated``): what writing and the checks need, made
    # where the bill is prepared (a worker process) rather than where it is written.
    charges_cents: int = 0
    gl_credits: dict[str, int] = field(default_factory=dict)  # GL role -> credit (negative)
    lines_json: str = "[]"
    base_cents: int = 0  # the lines that are not taxes or surcharges (the checks')
    negative_lines: tuple = ()  # the lines below zero (the checks'; dropped once checked)
    determinants_json: str = "{}"
    versions_json: str = "[]"

    @property
    def days(self) -> int:
        return (self.end_date - self.start_date).days


@dataclass(frozen=True)
class BillDates:
    """The run's dates. ``previous_read_date`` starts the cycle's normal period, which a
    first or final bill's monthly charges are prorated against."""

    cycle: int
    read_date: date
    bill_date: date
    due_date: date
    previous_read_date: date | None = None

    @classmethod
    def of(cls, dates: calendar.CycleDates, previous: calendar.CycleDates | None) -> BillDates:
        return cls(
            dates.cycle,
            dates.read_date,
            dates.bill_date,
            dates.due_date,
            previous.read_date if previous else None,
        )


def active_rules() -> compose.Rules:
    return compose.Rules(
        {
            rule.code: (Decimal(rule.threshold) if rule.threshold else None)
            for rule in BillExceptionRule.objects.filter(is_active=True)
        }
    )


def _agreements(account_ids: Sequence[int], read_date: date) -> list[dict]:
    """The accounts' agreements to bill, with what billing needs of their account."""
    return [
        dict(row)
        for row in ServiceAgreement.objects.filter(
            account_id__any=Ids(account_ids), start_date__lt=read_date
        )
        .exclude(status__in=[ServiceAgreement.Status.CANCELLED])
        .values(
            "id",
            "account_id",
            "service_point_id",
            "rate_schedule_id",
            "rate_schedule__code",
            "start_date",
            "end_date",
            "status",
            "service_point__premise__baseline_territory",
            "service_point__premise__heat_source",
            "account__number",
            "account__language",
            "account__paperless",
            "account__medical_baseline",
        )
        .order_by("account_id", "id")
    ]


def _billed_through(agreement_ids: list[int]) -> dict[int, date]:
    return dict(
        BillSegment.objects.filter(
            agreement_id__any=Ids(agreement_ids),
            bill__status__in=[Bill.Status.HELD, Bill.Status.ISSUED],
        )
        .values("agreement_id")
        .annotate(through=Max("end_date"))
        .values_list("agreement_id", "through")
    )


def _history(account_ids: Sequence[int], read_date: date) -> dict[int, compose.History]:
    usage: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for account_id, wh, days in BillSegment.objects.filter(
        bill__account_id__any=Ids(account_ids),
        bill__status=Bill.Status.ISSUED,
        end_date__gt=read_date - timedelta(days=365),
        end_date__lte=read_date,
    ).values_list("bill__account_id", "usage_wh", "days"):
        usage[account_id][0] += wh
        usage[account_id][1] += days
    streaks: dict[int, int] = {}
    for account_id, streak in (
        Bill.objects.filter(
            account_id__any=Ids(account_ids),
            status=Bill.Status.ISSUED,
            end_date__lte=read_date,
        )
        .order_by("account_id", "-end_date", "-id")
        .values_list("account_id", "estimated_streak")
    ):
        streaks.setdefault(account_id, streak)
    return {
        a: compose.History(usage[a][0], usage[a][1], streaks.get(a, 0))
        for a in set(usage) | set(streaks)
    }


def _previous_bill_dates(account_ids: Sequence[int]) -> dict[int, date]:
    return dict(
        Bill.objects.filter(account_id__any=Ids(account_ids), status=Bill.Status.ISSUED)
        .values("account_id")
        .annotate(last=Max("bill_date"))
        .values_list("account_id", "last")
    )


def _rate_grid(
    grid: Grid,
    agreements: dict[int, dict],
    segments: dict[int, _Segment],
    cache: dict,
    rater: Rater,
) -> None:
    """Price every agreement of ``grid`` and fill its segment: determinants (and their JSON
    text), sealed lines, or the reason it could not be rated."""
    by_schedule: dict[tuple[int, date, date], list[int]] = defaultdict(list)
    for k, agreement_id in enumerate(grid.agreement_ids):
        segment = segments[agreement_id]
        by_schedule[
            (agreements[agreement_id]["rate_schedule_id"], segment.rate_start, segment.rate_end)
        ].append(k)
    received_total = (
        grid.received_wh.sum(axis=1)
        if grid.has_received
        else np.zeros(len(grid.agreement_ids), dtype=np.int64)
    )
    # Python numbers once for the whole grid (reading numpy scalars one by one is slow).
    usage_list, demand_list = grid.usage_wh.tolist(), grid.max_demand_w.tolist()
    received_list = received_total.tolist()
    estimated_list, missing_list = grid.estimated_share.tolist(), grid.missing_share.tolist()
    for (schedule_id, rate_start, rate_end), rows in by_schedule.items():
        contiguous = rows[-1] - rows[0] + 1 == len(rows)  # rows ascend
        index = slice(rows[0], rows[-1] + 1) if contiguous else np.array(rows)
        head = _determinants_head(grid, rate_start, rate_end)
        by_period: list[str] = [""] * len(rows)
        sealed: SealedLines | None = None
        versions: list = []
        problem = problem_code = ""
        try:
            spans = _spans(schedule_id, grid.start_date, grid.end_date, cache)
        except rates.NoVersionInEffect as missing:
            problem, problem_code = str(missing), "missing_rate"
        else:
            versions = cache[("versions", schedule_id, grid.start_date, grid.end_date)]
            tariff = spans[0].tariff
            if tariff.energy_weekday is not None and tariff.energy_weekend is not None:
                periods, wh = grid.wh_by_period(
                    TouSchedule.of(tariff.energy_weekday, tariff.energy_weekend), rows=index
                )
                by_period = _add_periods(by_period, "wh_by_energy_period", periods, wh)
            if tariff.demand_weekday is not None and tariff.demand_weekend is not None:
                periods, w = grid.demand_by_period(
                    TouSchedule.of(tariff.demand_weekday, tariff.demand_weekend), rows=index
                )
                by_period = _add_periods(by_period, "w_by_demand_period", periods, w)
            try:
                rated = _rate_rows(
                    grid, index, rows, spans, rate_start, rate_end, agreements, rater
                )
            except (TariffError, calc.RatingError) as error:
                problem, problem_code = str(error), "rating_error"
            else:
                sealed = seal_rated(rated)
        for i, k in enumerate(rows):
            segment = segments[grid.agreement_ids[k]]
            segment.usage_wh = usage_list[k]
            segment.received_wh = received_list[k]
            segment.max_demand_w = demand_list[k]
            segment.estimated_share = estimated_list[k]
            segment.missing_share = missing_list[k]
            segment.determinants_json = f"{head}{by_period[i]}}}"
            if sealed is not None:
                segment.versions = versions
                segment.lines_json = sealed.lines_json[i]
                segment.charges_cents = sealed.charges_cents[i]
                segment.gl_credits = sealed.gl_credits[i]
                segment.base_cents = sealed.base_cents[i]
                segment.negative_lines = sealed.negative_lines[i]
            else:
                segment.problem, segment.problem_code = problem, problem_code
                segment.rated = problem_code != "missing_rate"


def _determinants_head(grid: Grid, rate_start: date, rate_end: date) -> str:
    """The start of a segment's determinants as ``json.dumps`` writes the dict
    {interval_minutes, intervals, rate_period[, wh_by_energy_period][, w_by_demand_period]}
    (the rest by ``_add_periods``, then "}"): a grid's rows share it."""
    return json.dumps(
        {
            "interval_minutes": grid.interval_minutes,
            "intervals": len(grid.starts),
            "rate_period": [rate_start.isoformat(), rate_end.isoformat()],
        }
    )[:-1]


def _add_periods(texts: list[str], name: str, periods: list[int], values: np.ndarray) -> list[str]:
    """Each row's ``, "name": {"period": value, …}`` added to its determinants' text."""
    keys = [f'"{p}": ' for p in periods]
    return [
        f'{text}, "{name}": {{{", ".join(key + str(v) for key, v in zip(keys, row, strict=True))}}}'
        for text, row in zip(texts, values.tolist(), strict=True)
    ]


def _rate_rows(
    grid: Grid,
    index: np.ndarray | slice,
    rows: list[int],
    spans: list[calc.VersionSpan],
    rate_start: date,
    rate_end: date,
    agreements: dict[int, dict],
    rater: Rater,
) -> calc.RatedBills:
    """The rating engine's call for ``rows`` of ``grid``, all on one rate schedule."""
    # A first or final bill shorter than the cycle's period: the days the customer was not
    # served are a version with no charges, so monthly charges, tier limits and demand
    # charges prorate by the days served (the engine's rule across a rate change).
    spans = (
        (
            [calc.VersionSpan(NOT_SERVED, rate_start, grid.start_date, "not served")]
            if rate_start < grid.start_date
            else []
        )
        + list(spans)
        + (
            [calc.VersionSpan(NOT_SERVED, grid.end_date, rate_end, "not served")]
            if grid.end_date < rate_end
            else []
        )
    )
    usage = calc.IntervalUsage(
        starts=grid.starts,
        interval_minutes=grid.interval_minutes,
        delivered_wh=grid.delivered_wh[index],
        received_wh=grid.received_wh[index] if grid.has_received else None,
    )
    known_terms: dict[tuple, calc.AgreementTerms] = {}
    terms = []
    for k in rows:
        agreement = agreements[grid.agreement_ids[k]]
        key = (
            agreement["service_point__premise__baseline_territory"],
            agreement["service_point__premise__heat_source"],
            bool(agreement.get("medical")),
        )
        if key not in known_terms:
            known_terms[key] = _terms(agreement)
        terms.append(known_terms[key])
    return rater(
        versions=spans,
        start_date=rate_start,
        end_date=rate_end,
        usage=usage,
        zone=utility_zone(),
        terms=terms,
    )


def _terms(agreement: dict) -> calc.AgreementTerms:
    return calc.AgreementTerms(
        baseline_territory=agreement["service_point__premise__baseline_territory"] or None,
        heat_source=agreement["service_point__premise__heat_source"] or None,
        medical=bool(agreement.get("medical")),
    )


@dataclass
class IssueResult:
    issued: int = 0
    held: int = 0
    skipped: int = 0
    bill_ids: list[int] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"issued": self.issued, "held": self.held, "skipped": self.skipped}

    @cached_property
    def bills(self) -> list[Bill]:
        """The bills written, read back (a run writes rows, not model instances)."""
        return list(Bill.objects.filter(pk__any=Ids(self.bill_ids)).order_by("pk"))


class SealedSegment(NamedTuple):
    """A checked segment in the form it is written in: what writing needs and nothing else
    (a tuple: it is pickled from the worker process that prepared it to the run's process)."""

    agreement_id: int
    rate_code: str
    versions_json: str
    start_date: date
    end_date: date
    days: int
    usage_wh: int
    received_wh: int
    max_demand_w: int
    estimated_share: float
    missing_share: float
    determinants_json: str
    charges_cents: int
    lines_json: str
    gl_credits: dict[str, int]  # GL role -> credit (negative cents)


class AccountFacts(NamedTuple):
    """What writing a bill needs of its account."""

    number: str
    language: str
    paperless: bool


class _Pending(NamedTuple):
    """One account's bill as computed from the meter data, rates and history, before it is
    numbered, summarised against the ledger and written."""

    account_id: int
    segments: list[SealedSegment]
    charges_cents: int
    is_estimated: bool
    estimated_streak: int
    is_first: bool
    is_final: bool
    exceptions_json: str  # "[]" unless held: [{code, message}]
    start_date: date  # the bill's period: its segments' first day and (exclusive) end
    end_date: date


@dataclass(slots=True)
class Prepared:
    """What ``prepare_bills`` read and computed for a set of accounts: everything but the
    ledger summary and the writes. Picklable, so a bill run can prepare its next chunks in
    other processes while this one writes (``ohm.core.batchrun``)."""

    accounts: dict[int, AccountFacts]
    agreement_ids: list[int]
    through: dict[int, date]  # agreement id -> billed through, as read
    skipped: int
    bills: list[_Pending]

    # Pickled as columns: ``zip`` turns the bills, segments and accounts into one tuple per
    # field and back, in C, where pickling each named tuple costs a Python call (a third of
    # the time, measured, for a chunk's thousands).
    def __getstate__(self) -> tuple:
        segments = [s for bill in self.bills for s in bill.segments]
        bills: list = list(zip(*self.bills, strict=True))
        if bills:
            bills[1] = [len(bill.segments) for bill in self.bills]
        return (
            list(self.accounts),
            list(zip(*self.accounts.values(), strict=True)),
            self.agreement_ids,
            self.through,
            self.skipped,
            bills,
            list(zip(*segments, strict=True)),
        )

    def __setstate__(self, state: tuple) -> None:
        account_ids, accounts, self.agreement_ids, self.through, self.skipped, bills, segments = (
            state
        )
        self.accounts = dict(
            zip(
                account_ids,
                map(partial(tuple.__new__, AccountFacts), zip(*accounts, strict=True)),
                strict=True,
            )
        )
        if not bills:
            self.bills = []
            return
        each = iter(map(partial(tuple.__new__, SealedSegment), zip(*segments, strict=True)))
        bills[1] = [list(islice(each, count)) for count in bills[1]]
        self.bills = list(map(partial(tuple.__new__, _Pending), zip(*bills, strict=True)))


def bill_accounts(
    *,
    account_ids: Sequence[int],
    dates: BillDates,
    at: datetime,
    actor,
    run_id: int | None = None,
    rater: Rater = calc.rate_bills,
    replaces: dict[int, Bill] | None = None,
    periods: dict[int, tuple[date, date, date, date]] | None = None,
    cache: dict | None = None,
) -> IssueResult:
    """Bill each account for its agreements' days not yet billed up to ``dates.read_date``.

    Runs in the caller's transaction. An account with nothing new to bill is skipped.
    ``replaces`` (account id → cancelled bill) makes the new bills rebills of those, and
    ``periods`` (agreement id → (start, end, rate start, rate end)) bills exactly those days,
    prorated over the same period, instead (a rebill's). ``cache`` keeps rate versions and
    parsed tariffs across calls (the demo's many small runs; rates must not change meanwhile).
    """
    prepared = prepare_bills(
        account_ids=account_ids, dates=dates, rater=rater, periods=periods, cache=cache
    )
    return issue_bills(prepared, dates=dates, at=at, actor=actor, run_id=run_id, replaces=replaces)


def prepare_bills(
    *,
    account_ids: Sequence[int],
    dates: BillDates,
    rater: Rater = calc.rate_bills,
    periods: dict[int, tuple[date, date, date, date]] | None = None,
    cache: dict | None = None,
) -> Prepared:
    """The reading and computing half of ``bill_accounts``: determinants, rating, history and
    the exception checks. Writes nothing."""
    agreement_rows = _agreements(account_ids, dates.read_date)
    through = _billed_through([a["id"] for a in agreement_rows])
    segments: dict[int, _Segment] = {}
    wants = []
    for agreement in agreement_rows:
        agreement["medical"] = agreement["account__medical_baseline"]
        if periods is not None:
            if agreement["id"] not in periods:
                continue
            start, end, rate_start, rate_end = periods[agreement["id"]]
        else:
            start = through.get(agreement["id"], agreement["start_date"])
            end = min(dates.read_date, agreement["end_date"] or dates.read_date)
        if end <= start:
            continue
        segment = _Segment(agreement, start, end, rate_start=start, rate_end=end)
        first = start == agreement["start_date"]
        final = agreement["end_date"] is not None and end >= agreement["end_date"]
        if periods is not None:
            segment.rate_start, segment.rate_end = rate_start, rate_end
        else:
            if first and dates.previous_read_date is not None:
                segment.rate_start = min(start, dates.previous_read_date)
            if final:
                segment.rate_end = max(end, dates.read_date)
        segments[agreement["id"]] = segment
        wants.append(Want(agreement["id"], agreement["service_point_id"], start, end))
    agreements = {a["id"]: a for a in agreement_rows}
    # Agreements on one rate schedule side by side in each grid, so each rate group's rows
    # are one slice of it (a view, not a copy).
    wants.sort(key=lambda want: agreements[want.agreement_id]["rate_schedule_id"])
    loaded = load_determinants(wants)
    cache = {} if cache is None else cache
    for grid in loaded.grids:
        _rate_grid(grid, agreements, segments, cache, rater)
    for agreement_id in loaded.without_intervals:
        segment = segments[agreement_id]
        segment.missing_share = 1.0
        segment.problem = (
            f"Agreement {agreement_id}: no interval data at the service point for the period."
        )
        segment.problem_code = "missing_reads"

    by_account: dict[int, list[_Segment]] = defaultdict(list)
    for segment in segments.values():
        by_account[segment.agreement["account_id"]].append(segment)
    prepared = Prepared(
        accounts={
            a["account_id"]: AccountFacts(
                a["account__number"], a["account__language"], a["account__paperless"]
            )
            for a in agreement_rows
        },
        agreement_ids=[a["id"] for a in agreement_rows],
        through=through,
        skipped=len(set(account_ids)) - len(by_account),
        bills=[],
    )
    if not by_account:
        return prepared
    ids = sorted(by_account)
    history = _history(ids, dates.read_date)
    no_history = compose.History()
    pasts = [history.get(account_id, no_history) for account_id in ids]
    ordered = [s for account_id in ids for s in by_account[account_id]]
    bill_of = np.array(
        [k for k, account_id in enumerate(ids) for _ in by_account[account_id]], dtype=np.int64
    )
    stopped = ServiceAgreement.Status.STOPPED
    columns = compose.SegmentColumns(
        bill=bill_of,
        agreement_id=[s.agreement["id"] for s in ordered],
        days=np.array([s.days for s in ordered], dtype=np.int64),
        usage_wh=np.array([s.usage_wh for s in ordered], dtype=np.int64),
        estimated_share=np.array([s.estimated_share for s in ordered], dtype=np.float64),
        missing_share=np.array([s.missing_share for s in ordered], dtype=np.float64),
        rated=np.array([s.rated for s in ordered], dtype=bool),
        premise_active=np.array([s.agreement["status"] != stopped for s in ordered], dtype=bool),
        charges_cents=np.array([s.charges_cents for s in ordered], dtype=np.int64),
        base_cents=np.array([s.base_cents for s in ordered], dtype=np.int64),
        negative_lines=[s.negative_lines for s in ordered],
    )
    past = compose.HistoryColumns.of(pasts)
    estimated = compose.estimated_bills(columns, len(ids))
    found = compose.check_bills(columns, past, estimated, active_rules())
    first = compose.any_of_bill(
        columns, [s.start_date == s.agreement["start_date"] for s in ordered], len(ids)
    ).tolist()
    final = compose.any_of_bill(
        columns,
        [
            s.agreement["end_date"] is not None and s.end_date >= s.agreement["end_date"]
            for s in ordered
        ],
        len(ids),
    ).tolist()
    charges = compose.sum_of_bill(columns, columns.charges_cents, len(ids)).tolist()
    streaks = np.where(estimated, past.estimated_streak + 1, 0).tolist()
    versions_json: dict[int, str] = {}
    for k, account_id in enumerate(ids):
        mine = by_account[account_id]
        exceptions = [{"code": e.code, "message": e.message} for e in found[k]]
        for s in mine:
            # A segment that could not be rated is held even when its rule is off.
            if s.problem_code and not any(e.code == s.problem_code for e in found[k]):
                exceptions.append({"code": s.problem_code, "message": s.problem})
        prepared.bills.append(
            _Pending(
                account_id=account_id,
                segments=[_seal(segment, versions_json) for segment in mine],
                charges_cents=charges[k],
                is_estimated=bool(estimated[k]),
                estimated_streak=streaks[k],
                is_first=first[k],
                is_final=final[k],
                exceptions_json=json.dumps(exceptions) if exceptions else "[]",
                start_date=min(s.start_date for s in mine) if len(mine) > 1 else mine[0].start_date,
                end_date=max(s.end_date for s in mine) if len(mine) > 1 else mine[0].end_date,
            )
        )
    return prepared


@dataclass(slots=True)
class SealedLines:
    """Rated bills' lines in the form they are written and checked in, per agreement: the
    ``lines_json`` text (``BillSegment.lines_json``'s format), the charges, the credit per GL role
    (negative cents, a role for every line shown), the lines that are not taxes or surcharges
    summed, and the lines below zero."""

    lines_json: list[str]
    charges_cents: list[int]
    gl_credits: list[dict[str, int]]
    base_cents: list[int]
    negative_lines: list[tuple[compose.Line, ...]]


def seal_rated(rated: calc.RatedBills) -> SealedLines:
    """``rated``'s bills sealed column by column: the lines a bill shows are those of
    ``RatedBills.bills()`` (a line of nothing is left out unless always shown), each encoded
    as a JSON encoder writes it — a column's fixed text encoded once, then per agreement its
    quantity (one text per distinct quantity) and cents — without a line object per line."""
    dumps = _dumps_compact
    n = rated.count
    parts: list[list[str]] = [[] for _ in range(n)]
    charges = np.zeros(n, dtype=np.int64)
    base = np.zeros(n, dtype=np.int64)
    by_role: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    negatives: dict[int, list[compose.Line]] = {}
    for column, quantities, amounts, applies, scale in rated.python_columns():
        role = compose.gl_role(column.component)
        head = dumps([column.component, role, column.description[:200]])[:-1] + ","
        middle = f",{dumps(column.unit)},{dumps(str(column.price))},"
        tail = f",{dumps(column.clause[:120])}]"
        amount = np.asarray(column.amount_cents, dtype=np.int64)
        shown = np.ones(n, dtype=bool) if column.always else (column.quantity != 0) | (amount != 0)
        if column.applies is not None:
            shown &= column.applies
            amount = np.where(column.applies, amount, 0)
        charges += amount
        if column.component not in compose.PERCENTS:
            base += amount
        total, present = by_role.get(role, (np.zeros(n, dtype=np.int64), np.zeros(n, bool)))
        by_role[role] = (total + amount, present | shown)
        texts: dict[int, str] = {}
        rows = range(n) if column.always and applies is None else np.flatnonzero(shown).tolist()
        for i in rows:
            quantity = quantities[i]
            text = texts.get(quantity)
            if text is None:
                text = texts[quantity] = f'{head}"{Decimal(quantity) * scale}"{middle}'
            parts[i].append(f"{text}{amounts[i]}{tail}")
        for i in np.flatnonzero(shown & (amount < 0)).tolist():
            negatives.setdefault(i, []).append(
                compose.Line(
                    column.component,
                    column.description,
                    Decimal(quantities[i]) * scale,
                    column.unit,
                    column.price,
                    amounts[i],
                    column.clause,
                )
            )
    roles = [
        (role, (-total).tolist(), present.tolist()) for role, (total, present) in by_role.items()
    ]
    return SealedLines(
        lines_json=["[" + ",".join(p) + "]" for p in parts],
        charges_cents=charges.tolist(),
        gl_credits=[
            {role: cents[i] for role, cents, present in roles if present[i]} for i in range(n)
        ],
        base_cents=base.tolist(),
        negative_lines=[tuple(negatives.get(i, ())) for i in range(n)],
    )


def _dumps_compact(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _seal(segment: _Segment, versions_json: dict[int, str]) -> SealedSegment:
    """A checked segment in the form it is written in (its lines and determinants were
    sealed when rated, ``_rate_grid``; rate versions shared by many are encoded once)."""
    key = id(segment.versions)
    text = versions_json.get(key)
    if text is None:
        text = versions_json[key] = json.dumps(segment.versions)
    return SealedSegment(
        segment.agreement["id"],
        segment.agreement["rate_schedule__code"],
        text,
        segment.start_date,
        segment.end_date,
        segment.days,
        segment.usage_wh,
        segment.received_wh,
        segment.max_demand_w,
        segment.estimated_share,
        segment.missing_share,
        segment.determinants_json,
        segment.charges_cents,
        segment.lines_json,
        segment.gl_credits,
    )


def still_current(prepared: Prepared) -> bool:
    """Whether what ``prepared`` read about billed periods still holds (nobody billed these
    agreements since): the check before a bill run writes a chunk prepared elsewhere."""
    return _billed_through(prepared.agreement_ids) == prepared.through


def issue_bills(
    prepared: Prepared,
    *,
    dates: BillDates,
    at: datetime,
    actor,
    run_id: int | None = None,
    replaces: dict[int, Bill] | None = None,
) -> IssueResult:
    """The writing half of ``bill_accounts``, in the caller's transaction: each bill's account
    summary from the ledger as it is now, numbers, rows, journal entries, work items."""
    result = IssueResult(skipped=prepared.skipped)
    if not prepared.bills:
        return result
    accounts = prepared.accounts
    ids = [p.account_id for p in prepared.bills]
    last_bill = _previous_bill_dates(ids)
    # Each account's summary since its last bill, for the whole chunk in two queries.
    activity = list_account_activity(
        {
            account_id: (
                last_bill[account_id] + timedelta(days=1) if last_bill.get(account_id) else None,
                dates.bill_date,
            )
            for account_id in ids
        }
    )
    numbers = identifiers.next_numbers("bill", prefix="B", width=9, count=len(ids))
    bill_ids = _reserve_ids(Bill, len(ids))
    created_by = getattr(actor, "username", "") or str(actor)

    replaces = replaces or {}
    # Most bills of a chunk say the same things (first bill, estimated …): each distinct
    # set of messages is encoded once.
    messages_json: dict[tuple, str] = {}
    drafts: list[_Draft] = []
    for pending, number, bill_id in zip(prepared.bills, numbers, bill_ids, strict=True):
        account_id = pending.account_id
        account = accounts[account_id]
        since = activity[account_id]
        summary = compose.summarize(
            opening_cents=since.opening_cents,
            activity=since.by_kind.items(),
            new_charges_cents=pending.charges_cents,
        )
        replaced = replaces.get(account_id)
        said = (
            pending.is_estimated,
            pending.estimated_streak,
            summary.previous_balance_cents + summary.payments_cents + summary.adjustments_cents,
            pending.is_first,
            pending.is_final,
            replaced.number if replaced is not None else None,
        )
        text = messages_json.get(said)
        if text is None:
            text = messages_json[said] = json.dumps(_messages(*said))
        drafts.append(
            _Draft(
                pk=bill_id,
                number=number,
                account_id=account_id,
                account_number=account.number,
                bill_date=dates.bill_date,
                due_date=dates.due_date,
                start_date=pending.start_date,
                end_date=pending.end_date,
                summary=summary,
                is_estimated=pending.is_estimated,
                estimated_streak=pending.estimated_streak,
                is_first=pending.is_first,
                is_final=pending.is_final,
                exceptions_json=pending.exceptions_json,
                messages_json=text,
                language=account.language or "en",
                paperless=account.paperless,
                replaces_id=replaced.pk if replaced is not None else None,
                segments=pending.segments,
            )
        )
    _write(drafts, cycle=dates.cycle, run_id=run_id, at=at, created_by=created_by)
    issued = [d for d in drafts if not d.held]
    held = [d for d in drafts if d.held]
    if issued:
        _post_entries(issued, actor=actor, at=at, source=f"bill_run:{run_id or ''}")
    if held:
        for bill in Bill.objects.filter(pk__in=[d.pk for d in held]).order_by("pk"):
            _raise_exception_item(bill, accounts[bill.account_id].number, actor=actor, at=at)
    audit.record(
        "billing.bills.issued",
        subject=None,
        actor=actor,
        at=at,
        after={
            "cycle": dates.cycle,
            "read_date": dates.read_date,
            "issued": len(issued),
            "held": len(held),
            "run": run_id,
        },
    )
    result.issued, result.held = len(issued), len(held)
    result.bill_ids = [d.pk for d in drafts]
    return result


def _post_entries(drafts: list[_Draft], *, actor, at: datetime, source: str) -> None:
    """The issued bills' journal entries. The usual bill — one agreement, charges owed — goes
    column by column through ``post_columns`` (one receivable debit, a credit per GL role);
    the rest (several agreements, a net credit) as ``EntrySpec`` objects. Same lines either
    way: ``compose.journal_lines``."""
    uniform: list[tuple[_Draft, dict[str, int], int]] = []
    specs = []
    for d in drafts:
        if len(d.segments) == 1 and d.segments[0].charges_cents > 0:
            segment = d.segments[0]
            uniform.append((d, segment.gl_credits, segment.charges_cents))
            continue
        spec = _entry_spec_of_segments(d)
        if spec is not None:
            specs.append(spec)
    if uniform:
        roles = sorted({role for _, by_role, _ in uniform for role in by_role})
        # One row a bill: the receivable debit, then each role's credit (0 where it has none).
        amounts = np.array(
            [
                [charges, *(by_role.get(role, 0) for role in roles)]
                for _, by_role, charges in uniform
            ],
            dtype=np.int64,
        ).reshape(len(uniform), len(roles) + 1)
        descriptions: dict[tuple[str, date, date], str] = {}
        texts = [_entry_description(d, descriptions) for d, _, _ in uniform]
        post_columns(
            EntryColumns(
                kind="bill",
                slots=[Slot(compose.RECEIVABLES, Category.CHARGE)] + [Slot(r) for r in roles],
                keys=[d.entry_key for d, _, _ in uniform],
                effective_dates=[d.bill_date for d, _, _ in uniform],
                amounts=amounts,
                account_ids=[d.account_id for d, _, _ in uniform],
                agreement_ids=[d.segments[0].agreement_id for d, _, _ in uniform],
                due_dates=[d.due_date for d, _, _ in uniform],
                descriptions=texts,
                source=source,
            ),
            actor=actor,
            at=at,
            chunk_size=max(len(uniform), 1),
        )
    if specs:
        post_entries_batch(specs, actor=actor, at=at, source=source)


def _entry_description(bill, cache: dict | None = None) -> str:
    """ "Bill B000001234, Mar 2 – Mar 31, 2026": the period's last day is the day before the
    (exclusive) end."""
    if cache is None:
        cache = {}
    key = (bill.start_date, bill.end_date)
    period = cache.get(key)
    if period is None:
        last = bill.end_date - timedelta(days=1)
        period = cache[key] = f"{bill.start_date:%b %-d} – {last:%b %-d, %Y}"
    return f"Bill {bill.number}, {period}"


@dataclass(slots=True)
class _Draft:
    """A bill about to be written: what ``_write`` needs, without a model instance (a bill run
    makes a hundred thousand)."""

    pk: int
    number: str
    account_id: int
    account_number: str
    bill_date: date
    due_date: date
    start_date: date
    end_date: date
    summary: compose.Summary
    is_estimated: bool
    estimated_streak: int
    is_first: bool
    is_final: bool
    exceptions_json: str
    messages_json: str
    language: str
    paperless: bool
    replaces_id: int | None
    segments: list[SealedSegment]

    @property
    def entry_key(self) -> str:
        return f"bill:{self.number}"

    @property
    def held(self) -> bool:
        return self.exceptions_json != "[]"


def _messages(
    is_estimated: bool,
    streak: int,
    past_due_cents: int,
    first: bool,
    final: bool,
    replaces: str | None,
) -> list[dict]:
    """Message codes with their figures; presentment words them in the bill's language.
    ``replaces``: the number of the bill this one rebills."""
    out: list[dict] = []
    if replaces is not None:
        out.append({"code": "rebill", "replaces": replaces})
    if is_estimated:
        out.append({"code": "estimated", "streak": streak})
    if past_due_cents > 0:
        out.append({"code": "past_due", "cents": past_due_cents})
    if first:
        out.append({"code": "first_bill"})
    if final:
        out.append({"code": "final_bill"})
    return out


def _reserve_ids(model, count: int) -> list[int]:
    """Primary keys for ``count`` new rows, chosen up front so segments and lines can name
    their bill without reading anything back (the ledger batch path does the same): the
    sequence on PostgreSQL; on SQLite ``max(id) + 1``, safe because the IMMEDIATE
    transaction holds the only write lock."""
    table = model._meta.db_table
    if not count:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                [table, count],
            )
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {connection.ops.quote_name(table)}")
        first = cursor.fetchone()[0] + 1
        return list(range(first, first + count))


#: ``Bill`` columns in the order ``_write`` gives them.
BILL_COLUMNS = (
    "id",
    "number",
    "account_id",
    "cycle",
    "status",
    "bill_date",
    "due_date",
    "start_date",
    "end_date",
    "previous_balance_cents",
    "payments_cents",
    "adjustments_cents",
    "new_charges_cents",
    "total_due_cents",
    "is_estimated",
    "estimated_streak",
    "is_first",
    "is_final",
    "exceptions",
    "messages",
    "language",
    "delivery",
    "entry_key",
    "replaces_id",
    "run_id",
    "created_at",
    "created_by_label",
    "issued_at",
    "close_reason",
)
SEGMENT_COLUMNS = (
    "id",
    "bill_id",
    "agreement_id",
    "rate_code",
    "rate_versions",
    "start_date",
    "end_date",
    "days",
    "usage_wh",
    "received_wh",
    "max_demand_w",
    "estimated_share",
    "missing_share",
    "determinants",
    "charges_cents",
    "lines_json",
)


def _write(drafts: list[_Draft], *, cycle: int, run_id: int | None, at: datetime, created_by: str):
    """Bills and segments (each with its lines, ``lines_json``) as plain rows
    (``ohm.core.bulk``): one prepared INSERT run over many rows on SQLite, COPY on
    PostgreSQL. Values are put in database form here, once per distinct date, rather than
    field by field through model instances."""
    ops = connection.ops
    day = _DatabaseDates(ops.adapt_datefield_value)
    at_db = ops.adapt_datetimefield_value(at)
    issued, held = Bill.Status.ISSUED.value, Bill.Status.HELD.value
    email, mail = Bill.Delivery.EMAIL.value, Bill.Delivery.PRINT.value
    bill_rows = []
    segment_count = 0
    for d in drafts:
        s = d.summary
        bill_rows.append(
            (
                d.pk,
                d.number,
                d.account_id,
                cycle,
                held if d.held else issued,
                day[d.bill_date],
                day[d.due_date],
                day[d.start_date],
                day[d.end_date],
                s.previous_balance_cents,
                s.payments_cents,
                s.adjustments_cents,
                s.new_charges_cents,
                s.total_due_cents,
                d.is_estimated,
                d.estimated_streak,
                d.is_first,
                d.is_final,
                d.exceptions_json,
                d.messages_json,
                d.language,
                email if d.paperless else mail,
                d.entry_key,
                d.replaces_id,
                run_id,
                at_db,
                created_by,
                None if d.held else at_db,
                "",
            )
        )
        segment_count += len(d.segments)
    bulk.insert_rows(Bill._meta.db_table, BILL_COLUMNS, bill_rows)

    segment_ids = iter(_reserve_ids(BillSegment, segment_count))
    segment_rows = [
        (
            next(segment_ids),
            d.pk,
            s.agreement_id,
            s.rate_code,
            s.versions_json,
            day[s.start_date],
            day[s.end_date],
            s.days,
            s.usage_wh,
            s.received_wh,
            s.max_demand_w,
            s.estimated_share,
            s.missing_share,
            s.determinants_json,
            s.charges_cents,
            s.lines_json,
        )
        for d in drafts
        for s in d.segments
    ]
    bulk.insert_rows(BillSegment._meta.db_table, SEGMENT_COLUMNS, segment_rows)


class _DatabaseDates(dict):
    """Dates in database form, each distinct date adapted once (a chunk's rows share a few)."""

    def __init__(self, adapt: Callable[[date], object]) -> None:
        super().__init__()
        self._adapt = adapt

    def __missing__(self, value: date) -> object:
        found = self[value] = self._adapt(value)
        return found


def _lines_by_bill(bills: list[Bill]) -> list[tuple[Bill, list[tuple[int, list[BillLine]]]]]:
    """Each bill's lines by agreement (its segments in order)."""
    by_bill: dict[int, dict[int, list[BillLine]]] = defaultdict(lambda: defaultdict(list))
    for bill_id, agreement_id, text in (
        BillSegment.objects.filter(bill_id__in=[b.pk for b in bills])
        .order_by("id")
        .values_list("bill_id", "agreement_id", "lines_json")
    ):
        by_bill[bill_id][agreement_id].extend(decode_lines(text, segment_id=None))
    return [(b, list(by_bill[b.pk].items())) for b in bills]


def _entry_spec_of_segments(bill: _Draft) -> ledger.EntrySpec | None:
    """``_entry_spec`` for a bill being issued, from its sealed segments' GL totals."""
    return _spec_of(
        bill,
        compose.journal_lines_of_totals(
            {s.agreement_id: (s.charges_cents, s.gl_credits) for s in bill.segments}
        ),
    )


def _entry_spec(
    bill: Bill | _Draft, segment_lines: Mapping[int, Sequence[compose.Priced]]
) -> ledger.EntrySpec | None:
    return _spec_of(bill, compose.journal_lines(segment_lines))


def _spec_of(bill: Bill | _Draft, lines: list[compose.EntryLine]) -> ledger.EntrySpec | None:
    if not lines:
        return None
    return ledger.EntrySpec(
        kind="bill",
        effective_date=bill.bill_date,
        idempotency_key=bill.entry_key,
        description=_entry_description(bill),
        lines=[
            ledger.LineSpec(
                gl=line.role,
                amount_cents=line.amount_cents,
                account_id=bill.account_id if line.role == compose.RECEIVABLES else None,
                agreement_id=line.agreement_id,
                due_date=bill.due_date if line.role == compose.RECEIVABLES else None,
                category=(
                    Category.CREDIT
                    if line.role == compose.RECEIVABLES and line.amount_cents < 0
                    else Category.CHARGE
                ),
                memo=f"bill {bill.number}",
            )
            for line in lines
        ],
        source=f"bill:{bill.pk}",
    )


def _raise_exception_item(bill: Bill, account_number: str, *, actor, at: datetime) -> None:
    codes = ", ".join(sorted({e["code"].replace("_", " ") for e in bill.exceptions}))
    item = work.raise_work_item(
        category_code="bill_exception",
        title=f"Bill {bill.number} held: {codes}"[:200],
        description="\n".join(e["message"] for e in bill.exceptions),
        actor=actor,
        at=at,
        subject=bill,
        account_id=bill.account_id,
        account_number=account_number,
    )
    Bill.objects.filter(pk=bill.pk).update(work_item_id=item.pk)
    bill.work_item_id = item.pk


# -- one bill at a time --------------------------------------------------------------------


def entry_of(bill: Bill) -> JournalEntry | None:
    """The bill's journal entry: posting its spec again returns the entry first posted under
    the bill's key (the ledger's idempotency), so nothing is read from the journal tables."""
    if bill.entry_id:
        return bill.entry
    (pair,) = _lines_by_bill([bill])
    spec = _entry_spec(bill, dict(pair[1]))
    if spec is None:
        return None
    return ledger.post_entry(
        spec, actor=audit.SystemActor("billing"), at=bill.issued_at or bill.created_at
    )


def _lock(bill: Bill) -> Bill:
    return Bill.objects.select_for_update().get(pk=bill.pk)


def _close_work(bill: Bill, *, actor, at: datetime, resolution: str) -> None:
    if bill.work_item_id is None:
        return
    from ohm.workqueue.models import WorkItem

    item = WorkItem.objects.filter(pk=bill.work_item_id).first()
    if item is not None and not item.is_closed:
        work.set_work_status(
            item=item, status=WorkItem.Status.DONE, actor=actor, at=at, resolution=resolution
        )


@transaction.atomic
def release_bill(*, bill: Bill, actor, at: datetime, reason: str) -> Bill:
    """Issue a held bill as it is: dated today (the day it goes out), due by the cycle's rule,
    its entry posted.

    :raises BillNotHeld: when it is not held.
    """
    if not reason.strip():
        raise ReasonRequired()
    bill = _lock(bill)
    if bill.status != Bill.Status.HELD:
        raise BillNotHeld(bill)
    from ohm.billing.models import BillCycle

    today = localdate(at)
    cycle = BillCycle.objects.filter(number=bill.cycle).first()
    due_days = cycle.due_days if cycle else 21
    bill.bill_date = max(bill.bill_date, today)
    bill.due_date = calendar.due_date_for(bill.bill_date, due_days=due_days)
    bill.status = Bill.Status.ISSUED
    bill.issued_at = at
    bill.save(update_fields=["bill_date", "due_date", "status", "issued_at"])
    (pair,) = _lines_by_bill([bill])
    spec = _entry_spec(bill, dict(pair[1]))
    if spec is not None:
        bill.entry = ledger.post_entry(spec, actor=actor, at=at)
        bill.save(update_fields=["entry"])
    _close_work(bill, actor=actor, at=at, resolution=f"Released: {reason.strip()}")
    audit.record(
        "billing.bill.released",
        subject=bill,
        actor=actor,
        at=at,
        account_id=bill.account_id,
        before={"status": Bill.Status.HELD},
        after={"status": bill.status, "bill_date": bill.bill_date, "due_date": bill.due_date},
        reason=reason.strip(),
    )
    return bill


@transaction.atomic
def cancel_bill(*, bill: Bill, actor, at: datetime, reason: str) -> Bill:
    """Take a bill back: an issued bill's entry is reversed (dated today); a held bill, never
    posted, is discarded. Either way its period is free to bill again.

    :raises ValidationError: when it is already cancelled or discarded.
    """
    if not reason.strip():
        raise ReasonRequired()
    bill = _lock(bill)
    before = bill.status
    if bill.status == Bill.Status.ISSUED:
        entry = entry_of(bill)
        if entry is not None:
            bill.reversal_entry = ledger.reverse_entry(
                entry=entry,
                effective_date=localdate(at),
                actor=actor,
                at=at,
                reason=reason.strip()[:40],
                idempotency_key=f"bill-cancel:{bill.number}",
            )
            bill.entry = entry
        bill.status = Bill.Status.CANCELLED
    elif bill.status == Bill.Status.HELD:
        bill.status = Bill.Status.DISCARDED
    else:
        raise BillNotIssued(bill)
    bill.closed_at = at
    bill.closed_by = actor if getattr(actor, "pk", None) else None
    bill.close_reason = reason.strip()
    bill.save(
        update_fields=[
            "status",
            "closed_at",
            "closed_by",
            "close_reason",
            "entry",
            "reversal_entry",
        ]
    )
    _close_work(bill, actor=actor, at=at, resolution=f"Cancelled: {reason.strip()}")
    audit.record(
        f"billing.bill.{'cancelled' if bill.status == Bill.Status.CANCELLED else 'discarded'}",
        subject=bill,
        actor=actor,
        at=at,
        account_id=bill.account_id,
        before={"status": before},
        after={"status": bill.status},
        reason=reason.strip(),
    )
    return bill


def _rate_period(determinants: dict, start: date, end: date) -> tuple[date, date]:
    stored = (determinants or {}).get("rate_period")
    if not stored:
        return start, end
    return date.fromisoformat(stored[0]), date.fromisoformat(stored[1])


@transaction.atomic
def rebill(*, bill: Bill, actor, at: datetime, reason: str, rater: Rater = calc.rate_bills) -> Bill:
    """Cancel (or discard) ``bill`` and bill its period again from the meter data and rates as
    they are now (corrected reads, a corrected rate). The new bill names the one it replaces,
    and passes the exception checks again (it may be held).
    """
    cancelled = cancel_bill(bill=bill, actor=actor, at=at, reason=reason)
    today = localdate(at)
    from ohm.billing.models import BillCycle

    cycle = BillCycle.objects.filter(number=cancelled.cycle).first()
    due_days = cycle.due_days if cycle else 21
    dates = BillDates(
        cycle=cancelled.cycle,
        read_date=cancelled.end_date,
        bill_date=today,
        due_date=calendar.due_date_for(today, due_days=due_days),
    )
    result = bill_accounts(
        account_ids=[cancelled.account_id],
        dates=dates,
        at=at,
        actor=actor,
        rater=rater,
        replaces={cancelled.account_id: cancelled},
        periods={
            agreement_id: (start, end, *_rate_period(determinants, start, end))
            for agreement_id, start, end, determinants in cancelled.segments.values_list(
                "agreement_id", "start_date", "end_date", "determinants"
            )
        },
    )
    if not result.bills:
        raise ValidationError({"bill": "Nothing to bill for the period: no agreement was served."})
    new = result.bills[0]
    audit.record(
        "billing.bill.rebilled",
        subject=new,
        actor=actor,
        at=at,
        account_id=new.account_id,
        before={"bill": cancelled.number, "new_charges_cents": cancelled.new_charges_cents},
        after={
            "bill": new.number,
            "new_charges_cents": new.new_charges_cents,
            "status": new.status,
        },
        reason=reason.strip(),
    )
    return new
