"""The demo utility's tariffs as data: approved rate versions for every demo schedule.

Prices come from the public 2023 residential figures of a California city-owned utility
(the three-tier baseline rate: $0.12430/kWh within the baseline allowance, $0.19794 up to
130% of it, $0.29453 above; a $19.99 monthly customer charge). The other schedules (the
time-of-use, EV, commercial and net-metering options), the baseline allowances and the
mid-year rate change are illustrative demo figures in the same range, not any utility's
published tariff. Every version carries a 7.5% utility users tax and a 25% low-income
discount (program code ``LOW_INCOME``) on energy and customer charges, not on taxes.

``ensure_demo_rate_versions`` is idempotent: a schedule that already has versions is left
alone. The E-1 schedule gets two versions — the 2023 prices, then a 4% increase five months
before the demo's ``as_of`` — so a bill period or a comparison month across it prorates.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from ohm.core.audit import SystemActor
from ohm.core.localtime import utility_zone
from ohm.rates import operations
from ohm.rates.models import RateSchedule, RateVersion

ACTOR = SystemActor("demo")
UTILITY = "Port Marisol Municipal Power (demo)"

SUMMER = [6, 7, 8, 9]
WINTER = [1, 2, 3, 4, 5, 10, 11, 12]
TERRITORIES = "PQRSTVWXYZ"

#: Baseline allowances, kWh per day: (summer, winter) for gas-heated ("basic") and
#: all-electric homes. Illustrative: coastal territories (P…T) need less summer energy,
#: inland ones (V…Z) more; all-electric homes get more in winter.
BASELINE_KWH_PER_DAY = {
    "P": ((Decimal("13.5"), Decimal("11.0")), (Decimal("15.2"), Decimal("26.0"))),
    "Q": ((Decimal("9.8"), Decimal("11.0")), (Decimal("8.5"), Decimal("26.0"))),
    "R": ((Decimal("17.7"), Decimal("10.4")), (Decimal("19.9"), Decimal("26.7"))),
    "S": ((Decimal("15.0"), Decimal("10.2")), (Decimal("17.8"), Decimal("23.7"))),
    "T": ((Decimal("6.5"), Decimal("7.5")), (Decimal("7.1"), Decimal("12.9"))),
    "V": ((Decimal("7.5"), Decimal("8.6")), (Decimal("10.9"), Decimal("20.8"))),
    "W": ((Decimal("18.8"), Decimal("9.8")), (Decimal("23.6"), Decimal("20.6"))),
    "X": ((Decimal("9.8"), Decimal("9.7")), (Decimal("8.5"), Decimal("14.6"))),
    "Y": ((Decimal("10.5"), Decimal("11.1")), (Decimal("12.0"), Decimal("24.0"))),
    "Z": ((Decimal("5.9"), Decimal("7.8")), (Decimal("6.7"), Decimal("15.7"))),
}
MEDICAL_KWH_PER_DAY = "16.438"

#: (code, name, description, requires_interval_meter, required_program)
ELIGIBILITY = {
    "E-1": (
        "Residential baseline tiered",
        "Three tiers: energy within the baseline allowance for the territory, season and heat "
        "source; up to 130% of it; and above.",
        False,
        "",
    ),
    "E-TOU": (
        "Residential time-of-use",
        "Peak 4–9 pm every day; off-peak all other hours. Needs an interval (AMI) meter.",
        True,
        "",
    ),
    "EV-TOU": (
        "Residential EV time-of-use",
        "Low super-off-peak price midnight–6 am for charging electric vehicles; peak 4–9 pm.",
        True,
        "ev",
    ),
    "A-1": (
        "Small commercial",
        "Businesses below 200 kW demand: seasonal energy prices.",
        False,
        "",
    ),
    "A-10": (
        "Large commercial with demand",
        "Energy plus a monthly maximum-demand charge (the highest 15-minute kW of the month), "
        "higher in summer.",
        True,
        "",
    ),
    "NEM": (
        "Net energy metering (residential)",
        "Customer generation (solar): energy received is netted against energy delivered in "
        "the same period at the retail price; a net surplus earns $0.04/kWh.",
        True,
        "net_metering",
    ),
}


def _flat_schedule(period: int = 0) -> list[list[int]]:
    return [[period] * 24 for _ in range(12)]


def _seasonal_schedule(summer: int, winter: int) -> list[list[int]]:
    return [[summer if month in SUMMER else winter] * 24 for month in range(1, 13)]


def _hours(mapping: dict[range, int], default: int) -> list[int]:
    row = [default] * 24
    for hours, period in mapping.items():
        for hour in hours:
            row[hour] = period
    return row


def _every_month(row: list[int]) -> list[list[int]]:
    return [list(row) for _ in range(12)]


def _ohm(*, baseline: bool = False, net_metering: bool = False) -> dict:
    ohm: dict = {
        "discounts": [
            {
                "code": "LOW_INCOME",
                "description": "Low-income discount (25% of energy and customer charges)",
                "percent": "25",
                "base": ["fixed", "customer_charge", "energy"],
            }
        ],
        "taxes": [
            {
                "code": "UUT",
                "description": "Utility users tax",
                "percent": "7.5",
                "base": [
                    "fixed",
                    "customer_charge",
                    "energy",
                    "adjustment",
                    "demand",
                    "minimum",
                    "net_metering",
                    "discount",
                ],
            }
        ],
    }
    if baseline:
        allowances = []
        for territory in TERRITORIES:
            basic, electric = BASELINE_KWH_PER_DAY[territory]
            for heat_source, (summer, winter) in (("gas", basic), ("electric", electric)):
                for season, kwh in (("summer", summer), ("winter", winter)):
                    allowances.append(
                        {
                            "territory": territory,
                            "heat_source": heat_source,
                            "season": season,
                            "kwh_per_day": str(kwh),
                        }
                    )
        ohm["baseline"] = {
            "tier_percents": ["100", "130"],
            "seasons": [
                {"name": "summer", "months": SUMMER},
                {"name": "winter", "months": WINTER},
            ],
            "allowances": allowances,
            "medical_kwh_per_day": MEDICAL_KWH_PER_DAY,
        }
    if net_metering:
        ohm["net_metering"] = {"credit": "retail", "surplus_rate": "0.04"}
    return ohm


def _scaled(price: str, factor: Decimal) -> str:
    return str((Decimal(price) * factor).quantize(Decimal("0.00001")))


def residential_tiered(
    *, factor: Decimal = Decimal(1), label: str = "E-1", net_metering: bool = False
) -> dict:
    """E-1 (and NEM): three tiers by baseline; the tier ``max`` values (kWh per month) are a
    typical allowance, used only where no territory is known (and by URDB tools)."""
    tiers = [("0.12430", "300"), ("0.19794", "390"), ("0.29453", None)]
    period = []
    for price, top in tiers:
        # No "unit": the default is kWh per month (and tariff.py's baseline check reads an
        # explicit "kWh" as a kW unit).
        tier = {"rate": _scaled(price, factor)}
        if top is not None:
            tier["max"] = top
        period.append(tier)
    return {
        "name": ELIGIBILITY[label][0],
        "utility": UTILITY,
        "label": f"demo-{label.lower()}",
        "sector": "Residential",
        "fixedchargefirstmeter": str((Decimal("19.99") * factor).quantize(Decimal("0.01"))),
        "fixedchargeunits": "$/month",
        "energyratestructure": [period],
        "energyweekdayschedule": _flat_schedule(),
        "energyweekendschedule": _flat_schedule(),
        "ohm": _ohm(baseline=True, net_metering=net_metering),
        **({"dgrules": "Net Metering"} if net_metering else {}),
    }


def residential_tou() -> dict:
    peak = _every_month(_hours({range(16, 21): 1}, 0))
    return {
        "name": ELIGIBILITY["E-TOU"][0],
        "utility": UTILITY,
        "label": "demo-e-tou",
        "sector": "Residential",
        "fixedchargefirstmeter": "19.99",
        "fixedchargeunits": "$/month",
        "energyratestructure": [
            [{"rate": "0.15210", "unit": "kWh"}],
            [{"rate": "0.31870", "unit": "kWh"}],
        ],
        "energyweekdayschedule": peak,
        "energyweekendschedule": peak,
        "ohm": _ohm(),
    }


def ev_tou() -> dict:
    # 0 super off-peak (midnight–6 am), 1 off-peak, 2 peak (4–9 pm).
    row = _every_month(_hours({range(0, 6): 0, range(16, 21): 2}, 1))
    return {
        "name": ELIGIBILITY["EV-TOU"][0],
        "utility": UTILITY,
        "label": "demo-ev-tou",
        "sector": "Residential",
        "fixedchargefirstmeter": "19.99",
        "fixedchargeunits": "$/month",
        "energyratestructure": [
            [{"rate": "0.09870", "unit": "kWh"}],
            [{"rate": "0.17450", "unit": "kWh"}],
            [{"rate": "0.33120", "unit": "kWh"}],
        ],
        "energyweekdayschedule": row,
        "energyweekendschedule": row,
        "ohm": _ohm(),
    }


def small_commercial() -> dict:
    # Period 0 winter, 1 summer.
    return {
        "name": ELIGIBILITY["A-1"][0],
        "utility": UTILITY,
        "label": "demo-a-1",
        "sector": "Commercial",
        "fixedchargefirstmeter": "28.50",
        "fixedchargeunits": "$/month",
        "energyratestructure": [
            [{"rate": "0.16420", "unit": "kWh"}],
            [{"rate": "0.18960", "unit": "kWh"}],
        ],
        "energyweekdayschedule": _seasonal_schedule(1, 0),
        "energyweekendschedule": _seasonal_schedule(1, 0),
        "ohm": _ohm(),
    }


def large_commercial() -> dict:
    """Energy by season and a flat demand charge on the month's highest 15-minute kW."""
    return {
        "name": ELIGIBILITY["A-10"][0],
        "utility": UTILITY,
        "label": "demo-a-10",
        "sector": "Commercial",
        "fixedchargefirstmeter": "165.00",
        "fixedchargeunits": "$/month",
        "energyratestructure": [
            [{"rate": "0.12180", "unit": "kWh"}],
            [{"rate": "0.14230", "unit": "kWh"}],
        ],
        "energyweekdayschedule": _seasonal_schedule(1, 0),
        "energyweekendschedule": _seasonal_schedule(1, 0),
        "flatdemandstructure": [[{"rate": "14.75"}], [{"rate": "21.40"}]],
        "flatdemandmonths": [1 if month in SUMMER else 0 for month in range(1, 13)],
        "ohm": _ohm(),
    }


def _start(day: date) -> datetime:
    return datetime.combine(day, time(8), tzinfo=utility_zone())


def _version(
    schedule: RateSchedule, *, number: int, effective: date, document: dict, notes: str
) -> RateVersion:
    """An approved version as the demo loads it: checked like any other document, written
    with the rest of the city (the load's one ``batch.demo.loaded`` audit event covers it)."""
    operations.check_document(document)
    at = _start(effective)
    return RateVersion(
        schedule=schedule,
        number=number,
        effective_date=effective,
        document=document,
        status=RateVersion.Status.APPROVED,
        notes=notes,
        source=RateVersion.Source.DEMO,
        source_label="ohm.batch.demo_rates",
        created_at=at,
        created_by_label=ACTOR.username,
        updated_at=at,
        approved_at=at,
        approved_by_label=ACTOR.username,
    )


def rate_change_date(as_of: date) -> date:
    """The demo's mid-year E-1 change: the first of the month five months before ``as_of``."""
    month = as_of.month - 5
    year = as_of.year + (month - 1) // 12
    return date(year, (month - 1) % 12 + 1, 1)


def ensure_demo_rate_versions(rates: dict[str, RateSchedule], *, as_of: date) -> int:
    """Eligibility and approved versions for the demo schedules; returns versions added.

    A schedule that has versions keeps them (the demo loads into an empty database, but its
    schedules may have been made by an earlier run)."""
    first = min(date(2023, 1, 1), date(as_of.year - 2, 1, 1))
    documents = {
        "E-1": residential_tiered(),
        "E-TOU": residential_tou(),
        "EV-TOU": ev_tou(),
        "A-1": small_commercial(),
        "A-10": large_commercial(),
        "NEM": residential_tiered(label="NEM", net_metering=True),
    }
    versions = []
    for code, schedule in rates.items():
        _name, description, interval, program = ELIGIBILITY[code]
        RateSchedule.objects.filter(pk=schedule.pk).update(
            description=description, requires_interval_meter=interval, required_program=program
        )
        schedule.refresh_from_db()
        if RateVersion.objects.filter(schedule=schedule).exists():
            continue
        versions.append(
            _version(
                schedule,
                number=1,
                effective=first,
                document=documents[code],
                notes="Demo prices (2023 residential figures; other schedules illustrative).",
            )
        )
        if code == "E-1":
            versions.append(
                _version(
                    schedule,
                    number=2,
                    effective=rate_change_date(as_of),
                    document=residential_tiered(factor=Decimal("1.04")),
                    notes="Demo rate change: energy and customer charges up 4%.",
                )
            )
    RateVersion.objects.bulk_create(versions)
    return len(versions)
