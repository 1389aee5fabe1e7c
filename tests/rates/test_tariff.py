"""Tariff versions as data: URDB records and Ohm's stored documents in and out."""

from __future__ import annotations

import copy
import json
from decimal import Decimal

import pytest

from ohm.rates.tariff import (
    TariffError,
    parse_urdb,
    tariff_from_document,
    tariff_to_document,
    to_urdb,
)
from tests.shared_data import SHARED

URDB = SHARED / "data" / "urdb"
GOOD = [
    "pge_E-19_5cef0a415457a33576f60fe2.json",
    "sce_GS-2-TOU-B_55fc81d7682bea28da64f9ae.json",
    "psco_RD_residential_5a679442682bea21e990a0d4.json",
]


def record(name: str) -> dict:
    return json.loads((URDB / name).read_text())


def flat_tariff(**extra) -> dict:
    doc = {
        "name": "Residential",
        "energyratestructure": [
            [
                {"rate": "0.12430", "max": "300"},
                {"rate": "0.19794", "max": "390"},
                {"rate": "0.29453"},
            ]
        ],
        "energyweekdayschedule": [[0] * 24 for _ in range(12)],
        "energyweekendschedule": [[0] * 24 for _ in range(12)],
        "fixedchargefirstmeter": "19.99",
        "fixedchargeunits": "$/month",
    }
    doc.update(extra)
    return doc


class TestParseUrdb:
    @pytest.mark.parametrize("name", GOOD)
    def test_the_real_records_parse_and_export_back_unchanged(self, name):
        original = record(name)

        tariff = parse_urdb(original)

        assert to_urdb(tariff) == original

    def test_reads_the_pge_record_as_urdb_means_it(self):
        tariff = parse_urdb(record("pge_E-19_5cef0a415457a33576f60fe2.json"))

        assert len(tariff.energy_rates) == 5
        assert tariff.energy_rates[4][0].price == Decimal("0.16484")
        assert tariff.fixed_charge == Decimal("19.71253")
        assert tariff.fixed_charge_units == "$/day"
        assert tariff.flat_demand_months == (0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0)
        assert tariff.demand_rates[3][0].rate == Decimal("20.97")
        assert tariff.extra["eiaid"] == 14328

    def test_a_tier_price_is_rate_plus_adjustment(self):
        tariff = parse_urdb(record("psco_RD_residential_5a679442682bea21e990a0d4.json"))

        assert tariff.energy_rates[0][0].price == Decimal("0.01974") + Decimal("0.0283685")
        assert tariff.flat_demand_rates[1][0].price == Decimal("11.51")

    def test_the_older_fixedmonthlycharge_is_a_monthly_charge(self):
        tariff = parse_urdb(record("sce_GS-2-TOU-B_55fc81d7682bea28da64f9ae.json"))

        assert (tariff.fixed_charge, tariff.fixed_charge_units) == (Decimal("259.2"), "$/month")
        assert "fixedchargefirstmeter" not in to_urdb(tariff)

    def test_refuses_a_period_with_no_rate(self):
        with pytest.raises(TariffError) as error:
            parse_urdb(record("invalid_missing_rate_539fc25dec4f024c27d8b0a5.json"))

        assert error.value.field == "energyratestructure[0][0].rate"
        assert "no rate" in str(error.value)

    def test_refuses_a_schedule_naming_a_period_without_rates(self):
        with pytest.raises(TariffError) as error:
            parse_urdb(record("invalid_missing_schedule_539fb6c7ec4f024bc1dc0445.json"))

        assert error.value.field == "energyweekdayschedule[0][0]"
        assert "period 1 has no rate" in error.value.message

    def test_refuses_a_schedule_that_is_not_12_by_24(self):
        doc = flat_tariff(energyweekendschedule=[[0] * 24 for _ in range(11)])

        with pytest.raises(TariffError) as error:
            parse_urdb(doc)

        assert error.value.field == "energyweekendschedule"
        assert "12 rows" in error.value.message

    def test_refuses_an_hour_missing_from_a_month(self):
        doc = flat_tariff()
        doc["energyweekdayschedule"][6] = [0] * 23

        with pytest.raises(TariffError) as error:
            parse_urdb(doc)

        assert error.value.field == "energyweekdayschedule[6]"

    def test_refuses_tiers_out_of_order(self):
        doc = flat_tariff()
        doc["energyratestructure"][0][1]["max"] = "250"

        with pytest.raises(TariffError) as error:
            parse_urdb(doc)

        assert error.value.field == "energyratestructure[0][1].max"
        assert "out of order" in error.value.message

    def test_refuses_an_unbounded_tier_before_the_last(self):
        doc = flat_tariff()
        del doc["energyratestructure"][0][0]["max"]

        with pytest.raises(TariffError) as error:
            parse_urdb(doc)

        assert error.value.field == "energyratestructure[0][0].max"

    def test_refuses_an_unknown_unit(self):
        doc = flat_tariff()
        doc["energyratestructure"][0][0]["unit"] = "therms"

        with pytest.raises(TariffError) as error:
            parse_urdb(doc)

        assert error.value.field == "energyratestructure[0][0].unit"

    def test_refuses_flat_demand_without_its_months(self):
        doc = flat_tariff(flatdemandstructure=[[{"rate": "10"}]])

        with pytest.raises(TariffError) as error:
            parse_urdb(doc)

        assert error.value.field == "flatdemandmonths"

    def test_refuses_a_rate_that_is_not_a_number(self):
        doc = flat_tariff()
        doc["energyratestructure"][0][2]["rate"] = "twelve cents"

        with pytest.raises(TariffError) as error:
            parse_urdb(doc)

        assert error.value.field == "energyratestructure[0][2].rate"


class TestDocument:
    @pytest.mark.parametrize("name", GOOD)
    def test_a_document_round_trips_through_json(self, name):
        tariff = parse_urdb(record(name))

        stored = json.loads(json.dumps(tariff_to_document(tariff)))

        assert tariff_from_document(stored) == tariff
        assert stored["energyratestructure"][0][0]["rate"] == str(tariff.energy_rates[0][0].rate)

    def test_prices_are_strings_and_floats_are_refused(self):
        doc = flat_tariff()
        doc["energyratestructure"][0][0]["rate"] = 0.1243

        with pytest.raises(TariffError) as error:
            tariff_from_document(doc)

        assert error.value.field == "energyratestructure[0][0].rate"
        assert "strings" in error.value.message

    def test_keeps_the_exact_decimal_typed(self):
        tariff = tariff_from_document(flat_tariff())

        assert tariff.energy_rates[0][0].rate == Decimal("0.12430")
        assert str(tariff.energy_rates[0][0].rate) == "0.12430"

    def test_ohm_extensions_round_trip(self):
        doc = flat_tariff(
            ohm={
                "customer_charge_per_day": "0.65717",
                "baseline": {
                    "tier_percents": ["100", "130"],
                    "seasons": [
                        {"name": "summer", "months": [6, 7, 8, 9]},
                        {"name": "winter", "months": [1, 2, 3, 4, 5, 10, 11, 12]},
                    ],
                    "allowances": [
                        {
                            "territory": "T",
                            "heat_source": "basic",
                            "season": "summer",
                            "kwh_per_day": "9.8",
                        },
                        {
                            "territory": "T",
                            "heat_source": "basic",
                            "season": "winter",
                            "kwh_per_day": "11.2",
                        },
                    ],
                    "medical_kwh_per_day": "16.438",
                },
                "discounts": [
                    {
                        "code": "CARE",
                        "description": "Low income",
                        "percent": "25",
                        "base": ["fixed", "energy"],
                    }
                ],
                "taxes": [
                    {
                        "code": "UUT",
                        "description": "Utility users tax",
                        "percent": "7.5",
                        "base": ["fixed", "energy", "discount"],
                    }
                ],
                "net_metering": {"credit": "retail", "surplus_rate": "0.04"},
            }
        )

        tariff = tariff_from_document(doc)
        again = tariff_from_document(json.loads(json.dumps(tariff_to_document(tariff))))

        assert again == tariff
        assert tariff.baseline is not None
        assert tariff.baseline.kwh_per_day(territory="T", heat_source="basic", month=7) == Decimal(
            "9.8"
        )
        assert tariff.discounts[0].percent == Decimal(25)
        assert tariff.taxes[0].base == ("fixed", "energy", "discount")

    def test_refuses_a_tax_in_a_discount_base(self):
        doc = flat_tariff(
            ohm={"discounts": [{"code": "X", "percent": "10", "base": ["energy", "surcharge"]}]}
        )

        with pytest.raises(TariffError) as error:
            tariff_from_document(doc)

        assert error.value.field == "ohm.discounts[0].base[1]"

    def test_refuses_baseline_percents_that_do_not_fit_the_tiers(self):
        doc = flat_tariff(
            ohm={
                "baseline": {
                    "tier_percents": ["100"],
                    "seasons": [{"name": "all", "months": list(range(1, 13))}],
                    "allowances": [
                        {"territory": "T", "heat_source": "b", "season": "all", "kwh_per_day": "10"}
                    ],
                }
            }
        )

        with pytest.raises(TariffError) as error:
            tariff_from_document(doc)

        assert error.value.field == "ohm.baseline.tier_percents"

    def test_refuses_a_month_in_no_season(self):
        doc = flat_tariff(
            ohm={
                "baseline": {
                    "tier_percents": ["100", "130"],
                    "seasons": [{"name": "all", "months": list(range(1, 12))}],
                    "allowances": [
                        {"territory": "T", "heat_source": "b", "season": "all", "kwh_per_day": "10"}
                    ],
                }
            }
        )

        with pytest.raises(TariffError) as error:
            tariff_from_document(doc)

        assert "12" in error.value.message

    def test_the_document_does_not_change_the_record_given(self):
        original = record("pge_E-19_5cef0a415457a33576f60fe2.json")
        kept = copy.deepcopy(original)

        tariff_to_document(parse_urdb(original))

        assert original == kept
