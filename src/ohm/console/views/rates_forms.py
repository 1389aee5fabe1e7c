"""Forms of the rate pages: a schedule's eligibility, URDB upload, and the version editor.

The editor shows the common parts of a tariff document as fields — fixed and minimum
charges, energy tiers per TOU period, the 12 × 24 weekday/weekend schedules as text grids,
TOU and flat demand — and the rest (the "ohm" extensions: baseline, discounts, taxes, net
metering, per-day charges) as JSON. ``document_from_forms`` writes the fields back into the
document, keeping every key the editor does not show (name, uri, sell rates, …).
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from ohm.console.forms import ConsoleForm, DateInput
from ohm.rates.models import RateSchedule

FIXED_UNITS = [("$/month", "per month"), ("$/day", "per day")]
#: "" writes no unit: URDB's default, kWh in the bill period.
ENERGY_UNITS = [
    ("", "kWh in the period"),
    ("kWh daily", "kWh per day"),
    ("kWh/kW", "kWh per kW of peak"),
    ("kWh/kW daily", "kWh per kW per day"),
]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

#: Editor field → the document keys it writes (where a document error is shown).
FIELD_OF_KEY = {
    "fixedchargefirstmeter": "fixed_charge",
    "fixedmonthlycharge": "fixed_charge",
    "fixedchargeunits": "fixed_charge_units",
    "mincharge": "minimum_charge",
    "minchargeunits": "minimum_charge_units",
    "energyweekdayschedule": "energy_weekday",
    "energyweekendschedule": "energy_weekend",
    "demandweekdayschedule": "demand_weekday",
    "demandweekendschedule": "demand_weekend",
    "flatdemandmonths": "flat_demand_months",
    "ohm": "extensions",
}
FORMSET_OF_KEY = {
    "energyratestructure": "energy",
    "demandratestructure": "demand",
    "flatdemandstructure": "flat",
}


def ohm_of(document: dict) -> dict[str, Any]:
    """The document's "ohm" extensions object ({} when absent or not an object)."""
    value = document.get("ohm")
    return value if isinstance(value, dict) else {}


def _number(value: Decimal | None) -> str | None:
    """A Decimal as the stored document writes prices and quantities: a decimal string."""
    if value is None:
        return None
    return str(int(value)) if value == value.to_integral_value() else format(value, "f")


def format_grid(rows: Any) -> str:
    """A 12 × 24 schedule as 12 lines of 24 numbers (lines labelled by month on screen)."""
    if not isinstance(rows, list):
        return ""
    return "\n".join(
        " ".join(str(v) for v in row) if isinstance(row, list) else str(row) for row in rows
    )


def parse_grid(text: str, *, what: str) -> list[list[int]] | None:
    """12 lines of 24 whole numbers (spaces or commas) to a 12 × 24 list; blank is None."""
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    if not lines:
        return None
    if len(lines) != 12:
        raise ValidationError(f"{what} needs 12 lines (January to December), got {len(lines)}.")
    grid = []
    for month, line in zip(MONTHS, lines, strict=True):
        cells = line.replace(",", " ").split()
        if len(cells) != 24:
            raise ValidationError(f"{month}: 24 hours needed (0 to 23), got {len(cells)}.")
        try:
            values = [int(c) for c in cells]
        except ValueError as exc:
            raise ValidationError(f"{month}: periods are whole numbers (0, 1, 2 …).") from exc
        if any(v < 0 for v in values):
            raise ValidationError(f"{month}: periods are 0 or more.")
        grid.append(values)
    return grid


class ScheduleForm(ConsoleForm):
    code = forms.CharField(max_length=20, help_text="Short code printed on bills, e.g. E-1")
    name = forms.CharField(max_length=120)
    customer_class = forms.ChoiceField(choices=RateSchedule.CustomerClass.choices)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    requires_interval_meter = forms.BooleanField(
        required=False, label="Needs an interval (AMI) meter"
    )
    required_program = forms.ChoiceField(
        choices=RateSchedule.Program.choices, required=False, label="Open only to customers with"
    )
    is_active = forms.BooleanField(required=False, initial=True, label="Open to new service")

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if editing:
            self.fields["code"].disabled = True


class UrdbImportForm(ConsoleForm):
    file = forms.FileField(
        label="URDB record (JSON)",
        help_text="One record of the OpenEI utility_rates API (or its response with one item).",
    )
    effective_date = forms.DateField(
        widget=DateInput(),
        required=False,
        help_text="Blank: the record's startdate (local date).",
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)

    MAX_BYTES = 2_000_000

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > self.MAX_BYTES:
            raise ValidationError("That file is too large for a tariff record (2 MB at most).")
        raw = upload.read()
        try:
            return json.loads(raw.decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            raise ValidationError("The file is not UTF-8 text.") from exc
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"Not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
            ) from exc


class TierForm(forms.Form):
    """One tier of one period: rows of a period in order are its tiers."""

    period = forms.IntegerField(min_value=0, max_value=99, required=False)
    max = forms.DecimalField(required=False, min_value=0, label="Up to")
    unit = forms.ChoiceField(choices=ENERGY_UNITS, required=False)
    rate = forms.DecimalField(required=False, max_digits=12, decimal_places=6)
    adj = forms.DecimalField(required=False, max_digits=12, decimal_places=6, label="Adjustment")

    def clean(self):
        data = super().clean()
        filled = any(data.get(k) not in (None, "") for k in ("max", "rate", "adj"))
        if filled and data.get("period") is None:
            self.add_error("period", "Which TOU period is this tier of?")
        if filled and data.get("rate") is None and data.get("adj") is None:
            self.add_error("rate", "A tier needs a rate.")
        return data

    @property
    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return data.get("period") is None and data.get("rate") is None and data.get("adj") is None


TierFormSet = forms.formset_factory(TierForm, extra=3)


def _tier_rows(structure: Any, *, energy: bool) -> list[dict]:
    rows: list[dict] = []
    if not isinstance(structure, list):
        return rows
    for period, tiers in enumerate(structure):
        for tier in tiers if isinstance(tiers, list) else []:
            if not isinstance(tier, dict):
                continue
            rows.append(
                {
                    "period": period,
                    "max": tier.get("max"),
                    "unit": ("" if tier.get("unit") in (None, "kWh") else tier["unit"])
                    if energy
                    else "",
                    "rate": tier.get("rate"),
                    "adj": tier.get("adj"),
                }
            )
    return rows


def _structure(formset, *, energy: bool) -> list[list[dict]] | None:
    """Tier rows back to a URDB rate structure: periods 0…max, tiers in row order."""
    by_period: dict[int, list[dict]] = {}
    for form in formset.forms:
        if form.is_blank:
            continue
        data = form.cleaned_data
        tier: dict[str, Any] = {}
        if data.get("rate") is not None:
            tier["rate"] = _number(data["rate"])
        if data.get("adj") is not None:
            tier["adj"] = _number(data["adj"])
        if data.get("max") is not None:
            tier["max"] = _number(data["max"])
        if energy and data.get("unit"):
            tier["unit"] = data["unit"]
        by_period.setdefault(int(data["period"]), []).append(tier)
    if not by_period:
        return None
    return [by_period.get(p, []) for p in range(max(by_period) + 1)]


class VersionForm(ConsoleForm):
    effective_date = forms.DateField(widget=DateInput(), help_text="First local day it applies")
    notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="Why: the resolution or rate case, what changed",
    )
    fixed_charge = forms.DecimalField(
        required=False, min_value=0, max_digits=12, decimal_places=5, label="Customer charge ($)"
    )
    fixed_charge_units = forms.ChoiceField(choices=FIXED_UNITS, required=False, label="Charged")
    minimum_charge = forms.DecimalField(
        required=False, min_value=0, max_digits=12, decimal_places=5, label="Minimum charge ($)"
    )
    minimum_charge_units = forms.ChoiceField(choices=FIXED_UNITS, required=False, label="Charged")
    energy_weekday = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 12, "class": "grid-text"}),
        required=False,
        label="Energy periods, weekdays",
        help_text="12 lines (Jan–Dec) of 24 period numbers (hours 0–23, local time)",
    )
    energy_weekend = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 12, "class": "grid-text"}),
        required=False,
        label="Energy periods, weekends",
    )
    demand_weekday = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 12, "class": "grid-text"}),
        required=False,
        label="Demand periods, weekdays",
        help_text="Blank when there is no time-of-use demand charge",
    )
    demand_weekend = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 12, "class": "grid-text"}),
        required=False,
        label="Demand periods, weekends",
    )
    flat_demand_months = forms.CharField(
        required=False,
        label="Flat demand period by month",
        help_text="12 numbers, Jan–Dec, e.g. 0 0 0 0 1 1 1 1 1 1 0 0",
    )
    customer_charge_per_day = forms.DecimalField(
        required=False,
        min_value=0,
        max_digits=12,
        decimal_places=5,
        label="Customer charge per day ($)",
        help_text="Billed × days in the bill period, besides any customer charge above",
    )
    net_metering = forms.ChoiceField(
        choices=[
            ("", "No net metering"),
            ("retail", "Retail (net by period)"),
            ("surplus", "Surplus rate for every exported kWh"),
        ],
        required=False,
        label="Net metering",
    )
    surplus_rate = forms.DecimalField(
        required=False,
        min_value=0,
        max_digits=12,
        decimal_places=6,
        label="Net surplus credit ($/kWh)",
    )
    extensions = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 10, "class": "mono"}),
        required=False,
        label="Other Ohm extensions (JSON)",
        help_text='The rest of the "ohm" object (docs/rates.md), e.g. the baseline: '
        "tier percents, seasons and allowances by territory and heat source",
    )

    def clean_energy_weekday(self):
        return parse_grid(self.cleaned_data["energy_weekday"], what="The weekday schedule")

    def clean_energy_weekend(self):
        return parse_grid(self.cleaned_data["energy_weekend"], what="The weekend schedule")

    def clean_demand_weekday(self):
        return parse_grid(self.cleaned_data["demand_weekday"], what="The weekday demand schedule")

    def clean_demand_weekend(self):
        return parse_grid(self.cleaned_data["demand_weekend"], what="The weekend demand schedule")

    def clean_flat_demand_months(self):
        text = (self.cleaned_data["flat_demand_months"] or "").replace(",", " ").split()
        if not text:
            return None
        if len(text) != 12:
            raise ValidationError(f"12 numbers needed (one per month), got {len(text)}.")
        try:
            return [int(v) for v in text]
        except ValueError as exc:
            raise ValidationError("Periods are whole numbers.") from exc

    def clean_extensions(self):
        text = (self.cleaned_data["extensions"] or "").strip()
        if not text:
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(
                f"Not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
            ) from exc
        if not isinstance(value, dict):
            raise ValidationError('The extensions are a JSON object: { "…": … }.')
        return value


STRUCTURED_OHM_KEYS = (
    "customer_charge_per_day",
    "net_metering",
    "discounts",
    "surcharges",
    "taxes",
)
PERCENT_KINDS = [("discounts", "Discount"), ("surcharges", "Surcharge"), ("taxes", "Tax")]


def initial_from_document(document: dict, *, effective_date, notes: str) -> dict:
    ohm = ohm_of(document)
    net_metering = ohm_of({"ohm": ohm.get("net_metering")})
    rest = {k: v for k, v in ohm.items() if k not in STRUCTURED_OHM_KEYS}
    fixed = document.get("fixedchargefirstmeter", document.get("fixedmonthlycharge"))
    fixed_units = document.get("fixedchargeunits") or "$/month"
    return {
        "effective_date": effective_date,
        "notes": notes,
        "fixed_charge": fixed,
        "fixed_charge_units": fixed_units if fixed_units in dict(FIXED_UNITS) else "$/month",
        "minimum_charge": document.get("mincharge"),
        "minimum_charge_units": document.get("minchargeunits") or "$/month",
        "energy_weekday": format_grid(document.get("energyweekdayschedule")),
        "energy_weekend": format_grid(document.get("energyweekendschedule")),
        "demand_weekday": format_grid(document.get("demandweekdayschedule")),
        "demand_weekend": format_grid(document.get("demandweekendschedule")),
        "flat_demand_months": " ".join(str(v) for v in document.get("flatdemandmonths") or []),
        "customer_charge_per_day": ohm.get("customer_charge_per_day"),
        "net_metering": net_metering.get("credit", ""),
        "surplus_rate": net_metering.get("surplus_rate"),
        "extensions": json.dumps(rest, indent=2) if rest else "",
    }


class PercentChargeForm(forms.Form):
    """One discount, surcharge or tax: a percent of the bill lines it names."""

    kind = forms.ChoiceField(choices=[("", "—"), *PERCENT_KINDS], required=False)
    code = forms.CharField(max_length=30, required=False, help_text="e.g. UUT, LOW_INCOME")
    description = forms.CharField(max_length=120, required=False)
    percent = forms.DecimalField(required=False, min_value=0, max_value=100, decimal_places=4)
    base = forms.CharField(
        required=False,
        max_length=200,
        help_text="components, comma-separated: fixed, customer_charge, energy, demand, …",
    )

    def clean(self):
        data = super().clean()
        if self.is_blank:
            return data
        for name in ("kind", "code", "percent", "base"):
            if data.get(name) in (None, ""):
                self.add_error(name, "Needed.")
        return data

    @property
    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return not any(data.get(k) not in (None, "") for k in ("kind", "code", "percent", "base"))


PercentChargeFormSet = forms.formset_factory(PercentChargeForm, extra=2)


def _percent_rows(ohm: dict) -> list[dict]:
    rows = []
    for key, _label in PERCENT_KINDS:
        for item in ohm.get(key) or []:
            if isinstance(item, dict):
                rows.append(
                    {
                        "kind": key,
                        "code": item.get("code", ""),
                        "description": item.get("description", ""),
                        "percent": item.get("percent"),
                        "base": ", ".join(str(b) for b in item.get("base") or []),
                    }
                )
    return rows


def formsets(data=None, *, document: dict) -> dict[str, Any]:
    """The three tier tables and the percent charges, filled from ``document`` (GET) or the
    posted ``data``."""
    made: dict[str, Any] = {}
    for key, prefix in FORMSET_OF_KEY.items():
        initial = (
            None
            if data is not None
            else _tier_rows(document.get(key), energy=key == "energyratestructure")
        )
        made[prefix] = TierFormSet(data, prefix=prefix, initial=initial)
    ohm = ohm_of(document)
    made["percent"] = PercentChargeFormSet(
        data, prefix="percent", initial=None if data is not None else _percent_rows(ohm)
    )
    return made


def _set(document: dict, key: str, value: Any) -> None:
    if value is None or value == []:
        document.pop(key, None)
    else:
        document[key] = value


def document_from_forms(base: dict, form: VersionForm, sets: dict[str, Any]) -> dict:
    """``base`` with the editor's fields written over the keys they show."""
    document = dict(base)
    data = form.cleaned_data
    document.pop("fixedmonthlycharge", None)
    _set(document, "fixedchargefirstmeter", _number(data.get("fixed_charge")))
    _set(
        document,
        "fixedchargeunits",
        (data.get("fixed_charge_units") or "$/month")
        if data.get("fixed_charge") is not None
        else None,
    )
    _set(document, "mincharge", _number(data.get("minimum_charge")))
    _set(
        document,
        "minchargeunits",
        (data.get("minimum_charge_units") or "$/month")
        if data.get("minimum_charge") is not None
        else None,
    )
    _set(document, "energyratestructure", _structure(sets["energy"], energy=True))
    _set(document, "energyweekdayschedule", data.get("energy_weekday"))
    _set(document, "energyweekendschedule", data.get("energy_weekend"))
    _set(document, "demandratestructure", _structure(sets["demand"], energy=False))
    _set(document, "demandweekdayschedule", data.get("demand_weekday"))
    _set(document, "demandweekendschedule", data.get("demand_weekend"))
    _set(document, "flatdemandstructure", _structure(sets["flat"], energy=False))
    _set(document, "flatdemandmonths", data.get("flat_demand_months"))
    ohm = dict(data.get("extensions") or {})
    for key in STRUCTURED_OHM_KEYS:
        ohm.pop(key, None)
    if data.get("customer_charge_per_day") is not None:
        ohm["customer_charge_per_day"] = _number(data["customer_charge_per_day"])
    if data.get("net_metering"):
        ohm["net_metering"] = {"credit": data["net_metering"]}
        if data.get("surplus_rate") is not None:
            ohm["net_metering"]["surplus_rate"] = _number(data["surplus_rate"])
    for row in sets["percent"].forms:
        if row.is_blank:
            continue
        item = row.cleaned_data
        ohm.setdefault(item["kind"], []).append(
            {
                "code": item["code"].strip(),
                "description": item["description"].strip() or item["code"].strip(),
                "percent": _number(item["percent"]),
                "base": [b.strip() for b in item["base"].split(",") if b.strip()],
            }
        )
    _set(document, "ohm", ohm or None)
    return document


def place_document_error(
    form: VersionForm, sets: dict[str, Any], *, field: str, message: str
) -> None:
    """Show a tariff check's refusal next to the editor field its document path names."""
    key = field.split("[", 1)[0].split(".", 1)[0]
    if key == "ohm":
        sub = field[4:].split("[", 1)[0].split(".", 1)[0]
        place = {
            "customer_charge_per_day": "customer_charge_per_day",
            "net_metering": "surplus_rate" if "surplus_rate" in field else "net_metering",
        }.get(sub)
        if sub in ("discounts", "surcharges", "taxes"):
            percent = sets["percent"]
            percent._non_form_errors = percent.non_form_errors() + [f"{field}: {message}"]
            return
        form.add_error(place or "extensions", f"{field}: {message}")
        return
    if key in FIELD_OF_KEY:
        form.add_error(FIELD_OF_KEY[key], f"{field}: {message}" if field != key else message)
        return
    if key in FORMSET_OF_KEY:
        formset = sets[FORMSET_OF_KEY[key]]
        formset._non_form_errors = formset.non_form_errors() + [f"{field}: {message}"]
        return
    form.add_error(None, f"{field}: {message}" if field else message)


def decimal_or_none(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


class PreviewForm(forms.Form):
    """A sample month to price a version with (all optional; defaults give a typical home)."""

    month = forms.DateField(widget=DateInput(), label="Month of")
    kwh = forms.DecimalField(min_value=0, max_digits=12, decimal_places=3, label="kWh")
    peak_percent = forms.DecimalField(
        min_value=0, max_value=100, decimal_places=2, label="% used 4–9 pm"
    )
    peak_kw = forms.DecimalField(
        min_value=0, required=False, max_digits=10, decimal_places=3, label="Peak kW"
    )
    exported_kwh = forms.DecimalField(
        min_value=0, required=False, max_digits=12, decimal_places=3, label="kWh exported"
    )
    territory = forms.ChoiceField(
        choices=[("", "—")] + [(c, c) for c in "PQRSTVWXYZ"], required=False, label="Territory"
    )
    heat_source = forms.ChoiceField(
        choices=[("", "—"), ("gas", "Gas"), ("electric", "All-electric")],
        required=False,
        label="Heat",
    )
    medical = forms.BooleanField(required=False, label="Medical baseline")
    programs = forms.CharField(
        required=False, label="Discount programs", help_text="codes, e.g. LOW_INCOME"
    )
