"""Records for tests, made through the real operations so every test sees audited writes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import count

from ohm.agreements import operations as agreement_operations
from ohm.core.audit import SystemActor
from ohm.customers import operations as customer_operations
from ohm.metering import operations as metering_operations
from ohm.premises import operations as premise_operations
from ohm.rates.models import RateSchedule

SYSTEM = SystemActor("tests")
AT = datetime(2026, 3, 1, 17, 0, tzinfo=UTC)
_serials = count(1)
_sequences = count(1)


def make_person(**overrides):
    fields = {
        "first_name": "Maria",
        "last_name": "Lopez",
        "address_line1": "1200 Marisol Ave",
        "city": "Port Marisol",
        "state": "CA",
        "postal_code": "94501",
    }
    phones = overrides.pop("phones", [{"number": "(510) 555-0142", "kind": "mobile"}])
    emails = overrides.pop("emails", ["maria.lopez@example.org"])
    fields.update(overrides)
    return customer_operations.create_person(
        actor=SYSTEM, at=AT, phones=phones, emails=emails, **fields
    )


def make_rate(code: str = "RES-1", customer_class: str = "residential") -> RateSchedule:
    return RateSchedule.objects.get_or_create(
        code=code, defaults={"name": f"Rate {code}", "customer_class": customer_class}
    )[0]


def make_premise(**overrides):
    fields = {
        "address_line1": f"{100 + next(_sequences)} Lagoon Rd",
        "city": "Port Marisol",
        "state": "CA",
        "postal_code": "94501",
        "premise_type": "single_family",
        "baseline_territory": "T",
        "heat_source": "gas",
    }
    fields.update(overrides)
    return premise_operations.create_premise(actor=SYSTEM, at=AT, **fields)


def make_service_point(premise=None, route: str = "R01"):
    return premise_operations.add_service_point(
        premise=premise or make_premise(),
        route=route,
        read_sequence=next(_sequences),
        actor=SYSTEM,
        at=AT,
    )


def make_meter(serial: str | None = None, kind: str = "ami"):
    return metering_operations.register_meter(
        serial=serial or f"MX{next(_serials):07d}",
        make="Itron",
        model="Riva",
        kind=kind,
        actor=SYSTEM,
        at=AT,
    )


def make_account(person=None, *, cycle: int = 1, opened: date = date(2026, 3, 1), **prefs):
    return customer_operations.open_account(
        main_person=person or make_person(),
        bill_cycle=cycle,
        opened_date=opened,
        actor=SYSTEM,
        at=AT,
        **prefs,
    )


def make_served_account(
    person=None, *, premise=None, meter_serial: str | None = None, rate_code: str = "RES-1"
):
    """An active account served at a premise with an installed AMI meter."""
    account = make_account(person)
    point = make_service_point(premise)
    meter = make_meter(meter_serial)
    metering_operations.install_meter(
        meter=meter, service_point=point, installed_at=AT, actor=SYSTEM, at=AT
    )
    agreement_operations.start_service(
        account=account,
        service_point=point,
        rate_schedule=make_rate(rate_code),
        start_date=date(2026, 3, 1),
        actor=SYSTEM,
        at=AT,
    )
    account.refresh_from_db()
    return account
