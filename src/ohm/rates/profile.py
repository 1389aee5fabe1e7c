"""Price a load profile under one tariff, calendar month by calendar month (pure).

The rate analyst's tool behind ``ohm rates bill-profile``. A load file is CSV with the header
``interval_start,kw``: ``interval_start`` ISO 8601 with a UTC offset, ``kw`` the interval's
average demand; intervals are all 15 or all 60 minutes, without gaps or overlaps. Energy is
``kw × minutes / 60`` counted to the Wh; demand is ``kw`` to the W.

Bill periods are the calendar months (local, in the zone given) that the load touches,
clipped to its first and last local day.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import numpy as np

from ohm.rates.calc import AgreementTerms, Bill, IntervalUsage, VersionSpan, rate_bills
from ohm.rates.tariff import Tariff

INTERVALS = (15, 60)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class LoadError(ValueError):
    """A load file that cannot be priced: the line (1 = header) and field at fault."""

    def __init__(self, line: int, field: str, message: str):
        super().__init__(f"line {line}: {field}: {message}")
        self.line = line
        self.field = field
        self.message = message


@dataclass(frozen=True)
class LoadProfile:
    starts: np.ndarray  # datetime64[m], UTC
    interval_minutes: int
    delivered_wh: np.ndarray  # int64 [t]
    demand_w: np.ndarray  # int64 [t]


def read_load_csv(lines: Iterable[str]) -> LoadProfile:
    """Read ``interval_start,kw`` rows.

    :raises LoadError: naming the line and field: a missing header, a start without a UTC
        offset, a kw that is not a number (or negative), mixed interval lengths, a gap or
        an overlap."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None or [h.strip().lower() for h in header] != ["interval_start", "kw"]:
        raise LoadError(1, "header", f"expected “interval_start,kw”, got {header!r}")
    minutes: list[int] = []
    wh: list[int] = []
    watts: list[int] = []
    kws: list[Decimal] = []
    line = 1
    for line, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != 2:
            raise LoadError(line, "row", f"expected 2 fields, got {len(row)}")
        text, kw_text = row[0].strip(), row[1].strip()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise LoadError(line, "interval_start", f"“{text}” is not an ISO 8601 time") from None
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise LoadError(line, "interval_start", f"“{text}” has no UTC offset")
        try:
            kw = Decimal(kw_text)
        except InvalidOperation:
            raise LoadError(line, "kw", f"“{kw_text}” is not a number") from None
        if not kw.is_finite():
            raise LoadError(line, "kw", f"“{kw_text}” is not a finite number")
        if kw < 0:
            raise LoadError(line, "kw", f"{kw_text} is negative (a load profile is delivered kW)")
        minute = int((moment - _EPOCH).total_seconds() // 60)
        if minutes:
            step = minute - minutes[-1]
            interval = minute - minutes[-1] if len(minutes) == 1 else minutes[1] - minutes[0]
            if len(minutes) == 1 and step not in INTERVALS:
                raise LoadError(
                    line,
                    "interval_start",
                    f"{step} minutes after the previous interval; intervals are 15 or 60 minutes",
                )
            if step <= 0:
                raise LoadError(
                    line, "interval_start", f"{text} overlaps or precedes the previous interval"
                )
            if step != interval:
                if step % interval == 0:
                    raise LoadError(
                        line,
                        "interval_start",
                        f"gap: {step - interval} minutes missing before {text}",
                    )
                if step < interval:
                    raise LoadError(
                        line,
                        "interval_start",
                        f"{text} overlaps the previous {interval}-minute interval",
                    )
                raise LoadError(
                    line,
                    "interval_start",
                    f"mixed intervals: {step} minutes after the previous one, not {interval}",
                )
        minutes.append(minute)
        kws.append(kw)
    if not minutes:
        raise LoadError(line, "interval_start", "the file has no intervals")
    interval = minutes[1] - minutes[0] if len(minutes) > 1 else 60
    for kw in kws:
        watts.append(int((kw * 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP)))
        wh.append(int((kw * 1000 * interval / 60).quantize(Decimal(1), rounding=ROUND_HALF_UP)))
    return LoadProfile(
        starts=np.array(minutes, dtype=np.int64).astype("datetime64[m]"),
        interval_minutes=interval,
        delivered_wh=np.array(wh, dtype=np.int64),
        demand_w=np.array(watts, dtype=np.int64),
    )


@dataclass(frozen=True)
class MonthBill:
    month: str  # "2018-01"
    start_date: date
    end_date: date
    bill: Bill
    unrounded: Decimal

    def cents(self, *components: str) -> int:
        return sum(self.bill.component_cents(c) for c in components)


def _local_day(minute: np.datetime64, zone: tzinfo) -> date:
    moment = _EPOCH + timedelta(minutes=int(minute.astype(np.int64)))
    return moment.astimezone(zone).date()


def bill_profile(
    tariff: Tariff,
    load: LoadProfile,
    zone: tzinfo,
    *,
    label: str = "",
    terms: AgreementTerms | None = None,
) -> list[MonthBill]:
    """One bill per local calendar month of the load (clipped to its first and last day)."""
    first = _local_day(load.starts[0], zone)
    last = _local_day(load.starts[-1], zone)
    out = []
    start = first
    while start <= last:
        following = (start.replace(day=1) + timedelta(days=32)).replace(day=1)
        end = min(following, last + timedelta(days=1))
        lo_moment = datetime.combine(start, datetime.min.time(), tzinfo=zone)
        hi_moment = datetime.combine(end, datetime.min.time(), tzinfo=zone)
        lo = int(np.searchsorted(load.starts, np.datetime64(_utc_naive(lo_moment), "m")))
        hi = int(np.searchsorted(load.starts, np.datetime64(_utc_naive(hi_moment), "m")))
        usage = IntervalUsage(
            starts=load.starts[lo:hi],
            interval_minutes=load.interval_minutes,
            delivered_wh=load.delivered_wh[None, lo:hi],
            demand_w=load.demand_w[None, lo:hi],
        )
        rated = rate_bills(
            versions=[VersionSpan(tariff, start, end, label)],
            start_date=start,
            end_date=end,
            usage=usage,
            zone=zone,
            terms=None if terms is None else [terms],
        )
        out.append(
            MonthBill(
                month=f"{start.year:04d}-{start.month:02d}",
                start_date=start,
                end_date=end,
                bill=rated.bill(0),
                unrounded=rated.unrounded(0),
            )
        )
        start = end
    return out


def _utc_naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


# How the month summary groups bill-line components; "discounts" and "taxes" (surcharges and
# taxes) are added for months that have them.
SUMMARY = {
    "fixed": ("fixed", "customer_charge"),
    "energy": ("energy", "adjustment", "net_metering"),
    "demand_flat": ("demand_flat",),
    "demand_tou": ("demand_tou",),
    "minimum": ("minimum",),
}


def summary(months: list[MonthBill]) -> dict:
    """The ``--json`` document: dollars as decimal strings by month, and the total."""

    def dollars(cents: int) -> str:
        return str(Decimal(cents).scaleb(-2).quantize(Decimal("0.01")))

    rows = []
    grand = 0
    for month in months:
        row: dict[str, str] = {"month": month.month}
        for key, components in SUMMARY.items():
            row[key] = dollars(month.cents(*components))
        present = {line.component for line in month.bill.lines}
        if "discount" in present:
            row["discounts"] = dollars(month.cents("discount"))
        if present & {"surcharge", "tax"}:
            row["taxes"] = dollars(month.cents("surcharge", "tax"))
        row["total"] = dollars(month.bill.total_cents)
        grand += month.bill.total_cents
        rows.append(row)
    return {"months": rows, "total": dollars(grand)}
