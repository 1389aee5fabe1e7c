from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from ohm.core.models import AuditEvent
from ohm.metering import operations, queries
from ohm.metering.models import Meter, MeterInstallation
from tests.factories import AT, SYSTEM, make_meter, make_service_point


def install(meter, point, when=AT):
    return operations.install_meter(
        meter=meter, service_point=point, installed_at=when, actor=SYSTEM, at=when
    )


@pytest.mark.django_db
class TestRegisterMeter:
    def test_an_ami_meter_gets_delivered_and_received_channels(self):
        meter = make_meter("ab100", kind="ami")

        channels = list(meter.channels.values_list("number", "measure", "interval_minutes"))

        assert meter.serial == "AB100"
        assert meter.status == Meter.Status.INVENTORY
        assert channels == [(1, "kwh_delivered", 60), (2, "kwh_received", 60)]
        assert AuditEvent.objects.get(event="metering.meter.registered").after["serial"] == "AB100"

    def test_a_manual_meter_gets_one_register(self):
        meter = make_meter(kind="manual")

        assert list(meter.channels.values_list("number", "measure", "interval_minutes")) == [
            (1, "kwh_delivered", None)
        ]

    def test_refuses_a_serial_already_registered(self):
        make_meter("AB100")

        with pytest.raises(ValidationError) as caught:
            make_meter(" ab100 ")

        assert "serial" in caught.value.message_dict
        assert Meter.objects.count() == 1


@pytest.mark.django_db
class TestInstallMeter:
    def test_installs_and_audits(self):
        meter, point = make_meter(), make_service_point()

        installation = install(meter, point)

        assert Meter.objects.get(pk=meter.pk).status == Meter.Status.INSTALLED
        assert queries.get_installed_meter(service_point_id=point.pk, at=AT) == meter
        assert (
            queries.get_installed_meter(service_point_id=point.pk, at=AT - timedelta(seconds=1))
            is None
        )
        assert installation.removed_at is None
        assert (
            AuditEvent.objects.get(event="metering.meter.installed").after["service_point"]
            == point.number
        )

    def test_refuses_a_second_meter_at_the_service_point(self):
        point = make_service_point()
        install(make_meter(), point)
        other = make_meter()

        with pytest.raises(ValidationError) as caught:
            install(other, point)

        assert "service_point" in caught.value.message_dict
        assert Meter.objects.get(pk=other.pk).status == Meter.Status.INVENTORY

    def test_refuses_a_meter_installed_elsewhere(self):
        meter = make_meter()
        install(meter, make_service_point())

        with pytest.raises(ValidationError) as caught:
            install(meter, make_service_point())

        assert "meter" in caught.value.message_dict
        assert MeterInstallation.objects.count() == 1

    def test_a_removed_meter_can_go_in_elsewhere(self):
        meter, first, second = make_meter(), make_service_point(), make_service_point()
        installation = install(meter, first)
        operations.remove_meter(
            installation=installation,
            removed_at=AT + timedelta(days=2),
            actor=SYSTEM,
            at=AT,
            reason="exchange",
        )

        install(meter, second, when=AT + timedelta(days=3))

        assert (
            queries.get_installed_meter(service_point_id=second.pk, at=AT + timedelta(days=3))
            == meter
        )
        assert (
            queries.get_installed_meter(service_point_id=first.pk, at=AT + timedelta(days=3))
            is None
        )
        assert (
            queries.get_installed_meter(service_point_id=first.pk, at=AT + timedelta(days=1))
            == meter
        )

    def test_refuses_a_reinstall_before_the_meter_came_out(self):
        meter, first, second = make_meter(), make_service_point(), make_service_point()
        installation = install(meter, first)
        operations.remove_meter(
            installation=installation,
            removed_at=AT + timedelta(days=5),
            actor=SYSTEM,
            at=AT,
            reason="exchange",
        )

        with pytest.raises(ValidationError) as caught:
            install(meter, second, when=AT + timedelta(days=3))

        assert "installed_at" in caught.value.message_dict
        assert not second.meter_installations.exists()

    def test_refuses_a_meter_before_the_old_one_came_out_of_the_service_point(self):
        point = make_service_point()
        installation = install(make_meter(), point)
        operations.remove_meter(
            installation=installation,
            removed_at=AT + timedelta(days=5),
            actor=SYSTEM,
            at=AT,
            reason="exchange",
        )

        with pytest.raises(ValidationError) as caught:
            install(make_meter(), point, when=AT + timedelta(days=3))

        assert "installed_at" in caught.value.message_dict


@pytest.mark.django_db
class TestRemoveMeter:
    def test_refuses_a_removal_before_the_install(self):
        meter = make_meter()
        installation = install(meter, make_service_point())

        with pytest.raises(ValidationError) as caught:
            operations.remove_meter(
                installation=installation,
                removed_at=AT - timedelta(hours=1),
                actor=SYSTEM,
                at=AT,
                reason="oops",
            )

        assert "removed_at" in caught.value.message_dict
        assert MeterInstallation.objects.get(pk=installation.pk).removed_at is None
        assert Meter.objects.get(pk=meter.pk).status == Meter.Status.INSTALLED

    def test_refuses_a_second_removal(self):
        installation = install(make_meter(), make_service_point())
        operations.remove_meter(
            installation=installation,
            removed_at=AT + timedelta(days=1),
            actor=SYSTEM,
            at=AT,
            reason="exchange",
        )

        with pytest.raises(ValidationError) as caught:
            operations.remove_meter(
                installation=installation,
                removed_at=AT + timedelta(days=2),
                actor=SYSTEM,
                at=AT,
                reason="again",
            )

        assert "meter" in caught.value.message_dict
