"""The bill run end to end: reads -> determinants -> rating -> bill -> ledger, as a BatchRun."""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime

import pytest

from ohm.billing import runs
from ohm.billing.models import Bill
from ohm.core import batchrun
from ohm.core.models import BatchRun
from ohm.ledger.queries import check_books, get_balance_cents
from tests.billing.support import SYSTEM, delivered_channel, served_with_rate, store_local_days

APRIL_2 = datetime(2026, 4, 2, 16, 0, tzinfo=UTC)


def run_cycle(cycle: int, at: datetime) -> BatchRun:
    run = runs.plan_bill_run(cycle=cycle, as_of=at.date(), actor=SYSTEM, at=at)
    return batchrun.execute_run(run, at=lambda: at)


@pytest.mark.django_db
class TestBillRun:
    def test_bills_a_month_of_hourly_reads_across_the_spring_dst_change(self):
        account = served_with_rate()
        store_local_days(delivered_channel(account), date(2026, 3, 1), date(2026, 4, 1))

        run = run_cycle(1, APRIL_2)

        assert run.status == BatchRun.Status.SUCCEEDED
        bill = Bill.objects.get(account=account)
        assert bill.status == Bill.Status.ISSUED
        assert (bill.start_date, bill.end_date) == (date(2026, 3, 1), date(2026, 4, 1))
        assert (bill.bill_date, bill.due_date) == (date(2026, 4, 2), date(2026, 4, 23))
        segment = bill.segments.get()
        # Installed at 09:00 local on March 1; March 8 has 23 hours: 31 × 24 − 9 − 1.
        assert segment.usage_wh == 734_000
        lines = {line.component: line for line in bill.line_list()}
        assert lines["fixed"].amount_cents == 1000
        assert lines["energy"].amount_cents == 7340
        assert lines["tax"].amount_cents == 626  # 7.5% of 83.40 = 6.255 -> 6.26
        assert bill.new_charges_cents == 1000 + 7340 + 626
        assert bill.total_due_cents == bill.new_charges_cents
        assert get_balance_cents(account_id=account.pk) == bill.total_due_cents
        assert check_books().balanced
        assert run.result["issued"] == 1

    def test_running_the_cycle_again_bills_nothing_more(self):
        account = served_with_rate()
        store_local_days(delivered_channel(account), date(2026, 3, 1), date(2026, 4, 1))
        run_cycle(1, APRIL_2)

        second = runs.plan_bill_run(cycle=1, as_of=APRIL_2.date(), actor=SYSTEM, at=APRIL_2)

        assert second.resumed is True
        assert Bill.objects.filter(account=account).count() == 1


@pytest.mark.django_db
class TestPreparedAhead:
    """A chunk prepared ahead (in a worker, before its turn) is written only if what it read
    still holds; otherwise it is prepared again inside the chunk's transaction."""

    def _run(self, account):
        run = runs.plan_bill_run(cycle=1, as_of=APRIL_2.date(), actor=SYSTEM, at=APRIL_2)
        return run, [account.pk]

    def test_a_chunk_prepared_before_its_accounts_were_billed_bills_nothing_twice(self):
        account = served_with_rate()
        store_local_days(delivered_channel(account), date(2026, 3, 1), date(2026, 4, 1))
        run, items = self._run(account)
        prepared = runs._prepare(run=run, items=items)
        assert [p.account_id for p in prepared.bills] == [account.pk]
        # Meanwhile somebody bills the account (another executor, a manual bill).
        from ohm.billing import operations

        operations.bill_accounts(
            account_ids=items, dates=runs._dates_of(run), at=APRIL_2, actor=SYSTEM
        )
        assert not operations.still_current(prepared)

        counts = runs._process(run=run, items=items, at=APRIL_2, prepared=prepared)

        assert counts == {"issued": 0, "held": 0, "skipped": 1}
        assert Bill.objects.filter(account=account).count() == 1
        assert check_books().balanced

    def test_a_chunk_prepared_ahead_and_still_current_is_issued_as_prepared(self):
        account = served_with_rate()
        store_local_days(delivered_channel(account), date(2026, 3, 1), date(2026, 4, 1))
        run, items = self._run(account)
        # It crosses a process boundary: pickled in the worker, unpickled in the run.
        prepared = pickle.loads(pickle.dumps(runs._prepare(run=run, items=items)))
        from ohm.billing import operations

        assert operations.still_current(prepared)
        counts = runs._process(run=run, items=items, at=APRIL_2, prepared=prepared)

        assert counts == {"issued": 1, "held": 0, "skipped": 0}
        bill = Bill.objects.get(account=account)
        assert bill.new_charges_cents == 1000 + 7340 + 626
        assert get_balance_cents(account_id=account.pk) == bill.total_due_cents
