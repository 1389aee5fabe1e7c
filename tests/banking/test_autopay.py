"""Autopay enrolment: validation, encryption and masking, audited changes."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from ohm.banking import operations as autopay
from ohm.banking.models import AutopayEnrolment
from ohm.core.models import AuditEvent
from ohm.customers.models import Account
from tests.banking.conftest import BANK_ACCOUNT, ROUTING, enrol
from tests.factories import AT, SYSTEM, make_account


class TestEnrol:
    def test_keeps_the_number_encrypted_and_only_the_last_four_in_the_clear(self, db):
        enrolment = enrol(make_account())

        with connection.cursor() as cursor:
            cursor.execute("SELECT account_number, account_last4 FROM banking_autopayenrolment")
            stored, last4 = cursor.fetchone()
        assert BANK_ACCOUNT not in stored
        assert last4 == "9012"
        assert AutopayEnrolment.objects.get().account_number == BANK_ACCOUNT
        assert enrolment.masked_account == "••••9012"

    def test_the_audit_trail_shows_the_number_masked(self, db):
        enrol(make_account())

        event = AuditEvent.objects.get(event="banking.autopay.enrolled")

        assert event.after["account_number"] == "••••••••9012"
        assert BANK_ACCOUNT not in str(event.after)

    @pytest.mark.parametrize(
        ("routing", "message"),
        [
            ("231380105", "check digit should be 4"),
            ("12345", "nine digits"),
            ("23138010A", "nine digits"),
        ],
    )
    def test_refuses_a_routing_number_that_fails_the_check_digit(self, db, routing, message):
        with pytest.raises(ValidationError, match=message):
            autopay.enrol_autopay(
                account=make_account(), holder_name="Pat", routing_number=routing,
                account_number=BANK_ACCOUNT, account_type="checking", start_date=date(2026, 3, 1),
                actor=SYSTEM, at=AT,
            )  # fmt: skip

    @pytest.mark.parametrize("number", ["12", "12345678901234567890", "1234ABCD"])
    def test_refuses_a_malformed_account_number(self, db, number):
        with pytest.raises(ValidationError, match="4 to 17 digits"):
            enrol(make_account(), number=number)

    def test_one_live_enrolment_per_account(self, db):
        account = make_account()
        first = enrol(account)

        with pytest.raises(ValidationError, match="already"):
            enrol(account)
        autopay.cancel_autopay(enrolment=first, reason="moved", actor=SYSTEM, at=AT)
        assert enrol(account).pk != first.pk

    def test_a_cash_only_account_cannot_enrol(self, db):
        account = make_account()
        Account.objects.filter(pk=account.pk).update(cash_only=True)

        with pytest.raises(ValidationError, match="cash-only"):
            enrol(account)


class TestChanges:
    def test_new_bank_details_restart_the_prenote_and_the_cooling_off(self, db):
        enrolment = enrol(make_account(), prenote=False)
        later = AT + timedelta(days=40)

        changed = autopay.change_bank_details(
            enrolment=enrolment, routing_number="011000015", account_number="44443333",
            account_type="savings", actor=SYSTEM, at=later, reason="new bank",
        )  # fmt: skip

        assert changed.prenote_status == AutopayEnrolment.Prenote.PENDING
        assert changed.bank_changed_at == later
        event = AuditEvent.objects.get(event="banking.autopay.bank_changed")
        assert event.before["routing_number"] == ROUTING
        assert event.after == {
            "routing_number": "011000015", "account_number": "••••3333",
            "account_type": "savings", "holder_name": "Pat Customer",
        }  # fmt: skip

    def test_suspend_resume_cancel(self, db):
        enrolment = enrol(make_account())

        with pytest.raises(ValidationError, match="Say why"):
            autopay.suspend_autopay(enrolment=enrolment, reason=" ", actor=SYSTEM, at=AT)
        autopay.suspend_autopay(enrolment=enrolment, reason="customer asked", actor=SYSTEM, at=AT)
        autopay.resume_autopay(enrolment=enrolment, reason="customer asked", actor=SYSTEM, at=AT)
        autopay.cancel_autopay(enrolment=enrolment, reason="moving", actor=SYSTEM, at=AT)

        with pytest.raises(ValidationError, match="cancelled"):
            autopay.resume_autopay(enrolment=enrolment, reason="oops", actor=SYSTEM, at=AT)
        assert list(
            AuditEvent.objects.filter(event__startswith="banking.autopay.").order_by("id").values_list("event", flat=True)
        ) == [
            "banking.autopay.enrolled", "banking.autopay.suspended",
            "banking.autopay.resumed", "banking.autopay.cancelled",
        ]  # fmt: skip
