"""``ohm rates bill-profile``: a URDB record prices a load profile month by month."""

from __future__ import annotations

import io
import json
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ohm.core.money import to_cents
from ohm.rates.profile import LoadError, read_load_csv
from tests.shared_data import SHARED

URDB = SHARED / "data" / "urdb"


def write_load(path, rows, header="interval_start,kw"):
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def hours(start: datetime, count: int, step_minutes: int = 60, kw=lambda i: "2.5"):
    return [
        f"{(start + timedelta(minutes=step_minutes * i)).isoformat()},{kw(i)}" for i in range(count)
    ]


def run(*args) -> str:
    out = io.StringIO()
    call_command("rates", "bill-profile", *map(str, args), stdout=out)
    return out.getvalue()


class TestBillProfile:
    def test_prices_a_year_of_quarter_hours_under_the_pge_record(self, tmp_path):
        start = datetime.fromisoformat("2019-01-01T00:00:00-08:00")
        load = write_load(
            tmp_path / "load.csv", hours(start, 365 * 96, 15, kw=lambda i: f"{10 + i % 7}.25")
        )

        document = json.loads(
            run(
                "--tariff",
                URDB / "pge_E-19_5cef0a415457a33576f60fe2.json",
                "--load",
                load,
                "--tz",
                "America/Los_Angeles",
                "--json",
            )
        )

        assert [m["month"] for m in document["months"]] == [f"2019-{m:02d}" for m in range(1, 13)]
        january = document["months"][0]
        assert set(january) == {
            "month",
            "fixed",
            "energy",
            "demand_flat",
            "demand_tou",
            "minimum",
            "total",
        }
        # $19.71253 a day for 31 days; flat demand 16.25 kW × $19.53.
        assert january["fixed"] == "611.09"
        assert january["demand_flat"] == "317.36"
        parts = sum(
            Decimal(january[k]) for k in ("fixed", "energy", "demand_flat", "demand_tou", "minimum")
        )
        assert parts == Decimal(january["total"])
        assert Decimal(document["total"]) == sum(Decimal(m["total"]) for m in document["months"])

    def test_energy_is_the_load_times_the_price(self, tmp_path):
        start = datetime.fromisoformat("2018-01-01T00:00:00-07:00")
        load = write_load(tmp_path / "load.csv", hours(start, 31 * 24))

        document = json.loads(
            run(
                "--tariff",
                URDB / "psco_RD_residential_5a679442682bea21e990a0d4.json",
                "--load",
                load,
                "--tz",
                "America/Denver",
                "--json",
            )
        )

        # 744 h × 2.5 kW = 1,860 kWh at 0.01974 + 0.0283685 $/kWh; 2.5 kW at 7.76 + 1.38 $/kW.
        assert document["months"][0]["energy"] == "89.48"
        assert document["months"][0]["demand_flat"] == "22.85"
        assert document["months"][0]["fixed"] == "15.91"
        assert document["total"] == "128.24"

    def test_text_output_shows_lines_with_their_clause(self, tmp_path):
        load = write_load(
            tmp_path / "load.csv", hours(datetime.fromisoformat("2018-06-01T00:00:00-07:00"), 48)
        )

        text = run(
            "--tariff",
            URDB / "sce_GS-2-TOU-B_55fc81d7682bea28da64f9ae.json",
            "--load",
            load,
            "--tz",
            "America/Los_Angeles",
            "--lines",
        )

        assert "2018-06" in text
        assert "[energy period 3 tier 1" in text
        assert "[fixed charge $/month" in text

    @pytest.mark.parametrize(
        "name",
        [
            "invalid_missing_rate_539fc25dec4f024c27d8b0a5.json",
            "invalid_missing_schedule_539fb6c7ec4f024bc1dc0445.json",
        ],
    )
    def test_refuses_the_broken_records_naming_the_field(self, tmp_path, name):
        load = write_load(
            tmp_path / "load.csv", hours(datetime.fromisoformat("2018-06-01T00:00:00+00:00"), 4)
        )

        with pytest.raises(
            CommandError, match=r"energy(ratestructure\[0\]\[0\]\.rate|weekdayschedule\[0\]\[0\])"
        ):
            run("--tariff", URDB / name, "--load", load)

    def test_refuses_an_unknown_zone(self, tmp_path):
        load = write_load(
            tmp_path / "load.csv", hours(datetime.fromisoformat("2018-06-01T00:00:00+00:00"), 4)
        )

        with pytest.raises(CommandError, match="--tz"):
            run(
                "--tariff",
                URDB / "sce_GS-2-TOU-B_55fc81d7682bea28da64f9ae.json",
                "--load",
                load,
                "--tz",
                "Mars/Olympus",
            )


class TestReadLoad:
    START = datetime.fromisoformat("2018-03-01T00:00:00-08:00")

    def read(self, rows, header="interval_start,kw"):
        return read_load_csv(io.StringIO("\n".join([header, *rows]) + "\n"))

    def test_reads_energy_to_the_wh_and_demand_to_the_w(self):
        load = self.read(hours(self.START, 3, 15, kw=lambda i: "10.0005"))

        assert load.interval_minutes == 15
        assert load.delivered_wh.tolist() == [2500, 2500, 2500]  # 2500.125 Wh
        assert load.demand_w.tolist() == [10001, 10001, 10001]

    def test_refuses_a_gap_naming_the_line(self):
        rows = hours(self.START, 5)
        del rows[2]

        with pytest.raises(LoadError) as error:
            self.read(rows)

        assert (error.value.line, error.value.field) == (4, "interval_start")
        assert "gap" in error.value.message

    def test_refuses_an_overlap(self):
        rows = hours(self.START, 3)
        rows.insert(2, rows[1])

        with pytest.raises(LoadError) as error:
            self.read(rows)

        assert error.value.line == 4

    def test_refuses_mixed_intervals(self):
        rows = hours(self.START, 3) + hours(self.START + timedelta(hours=3), 3, 15)[1:]

        with pytest.raises(LoadError) as error:
            self.read(rows)

        assert error.value.line == 5
        assert "mixed" in error.value.message

    def test_refuses_an_interval_of_another_length(self):
        with pytest.raises(LoadError, match="15 or 60"):
            self.read(hours(self.START, 3, 30))

    def test_refuses_a_value_that_is_not_a_number(self):
        rows = hours(self.START, 3)
        rows[1] = rows[1].replace("2.5", "2,5")

        with pytest.raises(LoadError) as error:
            self.read(rows)

        assert error.value.line == 3

    def test_refuses_a_kw_that_is_not_numeric(self):
        rows = hours(self.START, 3, kw=lambda i: "abc" if i == 2 else "1")

        with pytest.raises(LoadError) as error:
            self.read(rows)

        assert (error.value.line, error.value.field) == (4, "kw")

    def test_refuses_a_time_without_offset(self):
        with pytest.raises(LoadError, match="no UTC offset"):
            self.read(["2018-03-01T00:00:00,1.0"])

    def test_refuses_a_wrong_header(self):
        with pytest.raises(LoadError) as error:
            self.read(["2018-03-01T00:00:00+00:00,1.0"], header="time,value")

        assert (error.value.line, error.value.field) == (1, "header")


class TestCustomerOptions:
    DOC = {
        "name": "Residential baseline",
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
        "ohm": {
            "baseline": {
                "tier_percents": ["100", "130"],
                "seasons": [{"name": "all", "months": list(range(1, 13))}],
                "allowances": [
                    {"territory": "T", "heat_source": "basic", "season": "all", "kwh_per_day": "10"}
                ],
            },
            "discounts": [{"code": "CARE", "percent": "25", "base": ["fixed", "energy"]}],
            "taxes": [{"code": "UUT", "percent": "7.5", "base": ["fixed", "energy", "discount"]}],
        },
    }

    def test_baseline_discount_and_tax_from_the_options(self, tmp_path):
        tariff = tmp_path / "tariff.json"
        tariff.write_text(json.dumps(self.DOC))
        # 30 days × 24 h × 1 kW = 720 kWh against a 300 kWh allowance: 300 / 90 / 330.
        load = write_load(
            tmp_path / "load.csv",
            hours(datetime.fromisoformat("2023-04-01T00:00:00-07:00"), 720, kw=lambda i: "1"),
        )

        plain = json.loads(
            run("--tariff", tariff, "--load", load, "--tz", "America/Los_Angeles", "--json")
        )
        customer = json.loads(
            run(
                "--tariff",
                tariff,
                "--load",
                load,
                "--tz",
                "America/Los_Angeles",
                "--json",
                "--baseline-territory",
                "T",
                "--heat-source",
                "basic",
                "--program",
                "CARE",
            )
        )

        lines = [(300, "0.12430"), (90, "0.19794"), (330, "0.29453")]  # each line rounded
        energy = sum(to_cents(Decimal(kwh) * Decimal(price)) for kwh, price in lines)
        assert customer["months"][0]["energy"] == str(Decimal(energy) / 100)
        base = 1999 + energy
        discount = to_cents(Decimal(base) / 100 * Decimal("0.25"))
        tax = to_cents(Decimal(base - discount) / 100 * Decimal("0.075"))
        assert customer["months"][0]["discounts"] == str(Decimal(-discount) / 100)
        assert customer["months"][0]["taxes"] == str(Decimal(tax) / 100)
        assert Decimal(customer["months"][0]["total"]) * 100 == base - discount + tax
        assert "discounts" not in plain["months"][0]
