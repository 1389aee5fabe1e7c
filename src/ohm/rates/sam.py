"""NREL SAM's Utilityrate5 as an independent reference calculator (tests and benchmarks).

``nrel-pysam`` is a development dependency: this module imports it only when called. A URDB
record is converted with SAM's own ``UtilityRateTools.URDBv8_to_ElectricityRates`` (on a
copy: that function edits the schedules it is given in place); SAM's year is 8,760 hours
(or 35,040 quarter-hours…) of a non-leap year that starts on a Monday, in one fixed local
time without DST — give it loads laid out that way (e.g. 2018 in a zone without DST).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class SamMonths:
    """SAM's year-one bill by month, dollars (floats, unrounded), January first."""

    energy: np.ndarray
    demand_flat: np.ndarray
    demand_tou: np.ndarray
    fixed: np.ndarray
    minimum: np.ndarray
    total: np.ndarray


def electricity_rates(record: Mapping[str, Any]) -> dict[str, Any]:
    """SAM's ElectricityRates inputs for a URDB record, as SAM's converter makes them.

    The converter knows only ``fixedchargefirstmeter``; the older ``fixedmonthlycharge``
    ($/month) is passed as SAM's monthly fixed charge."""
    from PySAM.UtilityRateTools import URDBv8_to_ElectricityRates

    urdb = {k: v for k, v in copy.deepcopy(dict(record)).items() if k != "ohm"}
    rates = URDBv8_to_ElectricityRates(urdb)
    if "fixedmonthlycharge" in urdb and "ur_monthly_fixed_charge" not in rates:
        rates["ur_monthly_fixed_charge"] = urdb["fixedmonthlycharge"]
    if "fixedchargefirstmeter" in urdb and "fixedchargeunits" not in urdb:
        rates["ur_monthly_fixed_charge"] = urdb["fixedchargefirstmeter"]
    return rates


def sam_monthly_bills(
    rates: Mapping[str, Any], load_kw: np.ndarray, gen_kw: np.ndarray | None = None
) -> SamMonths:
    """Run Utilityrate5 for one year of load (kW per step, 8760 × steps per hour values).

    Without ``gen_kw`` the bill is SAM's "without system" bill of the load; with it, the
    "with system" bill of the net of load and generation under SAM's net metering
    (``ur_metering_option`` 0: kWh netted within each TOU period of the month)."""
    import PySAM.Utilityrate5 as Utilityrate5

    model = Utilityrate5.new()
    model.Lifetime.analysis_period = 1
    model.Lifetime.system_use_lifetime_output = 0
    model.Lifetime.inflation_rate = 0
    model.ElectricityRates.rate_escalation = [0]
    model.ElectricityRates.ur_metering_option = 0
    model.ElectricityRates.ur_monthly_fixed_charge = 0
    model.ElectricityRates.ur_monthly_min_charge = 0
    model.ElectricityRates.ur_annual_min_charge = 0
    model.ElectricityRates.ur_nm_yearend_sell_rate = 0
    model.ElectricityRates.ur_sell_eq_buy = 0
    model.ElectricityRates.ur_dc_enable = 0
    model.ElectricityRates.ur_en_ts_sell_rate = 0
    model.ElectricityRates.ur_en_ts_buy_rate = 0
    model.ElectricityRates.TOU_demand_single_peak = 0
    model.ElectricityRates.ur_enable_billing_demand = 0
    model.ElectricityRates.ur_yearzero_usage_peaks = [0.0] * 12
    model.ElectricityRates.assign(dict(rates))
    values = [float(v) for v in np.asarray(load_kw, dtype=np.float64)]
    model.Load.load = values
    model.Load.load_escalation = [0]
    model.SystemOutput.gen = (
        [0.0] * len(values)
        if gen_kw is None
        else [float(v) for v in np.asarray(gen_kw, dtype=np.float64)]
    )
    model.SystemOutput.degradation = [0]
    model.execute(0)
    out = model.Outputs

    def monthly(name: str) -> np.ndarray:
        return np.asarray(getattr(out, name), dtype=np.float64)

    if gen_kw is not None:
        return SamMonths(
            energy=monthly("year1_monthly_ec_charge_with_system"),
            demand_flat=monthly("year1_monthly_dc_fixed_with_system"),
            demand_tou=monthly("year1_monthly_dc_tou_with_system"),
            fixed=monthly("year1_monthly_fixed_with_system"),
            minimum=monthly("year1_monthly_minimum_with_system"),
            total=monthly("year1_monthly_utility_bill_w_sys"),
        )
    return SamMonths(
        energy=monthly("year1_monthly_ec_charge_without_system"),
        demand_flat=monthly("year1_monthly_dc_fixed_without_system"),
        demand_tou=monthly("year1_monthly_dc_tou_without_system"),
        fixed=monthly("year1_monthly_fixed_without_system"),
        minimum=monthly("year1_monthly_minimum_without_system"),
        total=monthly("year1_monthly_utility_bill_wo_sys"),
    )
