"""Console rate pages: list, history, editor with per-field errors and preview, URDB import and
export, approval by a supervisor only, and the comparison panel on the account page."""

from __future__ import annotations

import json
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from ohm.core import clock
from ohm.core.models import AuditEvent
from ohm.rates import operations, tariff
from ohm.rates.models import RateVersion
from tests.rates.support import (
    AT,
    BROKEN_URDB,
    GOOD_URDB,
    SYSTEM,
    approved_version,
    flat_document,
    make_schedule,
    tou_document,
    urdb_path,
    urdb_record,
)


@pytest.fixture(autouse=True)
def _frozen_clock():
    """The console's "today" is March 3, 2026 (AT)."""
    with clock.frozen_at(AT):
        yield


@pytest.fixture
def analyst(make_staff):
    return make_staff("billing_analyst", "ana")


@pytest.fixture
def schedule(db):
    schedule = make_schedule("E-TOU", requires_interval_meter=True)
    approved_version(schedule, date(2025, 1, 1), tou_document())
    return schedule


def draft(schedule, actor, document=None, effective=date(2026, 6, 1)):
    return operations.create_draft_version(
        schedule=schedule,
        effective_date=effective,
        document=document or tou_document(),
        actor=actor,
        at=AT,
    )


def editor_post(document: dict, **overrides) -> dict:
    """The editor's form data for ``document`` as a person would submit it unchanged."""
    from ohm.console.views import rates_forms as rf

    initial = rf.initial_from_document(document, effective_date="2026-06-01", notes="n")
    data = {k: ("" if v is None else str(v)) for k, v in initial.items()}
    for key, prefix in rf.FORMSET_OF_KEY.items():
        rows = rf._tier_rows(document.get(key), energy=key == "energyratestructure")
        data[f"{prefix}-TOTAL_FORMS"] = str(len(rows) + 1)
        data[f"{prefix}-INITIAL_FORMS"] = str(len(rows))
        for i, row in enumerate(rows):
            for name, value in row.items():
                data[f"{prefix}-{i}-{name}"] = "" if value is None else str(value)
    ohm = document.get("ohm") or {}
    percent_rows = rf._percent_rows(ohm)
    data["percent-TOTAL_FORMS"] = str(len(percent_rows) + 1)
    data["percent-INITIAL_FORMS"] = str(len(percent_rows))
    for i, row in enumerate(percent_rows):
        for name, value in row.items():
            data[f"percent-{i}-{name}"] = "" if value is None else str(value)
    data.update(overrides)
    return data


@pytest.mark.django_db
class TestScheduleList:
    def test_lists_schedules_with_the_version_in_effect(self, client, csr, schedule):
        client.force_login(csr)

        response = client.get("/console/rates/")

        html = response.content.decode()
        assert response.status_code == 200
        assert 'data-code="E-TOU"' in html
        assert "v1" in html
        assert 'href="/console/rates/"' in html  # the nav link

    def test_history_shows_every_version(self, client, csr, schedule, analyst):
        draft(schedule, analyst)
        client.force_login(csr)

        response = client.get("/console/rates/E-TOU/")

        html = response.content.decode()
        assert 'data-number="1"' in html
        assert 'data-number="2"' in html
        assert "Draft" in html
        assert "New version" not in html  # a CSR does not write rates


@pytest.mark.django_db
class TestVersionPage:
    def test_shows_the_grid_coloured_by_period_and_the_tiers(self, client, csr, schedule):
        client.force_login(csr)

        response = client.get("/console/rates/E-TOU/v1/")

        html = response.content.decode()
        assert response.status_code == 200
        assert html.count('class="period" data-period="1"') == 2 * 12 * 5  # 4–9 pm, both grids
        assert "0.30" in html

    def test_shows_baseline_allowances_taxes_and_discounts(self, client, csr, db):
        from ohm.batch.demo_rates import residential_tiered

        schedule = make_schedule("E-1")
        approved_version(schedule, date(2025, 1, 1), residential_tiered())
        client.force_login(csr)

        html = client.get("/console/rates/E-1/v1/").content.decode()

        assert 'id="baseline"' in html
        assert (
            '<td>X</td><td>electric</td><td class="num">8.5</td><td class="num">14.6</td>' in html
        )
        assert "LOW_INCOME" in html
        assert "7.5%" in html

    def test_preview_applies_baseline_discount_and_tax(self, client, csr, db):
        from ohm.batch.demo_rates import residential_tiered

        schedule = make_schedule("E-1")
        approved_version(schedule, date(2025, 1, 1), residential_tiered())
        client.force_login(csr)

        response = client.get(
            "/console/rates/E-1/v1/preview/",
            {
                "month": "2026-07-01",
                "kwh": "700",
                "peak_percent": "25",
                "territory": "X",
                "heat_source": "electric",
                "programs": "low_income",
            },
        )

        # Allowance 8.5 kWh/day × 31 = 263.5 kWh; 130% = 342.55.
        # 263.5 × 0.12430 = 32.75; 79.05 × 0.19794 = 15.65; 357.45 × 0.29453 = 105.28;
        # with $19.99: 173.67; discount 25% = -43.42; tax 7.5% of 130.25 = 9.77 → 140.02.
        assert 'data-field="total">$140.02' in response.content.decode()

    def test_preview_prices_a_sample_month(self, client, csr, schedule):
        client.force_login(csr)

        response = client.get(
            "/console/rates/E-TOU/v1/preview/",
            {"month": "2026-01-01", "kwh": "600", "peak_percent": "20"},
        )

        html = response.content.decode()
        assert response.status_code == 200
        # 600 kWh: 120 peak × 0.30 + 480 off-peak × 0.15 + 10.00 fixed = 118.00
        assert 'data-field="total">$118.00' in html


@pytest.mark.django_db
class TestVersionEditor:
    def test_an_analyst_edits_a_draft(self, client, schedule, analyst):
        version = draft(schedule, analyst)
        client.force_login(analyst)
        data = editor_post(version.document, **{"energy-1-rate": "0.35", "fixed_charge": "12.5"})

        response = client.post(f"/console/rates/E-TOU/v{version.number}/edit/", data)

        assert response.status_code == 302
        version.refresh_from_db()
        assert version.document["energyratestructure"][1] == [{"rate": "0.35"}]
        assert version.document["fixedchargefirstmeter"] == "12.5"
        assert tariff.tariff_from_document(version.document).fixed_charge == 12.5

    def test_a_schedule_of_23_hours_is_refused_on_its_field(self, client, schedule, analyst):
        version = draft(schedule, analyst)
        client.force_login(analyst)
        grid = "\n".join(" ".join(["0"] * (23 if m == 2 else 24)) for m in range(12))

        response = client.post(
            f"/console/rates/E-TOU/v{version.number}/edit/",
            editor_post(version.document, energy_weekday=grid),
        )

        assert response.status_code == 422
        assert response.context["form"].errors["energy_weekday"] == [
            "Mar: 24 hours needed (0 to 23), got 23."
        ]

    def test_a_period_with_no_rate_is_refused_by_the_tariff_check(self, client, schedule, analyst):
        version = draft(schedule, analyst)
        client.force_login(analyst)
        grid = "\n".join(" ".join(["2"] * 24) for _ in range(12))

        response = client.post(
            f"/console/rates/E-TOU/v{version.number}/edit/",
            editor_post(version.document, energy_weekend=grid),
        )

        assert response.status_code == 422
        errors = response.context["form"].errors["energy_weekend"]
        assert "energyweekendschedule[0][0]" in errors[0]
        assert "period 2 has no rate" in errors[0]
        version.refresh_from_db()
        assert version.document == tou_document()

    def test_tiers_out_of_order_show_on_the_tier_table(self, client, schedule, analyst):
        version = draft(schedule, analyst, document=flat_document())
        client.force_login(analyst)
        data = editor_post(
            version.document,
            **{
                "energy-0-max": "500",
                "energy-1-period": "0",
                "energy-1-max": "400",
                "energy-1-rate": "0.3",
                "energy-2-period": "0",
                "energy-2-rate": "0.4",
                "energy-TOTAL_FORMS": "3",
            },
        )

        response = client.post(f"/console/rates/E-TOU/v{version.number}/edit/", data)

        assert response.status_code == 422
        assert "tiers out of order" in " ".join(
            response.context["sets"]["energy"].non_form_errors()
        )

    def test_an_approved_version_is_not_editable(self, client, schedule, analyst):
        client.force_login(analyst)

        response = client.get("/console/rates/E-TOU/v1/edit/")

        assert response.status_code == 302
        assert response.url == "/console/rates/E-TOU/v1/"

    def test_a_csr_may_not_edit(self, client, csr, schedule):
        version = draft(schedule, SYSTEM)
        client.force_login(csr)

        response = client.get(f"/console/rates/E-TOU/v{version.number}/edit/")

        assert response.status_code == 403

    def test_new_version_from_the_current_one(self, client, schedule, analyst):
        client.force_login(analyst)
        data = editor_post(tou_document(), effective_date="2026-07-01", **{"from": "1"})

        response = client.post("/console/rates/E-TOU/versions/new/?from=1", data)

        assert response.status_code == 302
        copy = RateVersion.objects.get(schedule=schedule, number=2)
        assert copy.status == RateVersion.Status.DRAFT
        assert copy.effective_date == date(2026, 7, 1)
        assert tariff.tariff_from_document(copy.document) == tariff.tariff_from_document(
            tou_document()
        )


@pytest.mark.django_db
class TestApproval:
    def test_a_supervisor_approves_and_the_analyst_may_not(
        self, client, schedule, analyst, supervisor
    ):
        version = draft(schedule, analyst)
        url = f"/console/rates/E-TOU/v{version.number}/approve/"
        client.force_login(analyst)
        assert client.post(url).status_code == 403

        client.force_login(supervisor)
        response = client.post(url)

        assert response.status_code == 302
        version.refresh_from_db()
        assert version.status == RateVersion.Status.APPROVED
        assert version.approved_by == supervisor

    def test_a_supervisor_cannot_approve_their_own_draft(self, client, schedule, supervisor):
        version = draft(schedule, supervisor)
        client.force_login(supervisor)

        response = client.post(f"/console/rates/E-TOU/v{version.number}/approve/", follow=True)

        assert "a different person" in response.content.decode()
        version.refresh_from_db()
        assert version.status == RateVersion.Status.DRAFT


@pytest.mark.django_db
class TestUrdbImportExport:
    @pytest.mark.parametrize("name", GOOD_URDB)
    def test_imports_an_uploaded_record_as_a_draft(self, client, analyst, name, db):
        make_schedule("IMP", customer_class="small_commercial")
        client.force_login(analyst)
        upload = SimpleUploadedFile(name, urdb_path(name).read_bytes(), "application/json")

        response = client.post("/console/rates/IMP/import/", {"file": upload})

        assert response.status_code == 302
        version = RateVersion.objects.get(schedule__code="IMP")
        assert version.status == RateVersion.Status.DRAFT
        assert AuditEvent.objects.filter(event="rates.version.created", actor=analyst).exists()

    @pytest.mark.parametrize(("name", "field"), BROKEN_URDB.items())
    def test_refuses_a_broken_record_with_the_field(self, client, analyst, name, field, db):
        make_schedule("IMP", customer_class="small_commercial")
        client.force_login(analyst)
        upload = SimpleUploadedFile(name, urdb_path(name).read_bytes(), "application/json")

        response = client.post(
            "/console/rates/IMP/import/", {"file": upload, "effective_date": "2026-04-01"}
        )

        assert response.status_code == 422
        assert field in response.content.decode()
        assert not RateVersion.objects.filter(schedule__code="IMP").exists()

    def test_refuses_a_file_that_is_not_json(self, client, analyst, db):
        make_schedule("IMP")
        client.force_login(analyst)
        upload = SimpleUploadedFile("x.json", b"{not json", "application/json")

        response = client.post("/console/rates/IMP/import/", {"file": upload})

        assert response.status_code == 422
        assert "Not JSON" in response.content.decode()

    def test_exports_a_version_as_urdb_json(self, client, csr, analyst, db):
        schedule = make_schedule("IMP", customer_class="small_commercial")
        record = urdb_record(GOOD_URDB[0])
        version = operations.import_urdb_version(
            schedule=schedule, record=record, actor=analyst, at=AT
        )
        client.force_login(csr)

        response = client.get(f"/console/rates/IMP/v{version.number}/urdb.json")

        assert response.status_code == 200
        assert "attachment" in response["Content-Disposition"]
        exported = json.loads(response.content)
        assert tariff.parse_urdb(exported) == tariff.parse_urdb(record)


@pytest.mark.django_db
class TestAccountComparison:
    def test_the_account_page_loads_the_panel(self, client, csr):
        from tests.factories import make_served_account

        account = make_served_account()
        client.force_login(csr)

        html = client.get(f"/console/accounts/{account.number}/").content.decode()

        assert f'hx-get="/console/accounts/{account.number}/rate-comparison/"' in html

    def test_the_panel_shows_each_rate_and_the_difference(self, client, csr):
        from tests.rates.test_comparison import served, store_hourly

        current = make_schedule("RES-1")
        approved_version(current, date(2024, 1, 1), flat_document("0.20", fixed="10.00"))
        tou = make_schedule("RES-TOU", requires_interval_meter=True)
        approved_version(tou, date(2024, 1, 1), tou_document("0.15", "0.30", fixed="10.00"))
        agreement, meter = served(current)
        store_hourly(meter, date(2025, 2, 28), date(2026, 3, 1))
        client.force_login(csr)

        response = client.get(f"/console/accounts/{agreement.account.number}/rate-comparison/")

        html = response.content.decode()
        assert response.status_code == 200
        assert 'data-code="RES-1"' in html
        assert 'data-code="RES-TOU"' in html
        # January 2026: 158.80 flat vs 144.85 on TOU.
        assert "$158.80" in html
        assert "$144.85" in html
        assert "-$13.95" in html
        assert f"rate-chart-{agreement.pk}-data" in html

    def test_staff_without_rates_access_get_403(self, client, make_staff):
        from tests.factories import make_served_account

        account = make_served_account()
        client.force_login(make_staff("field_technician", "fran"))

        response = client.get(f"/console/accounts/{account.number}/rate-comparison/")

        assert response.status_code == 403


@pytest.mark.django_db
class TestEditorExtensions:
    def test_taxes_discounts_and_net_metering_are_fields(self, client, schedule, analyst):
        from ohm.batch.demo_rates import residential_tiered

        version = draft(schedule, analyst, document=residential_tiered(net_metering=True))
        client.force_login(analyst)
        data = editor_post(
            version.document,
            **{
                "percent-1-percent": "8.25",  # the tax, second row
                "percent-2-kind": "surcharges",
                "percent-2-code": "PPP",
                "percent-2-percent": "2.85",
                "percent-2-base": "energy",
                "percent-TOTAL_FORMS": "3",
                "surplus_rate": "0.05",
            },
        )

        response = client.post(f"/console/rates/E-TOU/v{version.number}/edit/", data)

        assert response.status_code == 302
        version.refresh_from_db()
        parsed = tariff.tariff_from_document(version.document)
        assert [(t.code, str(t.percent)) for t in parsed.taxes] == [("UUT", "8.25")]
        assert [(s.code, s.base) for s in parsed.surcharges] == [("PPP", ("energy",))]
        assert [d.code for d in parsed.discounts] == ["LOW_INCOME"]
        assert parsed.net_metering.surplus_rate == tariff.Decimal("0.05")
        assert parsed.baseline is not None  # kept from the JSON part

    def test_a_bad_base_is_shown_on_the_charges_table(self, client, schedule, analyst):
        from ohm.batch.demo_rates import residential_tiered

        version = draft(schedule, analyst, document=residential_tiered())
        client.force_login(analyst)

        response = client.post(
            f"/console/rates/E-TOU/v{version.number}/edit/",
            editor_post(version.document, **{"percent-0-base": "energy, tips"}),
        )

        assert response.status_code == 422
        errors = " ".join(response.context["sets"]["percent"].non_form_errors())
        assert "ohm.discounts[0].base[1]" in errors


@pytest.mark.django_db
class TestScheduleForms:
    def test_an_analyst_creates_a_schedule_with_its_eligibility(self, client, analyst):
        client.force_login(analyst)

        response = client.post(
            "/console/rates/new/",
            {
                "code": "ev-2",
                "name": "EV two",
                "customer_class": "residential",
                "requires_interval_meter": "on",
                "required_program": "ev",
                "is_active": "on",
            },
        )

        assert response.status_code == 302
        assert response.url == "/console/rates/EV-2/"
        assert AuditEvent.objects.filter(event="rates.schedule.created", actor=analyst).exists()

    def test_a_duplicate_code_is_refused_on_the_code(self, client, analyst, schedule):
        client.force_login(analyst)

        response = client.post(
            "/console/rates/new/",
            {"code": "E-TOU", "name": "Again", "customer_class": "residential"},
        )

        assert response.status_code == 422
        assert "code" in response.context["form"].errors

    def test_a_supervisor_withdraws_a_future_version(self, client, schedule, analyst, supervisor):
        version = draft(schedule, analyst)
        operations.approve_version(version=version, actor=supervisor, at=AT)
        client.force_login(supervisor)

        client.post(
            f"/console/rates/E-TOU/v{version.number}/withdraw/", {"reason": "Wrong peak price"}
        )

        version.refresh_from_db()
        assert version.status == RateVersion.Status.WITHDRAWN
        assert version.withdrawn_reason == "Wrong peak price"


@pytest.mark.django_db
def test_a_new_schedule_starts_from_a_blank_draft(client, analyst):
    make_schedule("NEW")
    client.force_login(analyst)

    page = client.get("/console/rates/NEW/versions/new/")
    data = editor_post(
        {
            "fixedchargefirstmeter": "5",
            "energyratestructure": [[{"rate": "0.1"}]],
            "energyweekdayschedule": [[0] * 24] * 12,
            "energyweekendschedule": [[0] * 24] * 12,
        }
    )
    saved = client.post("/console/rates/NEW/versions/new/", data)

    assert page.status_code == 200
    assert saved.status_code == 302
    version = RateVersion.objects.get(schedule__code="NEW")
    assert version.source == RateVersion.Source.CONSOLE
    assert tariff.tariff_from_document(version.document).fixed_charge == 5
