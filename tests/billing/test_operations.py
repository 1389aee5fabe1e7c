"""Issuing, holding, releasing, cancelling and rebilling; proration across a rate change and
for a first bill; the ledger stays balanced throughout."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ohm.billing import operations
from ohm.billing.models import Bill
from ohm.core.audit import SystemActor
from ohm.core.models import AuditEvent
from ohm.ledger.queries import check_books, get_balance_cents
from ohm.metering.models import Quality
from ohm.rates.models import RateSchedule
from ohm.workqueue.models import WorkItem
from tests.billing.support import (
    approve,
    delivered_channel,
    flat_tariff,
    served_from,
    served_with_rate,
    store_local_days,
)

ACTOR = SystemActor("tests")
APRIL = operations.BillDates(
    cycle=1,
    read_date=date(2026, 4, 1),
    bill_date=date(2026, 4, 2),
    due_date=date(2026, 4, 23),
    previous_read_date=date(2026, 3, 2),
)
AT = datetime(2026, 4, 2, 16, 0, tzinfo=UTC)
LATER = datetime(2026, 4, 6, 17, 0, tzinfo=UTC)


def bill_one(account) -> Bill:
    result = operations.bill_accounts(account_ids=[account.pk], dates=APRIL, at=AT, actor=ACTOR)
    (bill,) = result.bills
    return Bill.objects.get(pk=bill.pk)


def components(bill: Bill) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in bill.line_list():
        out[line.component] = out.get(line.component, 0) + line.amount_cents
    return out


@pytest.mark.django_db
class TestProration:
    def test_a_rate_change_mid_period_prorates_each_version_by_its_days(self):
        account = served_with_rate(flat_tariff(price="0.10", tax=None))
        approve(
            RateSchedule.objects.get(code="T-FLAT"),
            date(2026, 3, 16),
            flat_tariff(price="0.20", tax=None),
            number=2,
        )
        store_local_days(delivered_channel(account), date(2026, 3, 1), date(2026, 4, 1))

        bill = bill_one(account)

        assert [v["number"] for v in bill.segments.get().rate_versions] == [1, 2]
        fixed = [line.amount_cents for line in bill.line_list() if line.component == "fixed"]
        assert fixed == [484, 516]  # $10 × 15/31 and × 16/31
        energy = [line.amount_cents for line in bill.line_list() if line.component == "energy"]
        # March 1 from 09:00 (15 h) + 14 days with the 23-hour DST day = 350 kWh at $0.10,
        # then 16 days × 24 h = 384 kWh at $0.20.
        assert energy == [3500, 7680]
        assert bill.new_charges_cents == 484 + 516 + 3500 + 7680

    def test_a_first_bill_shorter_than_the_cycle_prorates_the_monthly_charge(self):
        account = served_from(date(2026, 3, 20))
        store_local_days(delivered_channel(account), date(2026, 3, 20), date(2026, 4, 1))

        bill = bill_one(account)

        assert bill.is_first
        assert (bill.start_date, bill.days) == (date(2026, 3, 20), 12)
        # The cycle's period is March 2 – April 1 (30 days): 12 of them served.
        assert components(bill)["fixed"] == 400
        assert components(bill)["energy"] == 12 * 24 * 10
        assert {"code": "first_bill"} in bill.messages


@pytest.mark.django_db
class TestExceptions:
    def test_zero_usage_holds_the_bill_as_a_work_item_without_posting(self):
        account = served_with_rate()
        store_local_days(delivered_channel(account), date(2026, 3, 1), date(2026, 4, 1), kwh=0)

        bill = bill_one(account)

        assert bill.status == Bill.Status.HELD
        assert [e["code"] for e in bill.exceptions] == ["zero_usage"]
        assert get_balance_cents(account_id=account.pk) == 0
        item = WorkItem.objects.get(pk=bill.work_item_id)
        assert item.category.code == "bill_exception"
        assert item.account_id == account.pk

    def test_release_posts_the_bill_dated_the_release_day_and_closes_the_work(self, supervisor):
        account = served_with_rate()
        store_local_days(delivered_channel(account), date(2026, 3, 1), date(2026, 4, 1), kwh=0)
        bill = bill_one(account)

        released = operations.release_bill(
            bill=bill, actor=supervisor, at=LATER, reason="Vacant home, confirmed"
        )

        assert released.status == Bill.Status.ISSUED
        assert released.bill_date == date(2026, 4, 6)
        assert released.due_date == date(2026, 4, 27)
        assert get_balance_cents(account_id=account.pk) == released.total_due_cents == 1075
        assert WorkItem.objects.get(pk=bill.work_item_id).status == WorkItem.Status.DONE
        assert AuditEvent.objects.filter(event="billing.bill.released").exists()
        assert check_books().balanced

    def test_release_refuses_an_issued_bill(self, supervisor):
        account = served_with_rate()
        store_local_days(delivered_channel(account), date(2026, 3, 1), date(2026, 4, 1))
        bill = bill_one(account)

        with pytest.raises(operations.BillNotHeld):
            operations.release_bill(bill=bill, actor=supervisor, at=LATER, reason="x")

    def test_no_rate_version_holds_the_bill_with_missing_rate(self):
        account = served_with_rate(rate_code="NO-VERSIONS")
        RateSchedule.objects.get(code="NO-VERSIONS").versions.all().delete()
        store_local_days(delivered_channel(account), date(2026, 3, 1), date(2026, 4, 1))

        bill = bill_one(account)

        assert bill.status == Bill.Status.HELD
        assert "missing_rate" in [e["code"] for e in bill.exceptions]
        assert bill.line_list() == []

    def test_estimated_reads_mark_the_bill_and_say_so(self):
        account = served_with_rate()
        store_local_days(
            delivered_channel(account), date(2026, 3, 1), date(2026, 4, 1), flag=Quality.ESTIMATED
        )

        bill = bill_one(account)

        assert bill.is_estimated
        assert bill.estimated_streak == 1
        assert {"code": "estimated", "streak": 1} in bill.messages
        assert bill.segments.get().estimated_share == pytest.approx(1.0)


@pytest.mark.django_db
class TestCancelAndRebill:
    def test_cancel_reverses_the_entry_and_leaves_the_books_balanced(self, supervisor):
        account = served_with_rate()
        store_local_days(delivered_channel(account), date(2026, 3, 1), date(2026, 4, 1))
        bill = bill_one(account)
        assert get_balance_cents(account_id=account.pk) == bill.total_due_cents

        cancelled = operations.cancel_bill(
            bill=bill, actor=supervisor, at=LATER, reason="Wrong meter multiplier"
        )

        assert cancelled.status == Bill.Status.CANCELLED
        assert cancelled.reversal_entry is not None
        assert get_balance_cents(account_id=account.pk) == 0
        assert check_books().balanced
        with pytest.raises(operations.BillNotIssued):
            operations.cancel_bill(bill=cancelled, actor=supervisor, at=LATER, reason="again")

    def test_rebill_after_corrected_reads_shows_what_changed(self, supervisor):
        account = served_with_rate()
        channel = delivered_channel(account)
        store_local_days(channel, date(2026, 3, 1), date(2026, 4, 1), kwh=2.0)
        bill = bill_one(account)
        store_local_days(channel, date(2026, 3, 1), date(2026, 4, 1), kwh=1.0)

        new = operations.rebill(bill=bill, actor=supervisor, at=LATER, reason="Reads corrected")

        bill.refresh_from_db()
        assert bill.status == Bill.Status.CANCELLED
        assert new.replaces_id == bill.pk
        assert new.status == Bill.Status.ISSUED
        assert (new.start_date, new.end_date) == (bill.start_date, bill.end_date)
        assert new.segments.get().usage_wh == 734_000
        assert new.new_charges_cents < bill.new_charges_cents
        assert {"code": "rebill", "replaces": bill.number} in new.messages
        assert get_balance_cents(account_id=account.pk) == new.new_charges_cents
        assert check_books().balanced

    def test_a_held_bill_cancelled_is_discarded_without_touching_the_books(self, supervisor):
        account = served_with_rate()
        store_local_days(delivered_channel(account), date(2026, 3, 1), date(2026, 4, 1), kwh=0)
        bill = bill_one(account)

        discarded = operations.cancel_bill(bill=bill, actor=supervisor, at=LATER, reason="dup")

        assert discarded.status == Bill.Status.DISCARDED
        assert discarded.reversal_entry is None
        assert get_balance_cents(account_id=account.pk) == 0

    def test_a_reason_is_required(self, supervisor):
        account = served_with_rate()
        store_local_days(delivered_channel(account), date(2026, 3, 1), date(2026, 4, 1))
        bill = bill_one(account)

        with pytest.raises(operations.ReasonRequired):
            operations.cancel_bill(bill=bill, actor=supervisor, at=LATER, reason="  ")


@pytest.mark.django_db
class TestIdempotency:
    def test_billing_the_same_accounts_again_writes_nothing(self):
        account = served_with_rate()
        store_local_days(delivered_channel(account), date(2026, 3, 1), date(2026, 4, 1))
        bill_one(account)

        again = operations.bill_accounts(account_ids=[account.pk], dates=APRIL, at=AT, actor=ACTOR)

        assert again.bills == []
        assert again.skipped == 1
        assert Bill.objects.filter(account=account).count() == 1


@pytest.mark.django_db
class TestNoReads:
    def test_an_agreement_without_interval_data_is_held_for_missing_reads(self):
        account = served_with_rate()

        bill = bill_one(account)

        assert bill.status == Bill.Status.HELD
        assert [e["code"] for e in bill.exceptions] == ["missing_reads"]
        assert "intervals have no reading" in bill.exceptions[0]["message"]
        assert get_balance_cents(account_id=account.pk) == 0
