from datetime import date

import pytest
from django.core.exceptions import ValidationError

from ohm.core.models import AuditEvent
from ohm.financials import operations, policies
from ohm.ledger import operations as ledger
from ohm.ledger import queries as ledger_queries
from ohm.ledger.models import JournalEntry
from tests.factories import AT, SYSTEM, make_account
from tests.financials.conftest import bill, lines_of, writes
from tests.journal import receivable_line

ON = date(2026, 3, 2)


def adjust(
    account, actor, cents=20_00, *, direction="credit", reason="billing_error", key="adj:1", **kw
):
    return operations.post_adjustment(
        account=account,
        amount_cents=cents,
        direction=direction,
        reason_code=reason,
        memo=kw.pop("memo", "Rate misapplied"),
        effective_date=kw.pop("effective_date", ON),
        actor=actor,
        at=AT,
        idempotency_key=key,
    )


@pytest.mark.django_db
class TestPostAdjustment:
    def test_a_credit_within_the_limit_posts_against_billing_adjustments(self, owing, csr):
        outcome = adjust(owing, csr)

        assert not outcome.pending
        assert outcome.request is None
        assert lines_of(outcome.entry) == [("4190", 20_00, None), ("1100", -20_00, owing.pk)]
        assert outcome.entry.kind == "adjustment"
        assert outcome.entry.reason_code == "billing_error"
        assert ledger_queries.get_balance_cents(account_id=owing.pk) == 180_00
        assert AuditEvent.objects.filter(
            event="financials.adjustment.posted", account_id=owing.pk
        ).exists()

    def test_a_charge_falls_due_by_policy_with_the_reasons_category(self, owing, csr):
        outcome = adjust(owing, csr, 12_34, direction="debit", reason="meter_error")

        line = receivable_line(outcome.entry)
        assert (line.amount_cents, line.category) == (12_34, "charge")
        assert line.due_date == policies.charge_due_date(ON) == date(2026, 3, 23)

    def test_a_tax_correction_posts_to_the_tax_account(self, owing, csr):
        outcome = adjust(owing, csr, 3_10, reason="tax_correction")

        assert lines_of(outcome.entry) == [("2300", 3_10, None), ("1100", -3_10, owing.pk)]

    def test_a_deposit_charge_stays_a_deposit_so_payments_reach_it_last(self, owing, csr):
        outcome = adjust(owing, csr, 40_00, direction="debit", reason="deposit_correction")

        line = receivable_line(outcome.entry)
        assert line.category == "deposit"
        assert lines_of(outcome.entry) == [("1100", 40_00, owing.pk), ("2200", -40_00, None)]

    def test_retrying_the_same_key_posts_nothing(self, owing, csr):
        first = adjust(owing, csr)
        before = writes()

        again = adjust(owing, csr, 99_00)

        assert again.replayed
        assert again.entry.pk == first.entry.pk
        assert writes() == before

    @pytest.mark.parametrize(
        ("kwargs", "field", "message"),
        [
            ({"cents": 0}, "amount_cents", "more than zero"),
            ({"cents": -5_00}, "amount_cents", "more than zero"),
            ({"reason": "bribe"}, "reason_code", "not an active adjustment reason"),
            ({"reason": "courtesy_credit", "direction": "debit"}, "direction", "cannot be a debit"),
            ({"direction": "sideways"}, "direction", "not credit or debit"),
            ({"reason": "other", "memo": " "}, "memo", "Say what"),
            ({"effective_date": date(2026, 1, 15)}, "effective_date", "closed"),
            ({"key": ""}, "idempotency_key", "idempotency key"),
        ],
    )
    def test_bad_input_is_refused_naming_the_field_and_writes_nothing(
        self, owing, csr, kwargs, field, message
    ):
        ledger.close_period(year=2026, month=1, actor=SYSTEM, at=AT)
        before = writes()

        with pytest.raises(ValidationError) as refused:
            adjust(owing, csr, **kwargs)

        assert message in " ".join(refused.value.message_dict[field])
        assert writes() == before


@pytest.mark.django_db
class TestAssessFee:
    def test_a_returned_payment_fee_charges_the_schedule_amount(self, owing, csr):
        outcome = operations.assess_fee(
            account=owing,
            kind="returned_payment",
            effective_date=ON,
            actor=csr,
            at=AT,
            idempotency_key="fee:1",
        )

        assert lines_of(outcome.entry) == [("1100", 25_00, owing.pk), ("4210", -25_00, None)]
        assert outcome.entry.kind == "fee"

    def test_the_late_fee_is_a_share_of_the_past_due(self, owing):
        outcome = operations.assess_fee(
            account=owing,
            kind="late",
            effective_date=ON,
            actor=SYSTEM,
            at=AT,
            idempotency_key="late:1",
        )

        # 1.5% of $200.00 past due.
        assert lines_of(outcome.entry) == [("1100", 3_00, owing.pk), ("4200", -3_00, None)]

    def test_no_late_fee_below_the_minimum_past_due(self, db):
        account = make_account()
        bill(account, 9_99, key="small")
        before = writes()

        with pytest.raises(ValidationError) as refused:
            operations.assess_fee(
                account=account,
                kind="late",
                effective_date=ON,
                actor=SYSTEM,
                at=AT,
                idempotency_key="late:2",
            )

        assert "under the $10.00 minimum" in refused.value.message_dict["kind"][0]
        assert writes() == before

    def test_an_unknown_fee_is_refused(self, owing):
        with pytest.raises(ValidationError) as refused:
            operations.assess_fee(
                account=owing,
                kind="parking",
                effective_date=ON,
                actor=SYSTEM,
                at=AT,
                idempotency_key="fee:x",
            )

        assert "kind" in refused.value.message_dict


class TestLateFeePolicy:
    @pytest.mark.parametrize(
        ("past_due", "expected"),
        [(0, 0), (9_99, 0), (10_00, 1_00), (100_00, 1_50), (133_33, 2_00), (10_000_00, 50_00)],
    )
    def test_rate_floor_minimum_and_cap(self, past_due, expected):
        fee = policies.late_fee_cents(
            past_due_cents=past_due,
            rate_basis_points=150,
            minimum_past_due_cents=10_00,
            floor_cents=1_00,
            cap_cents=50_00,
        )

        assert fee == expected


@pytest.mark.django_db
class TestTransferBalance:
    def test_moves_the_balance_in_one_balanced_entry(self, owing, csr):
        new = make_account()

        outcome = operations.transfer_balance(
            from_account=owing,
            to_account=new,
            amount_cents=40_00,
            reason="Final bill to new home",
            effective_date=ON,
            actor=csr,
            at=AT,
            idempotency_key="xfer:1",
        )

        assert lines_of(outcome.entry) == [("1100", 40_00, new.pk), ("1100", -40_00, owing.pk)]
        assert ledger_queries.get_balance_cents(account_id=new.pk) == 40_00
        assert AuditEvent.objects.filter(
            event="financials.transfer.received", account_id=new.pk
        ).exists()

    @pytest.mark.parametrize(
        ("same", "cents", "field"),
        [(True, 10_00, "to_account"), (False, 200_01, "amount_cents"), (False, 0, "amount_cents")],
    )
    def test_refuses_the_same_account_and_more_than_is_owed(self, owing, csr, same, cents, field):
        target = owing if same else make_account()
        before = writes()

        with pytest.raises(ValidationError) as refused:
            operations.transfer_balance(
                from_account=owing,
                to_account=target,
                amount_cents=cents,
                reason="move",
                effective_date=ON,
                actor=csr,
                at=AT,
                idempotency_key="xfer:bad",
            )

        assert field in refused.value.message_dict
        assert writes() == before


def write_off(account, actor, cents, key="wo:1"):
    return operations.write_off_balance(
        account=account,
        amount_cents=cents,
        reason="Uncollectible after agency",
        effective_date=ON,
        actor=actor,
        at=AT,
        idempotency_key=key,
    )


@pytest.mark.django_db
class TestWriteOffs:
    def test_a_write_off_debits_bad_debt_expense(self, owing):
        outcome = write_off(owing, SYSTEM, 150_00)

        assert lines_of(outcome.entry) == [("5200", 150_00, None), ("1100", -150_00, owing.pk)]

    def test_more_than_the_open_balance_is_refused(self, owing):
        before = writes()

        with pytest.raises(ValidationError) as refused:
            write_off(owing, SYSTEM, 200_01)

        assert "more than the open balance" in refused.value.message_dict["amount_cents"][0]
        assert writes() == before

    def test_a_reversal_posts_the_mirror_once(self, owing):
        original = write_off(owing, SYSTEM, 150_00).entry

        reversal = operations.reverse_write_off(
            entry=original,
            reason="Customer found",
            effective_date=ON,
            actor=SYSTEM,
            at=AT,
            idempotency_key="wor:1",
        ).entry

        assert reversal.reverses_id == original.pk
        assert lines_of(reversal) == [("1100", 150_00, owing.pk), ("5200", -150_00, None)]
        with pytest.raises(ValidationError) as refused:
            operations.reverse_write_off(
                entry=original,
                reason="again",
                effective_date=ON,
                actor=SYSTEM,
                at=AT,
                idempotency_key="wor:2",
            )
        assert "already reversed" in refused.value.message_dict["entry"][0]

    def test_only_write_offs_are_reversed_here(self, owing):
        entry = JournalEntry.objects.get(kind="bill")

        with pytest.raises(ValidationError) as refused:
            operations.reverse_write_off(
                entry=entry,
                reason="no",
                effective_date=ON,
                actor=SYSTEM,
                at=AT,
                idempotency_key="wor:3",
            )

        assert "not a write-off" in refused.value.message_dict["entry"][0]

    def test_a_recovery_puts_the_amount_back_to_be_paid(self, owing):
        write_off(owing, SYSTEM, 150_00)

        outcome = operations.record_recovery(
            account=owing,
            amount_cents=60_00,
            effective_date=ON,
            actor=SYSTEM,
            at=AT,
            idempotency_key="rec:1",
        )

        assert lines_of(outcome.entry) == [("1100", 60_00, owing.pk), ("4900", -60_00, None)]
        assert operations.written_off_open_cents(account_id=owing.pk) == 90_00

    def test_a_recovery_above_what_was_written_off_is_refused(self, owing):
        write_off(owing, SYSTEM, 50_00)

        with pytest.raises(ValidationError) as refused:
            operations.record_recovery(
                account=owing,
                amount_cents=50_01,
                effective_date=ON,
                actor=SYSTEM,
                at=AT,
                idempotency_key="rec:2",
            )

        assert "amount_cents" in refused.value.message_dict
