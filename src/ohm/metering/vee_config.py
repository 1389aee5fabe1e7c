"""VEE rule parameters per meter class, as plain data.

Kept in code for now so the rules are reviewable next to the functions that use them; a later
migration can move ``RULES`` into a reference table (one row per meter class, one column per
field of ``VeeRules``) edited in the admin, with ``rules_for`` reading it. Nothing here imports
Django.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

RESIDENTIAL = "residential"
SMALL_COMMERCIAL = "small_commercial"
LARGE_COMMERCIAL = "large_commercial"
DEFAULT = "default"

#: Common current-transformer ratios (the ``n`` of n:5 CTs): an interval sum that is the
#: register difference times (or divided by) one of these points at a wrong multiplier.
CT_RATIOS: tuple[float, ...] = (
    2,
    4,
    5,
    10,
    20,
    30,
    40,
    60,
    80,
    100,
    120,
    160,
    200,
    240,
    300,
    400,
    600,
    800,
)


@dataclass(frozen=True)
class VeeRules:
    """Thresholds of the validation rules and estimators for one class of meter."""

    meter_class: str
    #: An actual interval above ``spike_factor`` × the channel's own ``spike_percentile``
    #: over the last ``spike_history_days`` days is a spike...
    spike_factor: float = 4.0
    spike_percentile: float = 95.0
    spike_history_days: int = 30
    #: ...but only when it is also above this average demand (kW), so a channel that is
    #: nearly idle does not turn every kettle into an exception.
    spike_floor_kw: float = 2.0
    #: Consecutive actual zero readings at an occupied premise longer than this are suspect.
    zero_run_hours: float = 72.0
    #: Gaps up to this long are interpolated between their neighbours; longer gaps get a
    #: same-weekday profile estimate from the last ``profile_weeks`` weeks.
    max_interpolate_minutes: int = 240
    profile_weeks: int = 4
    #: Interval sum and register difference agree within max(kWh, share of the difference).
    register_tolerance_kwh: float = 1.0
    register_tolerance_share: float = 0.02
    #: Multiplier mismatch: every compared period's ratio within this share of one CT ratio.
    multiplier_ratios: tuple[float, ...] = CT_RATIOS
    multiplier_tolerance_share: float = 0.03
    multiplier_min_periods: int = 2
    #: Energy (kWh) on an inactive or unserved service point above this is reported.
    inactive_min_kwh: float = 1.0


RULES: dict[str, VeeRules] = {
    DEFAULT: VeeRules(meter_class=DEFAULT),
    RESIDENTIAL: VeeRules(
        meter_class=RESIDENTIAL, spike_factor=4.0, spike_floor_kw=3.0, zero_run_hours=72.0
    ),
    # Shops close for weekends and holidays: zero runs of three days are normal.
    SMALL_COMMERCIAL: VeeRules(
        meter_class=SMALL_COMMERCIAL, spike_factor=3.0, spike_floor_kw=10.0, zero_run_hours=96.0
    ),
    # CT-metered loads are steadier and worth more: tighter spikes and register agreement,
    # shorter interpolation so less energy is ever estimated by a straight line.
    LARGE_COMMERCIAL: VeeRules(
        meter_class=LARGE_COMMERCIAL,
        spike_factor=2.5,
        spike_floor_kw=50.0,
        zero_run_hours=48.0,
        max_interpolate_minutes=120,
        register_tolerance_kwh=5.0,
        register_tolerance_share=0.01,
    ),
}

_PREMISE_CLASS = {
    "single_family": RESIDENTIAL,
    "multi_family": RESIDENTIAL,
    "mobile_home": RESIDENTIAL,
    "commercial": SMALL_COMMERCIAL,
    "municipal": SMALL_COMMERCIAL,
    "agricultural": SMALL_COMMERCIAL,
    "industrial": LARGE_COMMERCIAL,
}


def meter_class_for(*, premise_type: str | None, multiplier: float = 1.0) -> str:
    """The VEE class of a meter from where it is installed; a CT-metered (multiplier > 1)
    non-residential meter is large commercial whatever the premise type says."""
    meter_class = _PREMISE_CLASS.get(premise_type or "", DEFAULT)
    if multiplier > 1 and meter_class != RESIDENTIAL:
        return LARGE_COMMERCIAL
    return meter_class


def rules_for(meter_class: str, **overrides) -> VeeRules:
    """The rules of a class (``DEFAULT`` for an unknown one), optionally with fields replaced."""
    rules = RULES.get(meter_class, RULES[DEFAULT])
    return replace(rules, **overrides) if overrides else rules
