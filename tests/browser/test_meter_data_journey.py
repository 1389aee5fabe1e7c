"""Issue 4's "done when": a newcomer imports a Green Button sample and a CMEP file, sees the
usage on the meter page, pings the meter, exports Green Button XML that validates against the
strict schema — and a VEE exception shows up as a work item and is resolved from the console."""

from __future__ import annotations

from datetime import UTC, date, datetime
from io import StringIO

import pytest
import xmlschema
from django.core.management import call_command
from playwright.sync_api import expect

from ohm.agreements import operations as agreement_operations
from ohm.metering import operations as metering_operations
from ohm.metering.adapters import get_headend, reset_headend
from ohm.workqueue.models import WorkItem
from tests.factories import SYSTEM, make_account, make_meter, make_rate, make_service_point
from tests.shared_data import SHARED

GREENBUTTON = SHARED / "data" / "greenbutton"
SAMPLE = (
    GREENBUTTON / "samples" / "Coastal_Multi_Family_Jan_1_2011_to_Jan_1_2012_RetailCustomer_5.xml"
)
SERIAL = "GB2011001"
SINCE = datetime(2010, 6, 1, tzinfo=UTC)


def _customer_since_2010():
    """A multi-family home served since 2010, its AMI meter installed then."""
    account = make_account(opened=date(2010, 6, 1))
    point = make_service_point()
    meter = make_meter(SERIAL)
    metering_operations.install_meter(
        meter=meter, service_point=point, installed_at=SINCE, actor=SYSTEM, at=SINCE
    )
    agreement_operations.start_service(
        account=account,
        service_point=point,
        rate_schedule=make_rate(),
        start_date=date(2010, 6, 1),
        actor=SYSTEM,
        at=SINCE,
    )
    return meter


def _cmep_file(path):
    """Two January 2012 days of hourly reads after the Green Button year, in local time, with
    one impossible hour (48 kWh at a flat) for VEE to catch."""
    readings = []
    for hour in range(1, 49):
        day, clock_hour = divmod(hour, 24)
        stamp = f"201201{2 + day:02d}{clock_hour:02d}00"
        value = "48.0" if hour == 30 else f"{0.6 + 0.4 * (17 <= clock_hour <= 21):.3f}"
        readings += [stamp if hour == 1 else "", "", value]
    record = ["MEPMD01", "20080501", "DEMO-AMI", "", "OHM", "", "201201040815", SERIAL, "OK"]
    record += ["E", "KWH", "1", "00000100", str(len(readings) // 3), *readings]
    path.write_text(",".join(record) + "\n")
    return path


def _reads(*args) -> str:
    out = StringIO()
    call_command("reads", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_newcomer_imports_sees_pings_exports_and_resolves_a_vee_exception(
    live_server, page, make_staff, settings, tmp_path
):
    settings.OHM_HEADEND = "simulator"
    reset_headend()
    headend = get_headend()
    headend.config = type(headend.config)(unreachable_rate=0, timeout_rate=0, switch_failure_rate=0)
    make_staff("billing_analyst", "newcomer")
    _customer_since_2010()

    # The newcomer imports a year of Green Button and two days of CMEP.
    green = _reads("import", str(SAMPLE), "--format", "greenbutton", "--meter", SERIAL)
    cmep = _reads(
        "import",
        str(_cmep_file(tmp_path / "jan.cmep")),
        "--format",
        "cmep",
        "--tz",
        "America/Los_Angeles",
    )
    assert "intervals loaded     8760" in green
    assert "intervals loaded     48" in cmep
    assert "spike" in cmep
    spike = WorkItem.objects.get(category__code="meter_exception", title__contains="spike")

    page.goto(f"{live_server.url}/console/login/")
    page.fill("#id_username", "newcomer")
    page.fill("#id_password", "correct-horse-battery")
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/console/meters/{SERIAL}/")

    # The usage of the year is on the chart, each day's quality in the table.
    page.wait_for_function(
        "() => window.Chart && Chart.getChart('daily-chart') && "
        "Chart.getChart('daily-chart').data.datasets[0].data.filter(v => v > 0).length > 300",
        timeout=30_000,
    )
    expect(page.locator("#interval-quality tbody tr").first).to_contain_text("Tue Jan 3")
    expect(page.locator("#meter-exceptions")).to_contain_text("spike")

    page.click("text=Ping")
    expect(page.locator("#ami-result")).to_contain_text("Reachable in")

    # The exception is a work item; resolve it from the console.
    page.click(f"#meter-exceptions a[href='/console/meter-data/exceptions/{spike.pk}/']")
    expect(page.locator("#finding")).to_contain_text("intervals above")
    page.check("input[name=action][value=accept]")
    page.fill("#id_reason", "Tenant's welder on the 3rd: confirmed by phone")
    page.click("#resolve")
    expect(page.locator("#resolution")).to_contain_text("Accepted as-is: Tenant's welder")
    page.click(f"a[href='/console/work/{spike.pk}/']")
    expect(page.locator("h1")).to_contain_text("Done")

    page.goto(f"{live_server.url}/console/meter-data/exceptions/?rule=spike")
    expect(page.locator("#vee-exceptions")).to_contain_text("No open VEE exceptions match.")

    # Download My Data: the export validates against the strict schema set.
    out = tmp_path / "june.xml"
    _reads(
        "export-greenbutton",
        "--meter",
        SERIAL,
        "--start",
        "2011-06-01",
        "--end",
        "2011-06-08",
        "--out",
        str(out),
    )
    schema = xmlschema.XMLSchema(str(GREENBUTTON / "schema" / "greenbutton.xsd"), allow="local")
    schema.validate(str(out))
    reset_headend()
