"""One tariff version as data: everything an OpenEI URDB record says, plus Ohm's extensions.

A :class:`Tariff` is immutable and pure (no Django). It comes from

* :func:`parse_urdb` — a URDB API (v3/v7/v8) ``utility_rates`` record as the API returns it
  (numbers as JSON numbers), optionally with an ``"ohm"`` object of extensions;
* :func:`tariff_from_document` — Ohm's stored form: the same URDB key names with every
  price and quantity as a decimal *string*, plus the ``"ohm"`` object (docs/rates.md).

and goes back with :func:`to_urdb` (numbers, for URDB/SAM) and :func:`tariff_to_document`
(strings). URDB keys that Ohm does not rate with (``eiaid``, ``uri``, ``revisions``,
``energyattrs``…) ride along untouched in :attr:`Tariff.extra`, so a record round-trips.

Meaning follows the URDB field documentation as NREL SAM's Utilityrate5 applies it:
schedules are 12 × 24 (``[month - 1][hour]``, 0-based period numbers into the rate
structures), each period a list of tiers ``{rate, adj?, max?, unit?, sell?}`` whose ``max``
values increase and whose last tier has no ``max``; ``rate + adj`` is the price.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

ENERGY_UNITS = ("kWh", "kWh daily", "kWh/kW", "kWh/kW daily")
DEMAND_UNITS = ("kW",)
FIXED_CHARGE_UNITS = ("$/month", "$/day", "$/year")
MIN_CHARGE_UNITS = ("$/month", "$/day", "$/year")
NET_METERING_CREDITS = ("retail", "surplus")
# Bill-line components a percentage (discount, surcharge, tax) may be taken on.
COMPONENTS = (
    "fixed",
    "customer_charge",
    "energy",
    "adjustment",
    "demand_flat",
    "demand_tou",
    "minimum",
    "net_metering",
    "discount",
    "surcharge",
)
_COMPONENT_ALIASES = {"demand": ("demand_flat", "demand_tou")}

# URDB keys this module models; every other key is kept verbatim in Tariff.extra.
_MODELLED = frozenset(
    {
        "name",
        "utility",
        "label",
        "sector",
        "fixedchargefirstmeter",
        "fixedchargeunits",
        "fixedmonthlycharge",
        "mincharge",
        "minchargeunits",
        "energyratestructure",
        "energyweekdayschedule",
        "energyweekendschedule",
        "demandratestructure",
        "demandweekdayschedule",
        "demandweekendschedule",
        "flatdemandstructure",
        "flatdemandmonths",
        "fueladjustmentsmonthly",
        "dgrules",
        "ohm",
    }
)


class TariffError(ValueError):
    """A tariff that cannot be rated, with the field at fault (``energyratestructure[0][1].max``)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# -- the model -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Tier:
    """One tier of a period. ``max`` is the tier's upper limit in ``unit`` (None: unbounded).

    Energy: ``rate``/``adj``/``sell`` in $/kWh, ``max`` in kWh per month (``kWh``), kWh per
    day of the bill period (``kWh daily``) or kWh per kW of the month's peak (``kWh/kW``).
    Demand: $/kW and kW."""

    rate: Decimal
    adj: Decimal | None = None
    max: Decimal | None = None
    unit: str | None = None
    sell: Decimal | None = None

    @property
    def price(self) -> Decimal:
        """What one unit costs: the rate plus its adjustment (URDB ``rate + adj``)."""
        return self.rate + (self.adj or Decimal(0))

    @property
    def unit_key(self) -> str:
        return (self.unit or "kWh").lower()

    @property
    def per_kw(self) -> bool:
        """A kWh/kW tier: its limit is per kW of the month's peak."""
        return "/kw" in self.unit_key


Period = tuple[Tier, ...]
Schedule = tuple[tuple[int, ...], ...]


@dataclass(frozen=True)
class Season:
    name: str
    months: tuple[int, ...]  # 1 = January


@dataclass(frozen=True)
class BaselineAllowance:
    territory: str
    heat_source: str
    season: str
    kwh_per_day: Decimal


@dataclass(frozen=True)
class Baseline:
    """Tiers as percent of a baseline allowance (kWh/day × days, by season).

    ``tier_percents[i]`` is the upper limit of energy tier *i* as a percent of the
    customer's allowance; it replaces the URDB ``max`` of tier *i* in every period when the
    customer's territory and heat source are known. A medical-baseline customer's allowance
    gets ``medical_kwh_per_day`` more per day."""

    tier_percents: tuple[Decimal, ...]
    seasons: tuple[Season, ...]
    allowances: tuple[BaselineAllowance, ...]
    medical_kwh_per_day: Decimal = Decimal(0)

    def season_of(self, month: int) -> str:
        for season in self.seasons:
            if month in season.months:
                return season.name
        raise TariffError("ohm.baseline.seasons", f"no season holds month {month}")

    def kwh_per_day(self, *, territory: str, heat_source: str, month: int) -> Decimal:
        """The allowance per day in ``month``.

        :raises TariffError: when the tariff has no allowance for the combination."""
        season = self.season_of(month)
        for allowance in self.allowances:
            if (allowance.territory, allowance.heat_source, allowance.season) == (
                territory,
                heat_source,
                season,
            ):
                return allowance.kwh_per_day
        raise TariffError(
            "ohm.baseline.allowances",
            f"no allowance for territory “{territory}”, heat source “{heat_source}”, "
            f"season “{season}”",
        )


@dataclass(frozen=True)
class PercentCharge:
    """A discount, surcharge or tax: ``percent`` of the sum of the bill lines of ``base``.

    A discount is entered as a positive percent and billed as a credit."""

    kind: str  # "discount" | "surcharge" | "tax"
    code: str
    description: str
    percent: Decimal
    base: tuple[str, ...]


@dataclass(frozen=True)
class NetMetering:
    """Credit for exported energy: ``retail`` nets exports against deliveries in the same
    TOU period of the month (so they earn the retail price), and a period's net surplus
    earns ``surplus_rate``; ``surplus`` credits every exported kWh at ``surplus_rate``."""

    credit: str
    surplus_rate: Decimal = Decimal(0)


@dataclass(frozen=True)
class Tariff:
    name: str = ""
    utility: str = ""
    label: str = ""
    sector: str = ""
    # Fixed (customer) charge: URDB fixedchargefirstmeter + fixedchargeunits, or the older
    # fixedmonthlycharge ($/month). ``fixed_charge_field`` remembers which, for export.
    fixed_charge: Decimal = Decimal(0)
    fixed_charge_units: str = "$/month"
    fixed_charge_field: str | None = None
    min_charge: Decimal | None = None
    min_charge_units: str = "$/month"
    energy_rates: tuple[Period, ...] = ()
    energy_weekday: Schedule | None = None
    energy_weekend: Schedule | None = None
    demand_rates: tuple[Period, ...] = ()
    demand_weekday: Schedule | None = None
    demand_weekend: Schedule | None = None
    flat_demand_rates: tuple[Period, ...] = ()
    flat_demand_months: tuple[int, ...] | None = None
    fuel_adjustments_monthly: tuple[Decimal, ...] | None = None  # $/kWh by month
    dgrules: str | None = None
    # Ohm's extensions (the "ohm" object)
    customer_charge_per_day: Decimal | None = None
    baseline: Baseline | None = None
    discounts: tuple[PercentCharge, ...] = ()
    surcharges: tuple[PercentCharge, ...] = ()
    taxes: tuple[PercentCharge, ...] = ()
    net_metering: NetMetering | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def has_energy(self) -> bool:
        return bool(self.energy_rates)

    @property
    def has_tou_demand(self) -> bool:
        return bool(self.demand_rates)

    @property
    def has_flat_demand(self) -> bool:
        return bool(self.flat_demand_rates)


# -- reading -------------------------------------------------------------------------------


def _decimal(value: Any, where: str, *, strings_only: bool = False) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise TariffError(where, f"{value!r} is not a number")
    if isinstance(value, float):
        if strings_only:
            raise TariffError(
                where, f'{value!r} is a JSON number; write prices as strings, e.g. "{value!r}"'
            )
        if not math.isfinite(value):
            raise TariffError(where, f"{value!r} is not a finite number")
        return Decimal(repr(value))
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise TariffError(where, f"“{value}” is not a number") from None
        if not number.is_finite():
            raise TariffError(where, f"“{value}” is not a finite number")
        return number
    raise TariffError(where, f"{value!r} is not a number")


def _text(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TariffError(where, f"{value!r} is not text")
    return value


def _schedule(record: Mapping[str, Any], key: str, periods: int, structure: str) -> Schedule:
    value = record.get(key)
    if value is None:
        raise TariffError(key, f"missing; {structure} needs a 12 × 24 weekday and weekend schedule")
    if not isinstance(value, list) or len(value) != 12:
        size = len(value) if isinstance(value, list) else type(value).__name__
        raise TariffError(key, f"must be 12 rows (months) of 24 hours, got {size} rows")
    rows = []
    for m, row in enumerate(value):
        if not isinstance(row, list) or len(row) != 24:
            size = len(row) if isinstance(row, list) else type(row).__name__
            raise TariffError(f"{key}[{m}]", f"month {m + 1} must have 24 hours, got {size}")
        out = []
        for h, cell in enumerate(row):
            if isinstance(cell, bool) or not isinstance(cell, int | float) or cell != int(cell):
                raise TariffError(f"{key}[{m}][{h}]", f"{cell!r} is not a period number")
            number = int(cell)
            if not 0 <= number < periods:
                raise TariffError(
                    f"{key}[{m}][{h}]",
                    f"period {number} has no rate in {structure} "
                    f"(which defines periods 0–{periods - 1})"
                    if periods
                    else f"period {number} has no rate: {structure} is empty",
                )
            out.append(number)
        rows.append(tuple(out))
    return tuple(rows)


def _structure(
    record: Mapping[str, Any], key: str, *, energy: bool, strings_only: bool
) -> tuple[Period, ...]:
    value = record.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        raise TariffError(key, "must be a non-empty list of periods")
    periods = []
    units_allowed = ENERGY_UNITS if energy else DEMAND_UNITS
    for p, tiers in enumerate(value):
        if not isinstance(tiers, list) or not tiers:
            raise TariffError(f"{key}[{p}]", "a period must be a non-empty list of tiers")
        out: list[Tier] = []
        for t, tier in enumerate(tiers):
            where = f"{key}[{p}][{t}]"
            if not isinstance(tier, dict):
                raise TariffError(where, "a tier must be an object with a rate")
            if "rate" not in tier:
                raise TariffError(f"{where}.rate", f"period {p} tier {t} has no rate")
            rate = _decimal(tier["rate"], f"{where}.rate", strings_only=strings_only)
            adj = (
                _decimal(tier["adj"], f"{where}.adj", strings_only=strings_only)
                if tier.get("adj") is not None
                else None
            )
            sell = (
                _decimal(tier["sell"], f"{where}.sell", strings_only=strings_only)
                if tier.get("sell") is not None
                else None
            )
            top = (
                _decimal(tier["max"], f"{where}.max", strings_only=strings_only)
                if tier.get("max") is not None
                else None
            )
            unit = tier.get("unit")
            if unit is not None and (
                not isinstance(unit, str) or unit.lower() not in [u.lower() for u in units_allowed]
            ):
                raise TariffError(
                    f"{where}.unit", f"{unit!r} is not one of {', '.join(units_allowed)}"
                )
            if top is not None and top < 0:
                raise TariffError(f"{where}.max", f"{top} is negative")
            unknown = set(tier) - {"rate", "adj", "max", "unit", "sell"}
            if unknown:
                raise TariffError(where, f"unknown tier keys: {', '.join(sorted(unknown))}")
            out.append(Tier(rate=rate, adj=adj, max=top, unit=unit, sell=sell))
        # Tiers in order: every tier but the last has a max, and the maxes increase.
        for t, tier in enumerate(out[:-1]):
            if tier.max is None:
                raise TariffError(
                    f"{key}[{p}][{t}].max",
                    f"tiers out of order: tier {t} has no max but tier {t + 1} follows it",
                )
            following = out[t + 1].max
            if following is not None and following <= tier.max:
                raise TariffError(
                    f"{key}[{p}][{t + 1}].max",
                    f"tiers out of order: tier {t + 1} max {following} is not above "
                    f"tier {t} max {tier.max}",
                )
        if energy:
            families = {t.per_kw for t in out}
            if len(families) > 1:
                raise TariffError(
                    f"{key}[{p}]",
                    "mixes kWh/kW tiers with kWh tiers in one period, which Ohm does not rate",
                )
        periods.append(tuple(out))
    return tuple(periods)


def _months(record: Mapping[str, Any], periods: int) -> tuple[int, ...]:
    value = record.get("flatdemandmonths")
    if value is None:
        raise TariffError("flatdemandmonths", "missing; flatdemandstructure needs 12 month entries")
    if not isinstance(value, list) or len(value) != 12:
        raise TariffError("flatdemandmonths", "must list 12 period numbers, January first")
    out = []
    for m, cell in enumerate(value):
        if isinstance(cell, bool) or not isinstance(cell, int | float) or cell != int(cell):
            raise TariffError(f"flatdemandmonths[{m}]", f"{cell!r} is not a period number")
        if not 0 <= int(cell) < periods:
            raise TariffError(
                f"flatdemandmonths[{m}]",
                f"period {int(cell)} has no rate in flatdemandstructure "
                f"(which defines periods 0–{periods - 1})",
            )
        out.append(int(cell))
    return tuple(out)


def _percent_charges(
    ohm: Mapping[str, Any], key: str, kind: str, strings_only: bool
) -> tuple[PercentCharge, ...]:
    value = ohm.get(key, [])
    if not isinstance(value, list):
        raise TariffError(f"ohm.{key}", "must be a list")
    out = []
    codes = set()
    for i, item in enumerate(value):
        where = f"ohm.{key}[{i}]"
        if not isinstance(item, dict):
            raise TariffError(where, "must be an object")
        code = _text(item.get("code"), f"{where}.code")
        if not code:
            raise TariffError(f"{where}.code", "missing")
        if code in codes:
            raise TariffError(f"{where}.code", f"“{code}” appears twice")
        codes.add(code)
        if "percent" not in item:
            raise TariffError(f"{where}.percent", "missing")
        percent = _decimal(item["percent"], f"{where}.percent", strings_only=strings_only)
        if not Decimal(0) <= percent <= Decimal(100):
            raise TariffError(f"{where}.percent", f"{percent} is not between 0 and 100")
        base = item.get("base")
        if not isinstance(base, list) or not base:
            raise TariffError(f"{where}.base", "must list the bill components it is taken on")
        expanded: list[str] = []
        for b, name in enumerate(base):
            names = _COMPONENT_ALIASES.get(name, (name,)) if isinstance(name, str) else (name,)
            for one in names:
                if one not in COMPONENTS:
                    raise TariffError(
                        f"{where}.base[{b}]", f"{name!r} is not one of {', '.join(COMPONENTS)}"
                    )
                allowed_after = {"discount": 0, "surcharge": 1, "tax": 2}[kind]
                order = {"discount": 0, "surcharge": 1}.get(one, -1)
                if order >= allowed_after:
                    raise TariffError(
                        f"{where}.base[{b}]",
                        f"a {kind} cannot be taken on {one} lines (they are computed after it)",
                    )
                if one not in expanded:
                    expanded.append(one)
        out.append(
            PercentCharge(
                kind=kind,
                code=code,
                description=_text(item.get("description"), f"{where}.description") or code,
                percent=percent,
                base=tuple(expanded),
            )
        )
    return tuple(out)


def _baseline(value: Any, energy_rates: tuple[Period, ...], strings_only: bool) -> Baseline:
    where = "ohm.baseline"
    if not isinstance(value, dict):
        raise TariffError(where, "must be an object")
    percents_raw = value.get("tier_percents")
    if not isinstance(percents_raw, list) or not percents_raw:
        raise TariffError(f"{where}.tier_percents", "must list the tier limits in percent")
    percents = tuple(
        _decimal(p, f"{where}.tier_percents[{i}]", strings_only=strings_only)
        for i, p in enumerate(percents_raw)
    )
    for i in range(1, len(percents)):
        if percents[i] <= percents[i - 1]:
            raise TariffError(
                f"{where}.tier_percents[{i}]",
                f"tiers out of order: {percents[i]}% is not above {percents[i - 1]}%",
            )
    if percents[0] <= 0:
        raise TariffError(f"{where}.tier_percents[0]", "must be above 0%")
    if not energy_rates:
        raise TariffError(where, "a baseline needs an energyratestructure")
    for p, period in enumerate(energy_rates):
        if len(period) != len(percents) + 1:
            raise TariffError(
                f"{where}.tier_percents",
                f"{len(percents)} limits need {len(percents) + 1} tiers, but "
                f"energyratestructure[{p}] has {len(period)}",
            )
        if any(t.per_kw or "daily" in t.unit_key for t in period):
            raise TariffError(
                f"energyratestructure[{p}]", "baseline tiers must use unit kWh (or none)"
            )
    seasons_raw = value.get("seasons")
    if not isinstance(seasons_raw, list) or not seasons_raw:
        raise TariffError(f"{where}.seasons", "must list the seasons and their months")
    seasons = []
    seen_months: dict[int, str] = {}
    for i, season in enumerate(seasons_raw):
        if not isinstance(season, dict) or not season.get("name"):
            raise TariffError(f"{where}.seasons[{i}]", "needs a name and months")
        months = season.get("months")
        if not isinstance(months, list) or not months:
            raise TariffError(f"{where}.seasons[{i}].months", "must list months 1–12")
        for month in months:
            if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
                raise TariffError(f"{where}.seasons[{i}].months", f"{month!r} is not a month 1–12")
            if month in seen_months:
                raise TariffError(
                    f"{where}.seasons[{i}].months",
                    f"month {month} is already in season “{seen_months[month]}”",
                )
            seen_months[month] = season["name"]
        seasons.append(Season(name=str(season["name"]), months=tuple(months)))
    missing = sorted(set(range(1, 13)) - set(seen_months))
    if missing:
        raise TariffError(f"{where}.seasons", f"months {missing} are in no season")
    allowances = []
    names = {s.name for s in seasons}
    allowances_raw = value.get("allowances")
    if not isinstance(allowances_raw, list) or not allowances_raw:
        raise TariffError(f"{where}.allowances", "must list the allowances")
    keys = set()
    for i, item in enumerate(allowances_raw):
        at = f"{where}.allowances[{i}]"
        if not isinstance(item, dict):
            raise TariffError(at, "must be an object")
        territory = _text(item.get("territory"), f"{at}.territory")
        heat_source = _text(item.get("heat_source"), f"{at}.heat_source")
        season_name = _text(item.get("season"), f"{at}.season")
        if not territory or not heat_source:
            raise TariffError(at, "needs a territory and a heat_source")
        if season_name not in names:
            raise TariffError(f"{at}.season", f"“{season_name}” is not one of the seasons")
        key = (territory, heat_source, season_name)
        if key in keys:
            raise TariffError(at, f"a second allowance for {key}")
        keys.add(key)
        if "kwh_per_day" not in item:
            raise TariffError(f"{at}.kwh_per_day", "missing")
        kwh = _decimal(item["kwh_per_day"], f"{at}.kwh_per_day", strings_only=strings_only)
        if kwh < 0:
            raise TariffError(f"{at}.kwh_per_day", f"{kwh} is negative")
        allowances.append(BaselineAllowance(territory, heat_source, season_name, kwh))
    medical = Decimal(0)
    if value.get("medical_kwh_per_day") is not None:
        medical = _decimal(
            value["medical_kwh_per_day"], f"{where}.medical_kwh_per_day", strings_only=strings_only
        )
        if medical < 0:
            raise TariffError(f"{where}.medical_kwh_per_day", f"{medical} is negative")
    unknown = set(value) - {"tier_percents", "seasons", "allowances", "medical_kwh_per_day"}
    if unknown:
        raise TariffError(where, f"unknown keys: {', '.join(sorted(unknown))}")
    return Baseline(percents, tuple(seasons), tuple(allowances), medical)


def _parse(record: Any, *, strings_only: bool) -> Tariff:
    if not isinstance(record, dict):
        raise TariffError("(record)", "a tariff is a JSON object of URDB fields")
    values: dict[str, Any] = {}
    for key in ("name", "utility", "label", "sector"):
        values[key] = _text(record.get(key), key)

    # Fixed charge: the newer schema wins when both are present.
    if record.get("fixedchargefirstmeter") is not None:
        values["fixed_charge"] = _decimal(
            record["fixedchargefirstmeter"], "fixedchargefirstmeter", strings_only=strings_only
        )
        units = record.get("fixedchargeunits") or "$/month"
        if units not in FIXED_CHARGE_UNITS:
            raise TariffError("fixedchargeunits", f"{units!r} is not one of {FIXED_CHARGE_UNITS}")
        values["fixed_charge_units"] = units
        values["fixed_charge_field"] = "fixedchargefirstmeter"
        if record.get("fixedmonthlycharge") is not None:
            raise TariffError(
                "fixedmonthlycharge", "give either fixedmonthlycharge or fixedchargefirstmeter"
            )
    elif record.get("fixedmonthlycharge") is not None:
        values["fixed_charge"] = _decimal(
            record["fixedmonthlycharge"], "fixedmonthlycharge", strings_only=strings_only
        )
        values["fixed_charge_field"] = "fixedmonthlycharge"
        if record.get("fixedchargeunits") not in (None, "$/month"):
            raise TariffError("fixedchargeunits", "fixedmonthlycharge is always $/month")
    elif record.get("fixedchargeunits") is not None:
        raise TariffError("fixedchargeunits", "given without fixedchargefirstmeter")

    if record.get("mincharge") is not None:
        values["min_charge"] = _decimal(record["mincharge"], "mincharge", strings_only=strings_only)
        units = record.get("minchargeunits") or "$/month"
        if units not in MIN_CHARGE_UNITS:
            raise TariffError("minchargeunits", f"{units!r} is not one of {MIN_CHARGE_UNITS}")
        values["min_charge_units"] = units

    energy = _structure(record, "energyratestructure", energy=True, strings_only=strings_only)
    values["energy_rates"] = energy
    if energy:
        for key in ("energyweekdayschedule", "energyweekendschedule"):
            values[key.replace("schedule", "").replace("energy", "energy_")] = _schedule(
                record, key, len(energy), "energyratestructure"
            )
    else:
        for key in ("energyweekdayschedule", "energyweekendschedule"):
            if record.get(key) is not None:
                raise TariffError(key, "a schedule without an energyratestructure")

    demand = _structure(record, "demandratestructure", energy=False, strings_only=strings_only)
    values["demand_rates"] = demand
    if demand:
        for key in ("demandweekdayschedule", "demandweekendschedule"):
            values[key.replace("schedule", "").replace("demand", "demand_")] = _schedule(
                record, key, len(demand), "demandratestructure"
            )
    else:
        for key in ("demandweekdayschedule", "demandweekendschedule"):
            if record.get(key) is not None:
                raise TariffError(key, "a schedule without a demandratestructure")

    flat = _structure(record, "flatdemandstructure", energy=False, strings_only=strings_only)
    values["flat_demand_rates"] = flat
    if flat:
        values["flat_demand_months"] = _months(record, len(flat))

    if record.get("fueladjustmentsmonthly") is not None:
        fuel = record["fueladjustmentsmonthly"]
        if not isinstance(fuel, list) or len(fuel) != 12:
            raise TariffError("fueladjustmentsmonthly", "must list 12 $/kWh values, January first")
        values["fuel_adjustments_monthly"] = tuple(
            _decimal(v, f"fueladjustmentsmonthly[{i}]", strings_only=strings_only)
            for i, v in enumerate(fuel)
        )
    if record.get("dgrules") is not None:
        values["dgrules"] = _text(record["dgrules"], "dgrules")

    ohm = record.get("ohm")
    if ohm is not None:
        values.update(_parse_ohm(ohm, energy, strings_only=strings_only))

    # flatdemandmonths without a flatdemandstructure means nothing to rate: keep it as it came.
    modelled = _MODELLED if flat else _MODELLED - {"flatdemandmonths"}
    values["extra"] = MappingProxyType(
        {key: value for key, value in record.items() if key not in modelled}
    )
    return Tariff(**values)


def _parse_ohm(ohm: Any, energy: tuple[Period, ...], *, strings_only: bool) -> dict[str, Any]:
    if not isinstance(ohm, dict):
        raise TariffError("ohm", "must be an object of Ohm's extensions")
    unknown = set(ohm) - {
        "customer_charge_per_day",
        "baseline",
        "discounts",
        "surcharges",
        "taxes",
        "net_metering",
    }
    if unknown:
        raise TariffError("ohm", f"unknown keys: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    if ohm.get("customer_charge_per_day") is not None:
        values["customer_charge_per_day"] = _decimal(
            ohm["customer_charge_per_day"], "ohm.customer_charge_per_day", strings_only=strings_only
        )
    if ohm.get("baseline") is not None:
        values["baseline"] = _baseline(ohm["baseline"], energy, strings_only)
    values["discounts"] = _percent_charges(ohm, "discounts", "discount", strings_only)
    values["surcharges"] = _percent_charges(ohm, "surcharges", "surcharge", strings_only)
    values["taxes"] = _percent_charges(ohm, "taxes", "tax", strings_only)
    if ohm.get("net_metering") is not None:
        nm = ohm["net_metering"]
        if not isinstance(nm, dict):
            raise TariffError("ohm.net_metering", "must be an object")
        credit = nm.get("credit")
        if credit not in NET_METERING_CREDITS:
            raise TariffError(
                "ohm.net_metering.credit", f"{credit!r} is not one of {NET_METERING_CREDITS}"
            )
        rate = Decimal(0)
        if nm.get("surplus_rate") is not None:
            rate = _decimal(
                nm["surplus_rate"], "ohm.net_metering.surplus_rate", strings_only=strings_only
            )
        elif credit == "surplus":
            raise TariffError("ohm.net_metering.surplus_rate", "missing for surplus credit")
        values["net_metering"] = NetMetering(credit=credit, surplus_rate=rate)
    return values


def parse_urdb(record: Mapping[str, Any]) -> Tariff:
    """A URDB ``utility_rates`` record (numbers as JSON numbers or strings) as a Tariff.

    :raises TariffError: naming the field, for schedules that are not 12 × 24, a schedule
        period with no rate, a tier without a rate, tiers out of order, unknown units…"""
    return _parse(dict(record), strings_only=False)


def tariff_from_document(doc: Mapping[str, Any]) -> Tariff:
    """Ohm's stored form (docs/rates.md): URDB keys with prices and quantities as decimal
    strings (integers allowed; JSON floats refused), plus the optional ``"ohm"`` object."""
    return _parse(dict(doc), strings_only=True)


# -- writing -------------------------------------------------------------------------------


def _number(value: Decimal) -> int | float:
    if value == value.to_integral_value() and abs(value) < 10**15:
        return int(value)
    return float(value)


def _string(value: Decimal) -> str:
    return str(value)


def _write(t: Tariff, convert) -> dict[str, Any]:
    out: dict[str, Any] = dict(t.extra)
    for key in ("name", "utility", "label", "sector"):
        if getattr(t, key):
            out[key] = getattr(t, key)
    if t.fixed_charge_field == "fixedmonthlycharge":
        out["fixedmonthlycharge"] = convert(t.fixed_charge)
    elif t.fixed_charge_field == "fixedchargefirstmeter" or t.fixed_charge:
        out["fixedchargefirstmeter"] = convert(t.fixed_charge)
        out["fixedchargeunits"] = t.fixed_charge_units
    if t.min_charge is not None:
        out["mincharge"] = convert(t.min_charge)
        out["minchargeunits"] = t.min_charge_units

    def structure(periods: tuple[Period, ...]) -> list[list[dict[str, Any]]]:
        rows = []
        for period in periods:
            tiers = []
            for tier in period:
                item: dict[str, Any] = {"rate": convert(tier.rate)}
                if tier.adj is not None:
                    item["adj"] = convert(tier.adj)
                if tier.max is not None:
                    item["max"] = convert(tier.max)
                if tier.unit is not None:
                    item["unit"] = tier.unit
                if tier.sell is not None:
                    item["sell"] = convert(tier.sell)
                tiers.append(item)
            rows.append(tiers)
        return rows

    def schedule(rows: Schedule | None) -> list[list[int]]:
        return [list(row) for row in rows or ()]

    if t.energy_rates:
        out["energyratestructure"] = structure(t.energy_rates)
        out["energyweekdayschedule"] = schedule(t.energy_weekday)
        out["energyweekendschedule"] = schedule(t.energy_weekend)
    if t.demand_rates:
        out["demandratestructure"] = structure(t.demand_rates)
        out["demandweekdayschedule"] = schedule(t.demand_weekday)
        out["demandweekendschedule"] = schedule(t.demand_weekend)
    if t.flat_demand_rates:
        out["flatdemandstructure"] = structure(t.flat_demand_rates)
    if t.flat_demand_months is not None:
        out["flatdemandmonths"] = list(t.flat_demand_months)
    if t.fuel_adjustments_monthly is not None:
        out["fueladjustmentsmonthly"] = [convert(v) for v in t.fuel_adjustments_monthly]
    if t.dgrules is not None:
        out["dgrules"] = t.dgrules
    ohm = _write_ohm(t)
    if ohm:
        out["ohm"] = ohm
    return out


def _write_ohm(t: Tariff) -> dict[str, Any]:
    ohm: dict[str, Any] = {}
    if t.customer_charge_per_day is not None:
        ohm["customer_charge_per_day"] = str(t.customer_charge_per_day)
    if t.baseline is not None:
        b = t.baseline
        ohm["baseline"] = {
            "tier_percents": [str(p) for p in b.tier_percents],
            "seasons": [{"name": s.name, "months": list(s.months)} for s in b.seasons],
            "allowances": [
                {
                    "territory": a.territory,
                    "heat_source": a.heat_source,
                    "season": a.season,
                    "kwh_per_day": str(a.kwh_per_day),
                }
                for a in b.allowances
            ],
            "medical_kwh_per_day": str(b.medical_kwh_per_day),
        }
    for key, charges in (
        ("discounts", t.discounts),
        ("surcharges", t.surcharges),
        ("taxes", t.taxes),
    ):
        if charges:
            ohm[key] = [
                {
                    "code": c.code,
                    "description": c.description,
                    "percent": str(c.percent),
                    "base": list(c.base),
                }
                for c in charges
            ]
    if t.net_metering is not None:
        ohm["net_metering"] = {
            "credit": t.net_metering.credit,
            "surplus_rate": str(t.net_metering.surplus_rate),
        }
    return ohm


def to_urdb(tariff: Tariff) -> dict[str, Any]:
    """The tariff as a URDB record (JSON numbers), every unmodelled key as it came in.

    Ohm's extensions stay under ``"ohm"`` (URDB and SAM ignore the key)."""
    return _write(tariff, _number)


def tariff_to_document(tariff: Tariff) -> dict[str, Any]:
    """The stored form: URDB keys, prices and quantities as decimal strings, plus ``"ohm"``."""
    return _write(tariff, _string)


def tariff_periods(schedule: Sequence[Sequence[int]] | None) -> list[int]:
    """The period numbers a 12 × 24 schedule uses, ascending."""
    return sorted({cell for row in schedule or () for cell in row})
