from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from ohm.metering.models import IntervalDay, Quality
from ohm.metering.store import load_intervals
from tests.metering.ingest_support import SAMPLES, meter, run, write


def gb(path, serial="GB1", **options):
    return run(path, format="greenbutton", meter_serial=serial, **options)


@pytest.mark.django_db
class TestGreenButtonSamples:
    @pytest.mark.parametrize(
        "name",
        [
            "Coastal_Multi_Family_Jan_1_2011_to_Jan_1_2012_RetailCustomer_5.xml",
            "Coastal_Multi_Family_12hr_Jan_1_2011_to_Jan_1_2012_RetailCustomer_3.xml",
            "Coastal_Multi_Family_Daily_Jan_1_2011_to_Jan_1_2012_RetailCustomer_4.xml",
        ],
    )
    def test_an_hourly_year_loads_every_hour(self, name):
        meter("GB1")

        result = gb(SAMPLES / name)

        assert result.records_read == 8760
        assert result.intervals_loaded == 8760
        assert result.problems == []

    def test_nine_days_binned_daily_load_despite_the_capitalised_element(self):
        meter("GB1")

        result = gb(SAMPLES / "TestGBDataHourlyNineDaysBinnedDaily.xml")

        assert result.intervals_loaded == 216

    def test_fifteen_minute_readings_with_a_dst_day_sum_into_hours(self):
        m = meter("GB1")

        result = gb(SAMPLES / "openespi_test_usage_data.xml")

        assert result.records_read == 1340
        assert result.intervals_loaded == 335
        channel = m.channels.get(number=1)
        got = load_intervals(
            channel=channel,
            start_at=datetime(2012, 3, 1, 5, tzinfo=UTC),
            end_at=datetime(2012, 3, 15, 4, tzinfo=UTC),
        )
        assert (got.flags != Quality.MISSING).sum() == 335

    def test_daily_readings_are_refused_for_an_hourly_channel(self):
        meter("GB1")

        result = gb(SAMPLES / "TestGBDataOneYearDailyBinnedMonthly.xml")

        assert not result.loaded
        assert {p.code for p in result.problems} == {"interval_mismatch"}
        assert "interval length 86400 s does not match channel 3600 s" in result.problems[0].reason
        assert any("82800 s" in p.reason for p in result.problems)

    def test_the_gas_export_is_reported_reading_by_reading(self):
        meter("GB1")

        result = gb(SAMPLES / "ngma_gas_provider_2024-07-16.xml")

        assert result.intervals_loaded == 0
        assert len(result.problems) == 36
        assert "no unit of measure" in result.problems[0].reason

    def test_feeds_without_readings_load_nothing(self):
        meter("GB1")

        result = gb(SAMPLES / "openespi_Usage-Subscription-Feed-Anonymized.xml")

        assert result.records_read == 0
        assert not result.loaded

    def test_needs_the_meter(self):
        with pytest.raises(ValidationError) as error:
            run(SAMPLES / "electric_containerized.xml", format="greenbutton")

        assert "meter" in error.value.message_dict


FEED = """<?xml version="1.0"?>
{doctype}<feed xmlns="http://www.w3.org/2005/Atom">
 <entry><content><ReadingType xmlns="http://naesb.org/espi"><flowDirection>{flow}</flowDirection><uom>72</uom><powerOfTenMultiplier>{power}</powerOfTenMultiplier></ReadingType></content></entry>
 <entry><content><IntervalBlock xmlns="http://naesb.org/espi">
  <IntervalReading><ReadingQuality><quality>{quality}</quality></ReadingQuality><timePeriod><duration>3600</duration><start>1772323200</start></timePeriod><value>{value}</value></IntervalReading>
 </IntervalBlock></content></entry>
</feed>
"""


def feed(doctype="", flow=1, power=0, quality=0, value="1500"):
    return FEED.format(doctype=doctype, flow=flow, power=power, quality=quality, value=value)


@pytest.mark.django_db
class TestGreenButtonHostileAndOdd:
    def test_an_external_entity_is_refused_unread(self, tmp_path):
        meter("GB1")
        doctype = '<!DOCTYPE feed [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'

        result = gb(write(tmp_path, "x.xml", feed(doctype=doctype, value="&xxe;")))

        assert [p.code for p in result.problems] == ["unsafe_xml"]
        assert IntervalDay.objects.count() == 0

    def test_an_entity_bomb_is_refused(self, tmp_path):
        meter("GB1")
        lol = '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>\n'

        result = gb(write(tmp_path, "b.xml", feed(doctype=lol, value="&lol4;")))

        assert not result.loaded
        assert result.problems[0].code in {"unsafe_xml", "malformed"}

    def test_broken_xml_is_reported_with_its_line(self, tmp_path):
        meter("GB1")

        result = gb(write(tmp_path, "t.xml", "<feed>\n<entry>\n</feed>"))

        assert result.problems[0].code == "malformed"
        assert result.problems[0].line is not None

    def test_reverse_flow_goes_to_the_received_channel_scaled_to_kwh(self, tmp_path):
        m = meter("GB1")

        gb(write(tmp_path, "r.xml", feed(flow=19, power=-1)))

        got = load_intervals(
            channel=m.channels.get(number=2),
            start_at=datetime(2026, 3, 1, tzinfo=UTC),
            end_at=datetime(2026, 3, 1, 1, tzinfo=UTC),
        )
        assert got.values[0] == pytest.approx(0.15)

    def test_an_estimated_reading_quality_is_kept(self, tmp_path):
        m = meter("GB1")

        gb(write(tmp_path, "e.xml", feed(quality=8)))

        got = load_intervals(
            channel=m.channels.get(number=1),
            start_at=datetime(2026, 3, 1, tzinfo=UTC),
            end_at=datetime(2026, 3, 1, 1, tzinfo=UTC),
        )
        assert got.flags[0] == Quality.ESTIMATED

    def test_an_unknown_meter_is_an_exception(self, tmp_path):
        result = gb(write(tmp_path, "u.xml", feed()), serial="NOSUCH")

        assert [p.code for p in result.problems] == ["unknown_meter"]
