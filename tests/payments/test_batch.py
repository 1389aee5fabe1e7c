"""Set-based posting for callers that know each payment's account (autopay release, agencies)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from ohm.customers.models import Account
from ohm.payments.batch import BatchPayment, post_payments_batch
from ohm.payments.models import Payment
from ohm.workqueue.models import WorkItem
from tests.factories import SYSTEM, make_account
from tests.payments.conftest import TAKEN_AT, TODAY, balance, bill, books_clean, gl, writes


def run(payments, channel="autopay"):
    return post_payments_batch(
        payments=payments,
        channel=channel,
        received_at=TAKEN_AT,
        effective_date=TODAY,
        actor=SYSTEM,
        source="ach file 7",
    )


@pytest.mark.django_db
class TestPostPaymentsBatch:
    def test_posts_every_payment_in_one_deposit_entry(self, owing):
        other = make_account()
        bill(other, 50_00, key="b:other")

        result = run(
            [
                BatchPayment("trace-1", 120_00, "ach", owing.pk),
                BatchPayment("trace-2", 50_00, "ach", other.pk),
            ]
        )

        assert (result.posted, result.unapplied, result.total_cents) == (2, 0, 170_00)
        assert set(result.payment_ids) == {"trace-1", "trace-2"}
        assert (balance(owing), balance(other)) == (80_00, 0)
        assert gl("cash_ach") == 170_00
        entries = {p.entry_id for p in Payment.objects.all()}
        assert len(entries) == 1
        assert books_clean()

    def test_the_same_keys_again_post_nothing_and_return_the_payments(self, owing):
        first = run([BatchPayment("trace-1", 10_00, "ach", owing.pk)])
        before = writes()

        again = run([BatchPayment("trace-1", 10_00, "ach", owing.pk)])

        assert again.duplicates == 1
        assert again.payment_ids == first.payment_ids
        assert writes()[:3] == before[:3]

    def test_closed_and_unknown_accounts_go_to_suspense_with_one_work_item(self, owing):
        Account.objects.filter(pk=owing.pk).update(status=Account.Status.CLOSED)

        result = run(
            [BatchPayment("t1", 5_00, "ach", owing.pk), BatchPayment("t2", 6_00, "ach", 987654)]
        )

        assert result.unapplied == 2
        assert gl("unapplied_cash") == -11_00
        assert WorkItem.objects.filter(category__code="unapplied_payment").count() == 1

    @pytest.mark.parametrize(
        "bad",
        [
            BatchPayment("", 1_00, "ach", None),
            BatchPayment("k", 0, "ach", None),
            BatchPayment("k", 1_00, "cash", None),
        ],
    )
    def test_one_bad_payment_refuses_the_batch(self, owing, bad):
        with pytest.raises(ValidationError):
            run([BatchPayment("ok", 1_00, "ach", owing.pk), bad])

        assert not Payment.objects.exists()
