"""Card refunds: a credit given back to the card that paid, through the card processor, with
the refund guards, maker-checker approval, the books, and exactly once through timeouts."""

from __future__ import annotations

import io
import json
import threading
import urllib.error
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from ohm.banking import refunds
from ohm.banking.models import Refund
from ohm.core import clock
from ohm.core.models import AuditEvent
from ohm.ledger.models import JournalEntry
from ohm.payments import cards
from ohm.payments import operations as payment_operations
from ohm.payments.adapters.http import HttpProcessor
from ohm.payments.adapters.processor import ChargeStatus, parse_settlement
from ohm.payments.adapters.server import make_app
from ohm.payments.adapters.simulator import SimulatedProcessor
from ohm.payments.models import Payment, SimulatedCardCharge, SimulatedCardRefund
from ohm.workqueue.models import WorkItem
from tests.banking.conftest import balance, bill, books_clean, gl
from tests.factories import SYSTEM, make_account

AT = datetime(2026, 4, 20, 17, 0, tzinfo=UTC)  # 10:00 Pacific, April 20
PAID_AT = datetime(2026, 4, 16, 17, 0, tzinfo=UTC)  # four days before: not yet "cleared"


@pytest.fixture
def processor():
    return SimulatedProcessor(secret="s", at=lambda: PAID_AT)


def pay_by_card(account, processor, cents=180_00, *, token="tok_visa", key="portal-1"):
    payment = cards.take_card_payment(
        account_id=account.pk,
        amount_cents=cents,
        token=token,
        channel="portal",
        idempotency_key=key,
        received_at=PAID_AT,
        effective_date=PAID_AT.date(),
        actor=SYSTEM,
        processor=processor,
    )
    assert payment.status == Payment.Status.POSTED
    return payment


@pytest.fixture
def card_credit(db, processor):
    """Billed $100.00, paid $180.00 by Visa on April 16: $80.00 in credit."""
    account = make_account()
    bill(account, 100_00, key="bill", on=date(2026, 4, 1), due=date(2026, 4, 21))
    return account, pay_by_card(account, processor)


@pytest.fixture
def csr(make_staff):
    return make_staff("csr", "casey")


@pytest.fixture
def lead(make_staff):
    return make_staff("lead_csr", "lee")


@pytest.fixture
def supervisor(make_staff):
    return make_staff("supervisor", "sam")


def ask(account, actor, payment, cents=80_00, *, key="r1", method="card"):
    return refunds.request_refund(
        account=account, amount_cents=cents, reason="overpayment", method=method,
        actor=actor, at=AT, idempotency_key=key, payment=payment,
    )  # fmt: skip


class TestGuards:
    def test_the_card_payment_itself_is_not_held_back_as_uncleared(self, card_credit, supervisor):
        account, payment = card_credit

        with pytest.raises(ValidationError, match="not yet cleared"):
            ask(account, supervisor, None, method="check")
        refund = ask(account, supervisor, payment, key="r2")

        assert refund.status == Refund.Status.APPROVED
        assert refund.payment == payment

    def test_no_more_than_the_payment_left_to_refund(self, db, processor, supervisor):
        account = make_account()
        bill(account, 10_00, key="bill", on=date(2026, 4, 1))
        small = pay_by_card(account, processor, 30_00, key="p1")
        payment_operations.post_payment(
            account_id=account.pk, amount_cents=50_00, tender="cash", channel="pay_agent",
            idempotency_key="cash-1", received_at=PAID_AT, effective_date=PAID_AT.date(),
            actor=SYSTEM,
        )  # fmt: skip
        ask(account, supervisor, small, 20_00, key="r1")

        with pytest.raises(ValidationError, match=r"At most \$10.00 can go back to the card"):
            ask(account, supervisor, small, 10_01, key="r2")
        assert ask(account, supervisor, small, 10_00, key="r3").status == "approved"

    def test_no_more_than_the_credit(self, card_credit, supervisor):
        account, payment = card_credit

        with pytest.raises(ValidationError, match=r"At most \$80.00 can be refunded"):
            ask(account, supervisor, payment, 80_01)

    def test_only_a_captured_card_payment_of_the_account(self, card_credit, supervisor, processor):
        account, _payment = card_credit
        other = make_account()
        elsewhere = pay_by_card(other, processor, 5_00, key="other")
        cash = payment_operations.post_payment(
            account_id=account.pk, amount_cents=1_00, tender="cash", channel="pay_agent",
            idempotency_key="cash-1", received_at=PAID_AT, effective_date=PAID_AT.date(),
            actor=SYSTEM,
        )  # fmt: skip

        with pytest.raises(ValidationError, match="choose the payment"):
            ask(account, supervisor, None)
        with pytest.raises(ValidationError, match="not on account"):
            ask(account, supervisor, elsewhere, 5_00)
        with pytest.raises(ValidationError, match="not made by card"):
            ask(account, supervisor, cash, 1_00)
        assert Refund.objects.count() == 0


class TestIssue:
    def test_a_refund_within_the_limit_goes_back_to_the_card_once(
        self, card_credit, supervisor, processor
    ):
        account, payment = card_credit
        refund = ask(account, supervisor, payment)

        issued = refunds.issue_card_refund(
            refund=refund, actor=supervisor, at=AT, processor=processor
        )
        again = refunds.issue_card_refund(
            refund=refund, actor=supervisor, at=AT, processor=processor
        )

        assert issued.status == again.status == Refund.Status.ISSUED
        assert issued.processor_ref.startswith("re_sim_")
        charge = SimulatedCardCharge.objects.get(processor_ref=payment.processor_ref)
        assert (charge.status, charge.refunded_cents) == (ChargeStatus.REFUNDED, 80_00)
        assert SimulatedCardRefund.objects.count() == 1
        assert balance(account) == 0
        assert gl("refunds_payable") == 0
        assert gl("cash_card") == 180_00 - 80_00
        assert issued.issue_entry.kind == "refund_issued"
        assert books_clean()
        events = set(
            AuditEvent.objects.filter(account_id=account.pk).values_list("event", flat=True)
        )
        assert {
            "banking.refund.requested",
            "banking.refund.approved",
            "banking.refund.issued",
        } <= events

    def test_above_the_limit_it_waits_for_a_checker_then_goes_to_the_card(
        self, card_credit, csr, lead, processor
    ):
        account, payment = card_credit
        refund = ask(account, csr, payment)
        assert refund.status == Refund.Status.PENDING
        assert WorkItem.objects.filter(category__code="refund_approval").count() == 1
        with pytest.raises(ValidationError, match="approved card refunds"):
            refunds.issue_card_refund(refund=refund, actor=csr, at=AT, processor=processor)

        refunds.approve_refund(refund=refund, actor=lead, at=AT)
        issued = refunds.issue_card_refund(refund=refund, actor=lead, at=AT, processor=processor)

        assert issued.status == Refund.Status.ISSUED
        assert issued.checker == lead
        assert balance(account) == 0
        assert books_clean()

    def test_a_lost_answer_leaves_it_approved_and_the_janitor_finishes_it_once(
        self, db, processor, supervisor
    ):
        account = make_account()
        bill(account, 100_00, key="bill", on=date(2026, 4, 1))
        payment = pay_by_card(account, processor, token="tok_refund_timeout")
        refund = ask(account, supervisor, payment)

        waiting = refunds.issue_card_refund(
            refund=refund, actor=supervisor, at=AT, processor=processor
        )
        assert waiting.status == Refund.Status.APPROVED
        assert "asking again is safe" in waiting.processor_message
        assert balance(account) == 100_00 - 180_00 + 80_00  # the credit sits in refunds payable
        assert gl("refunds_payable") == -80_00

        looked_at = refunds.resolve_card_refunds(
            actor=SYSTEM, at=AT + timedelta(minutes=5), processor=processor
        )

        assert [r.status for r in looked_at] == [Refund.Status.ISSUED]
        charge = SimulatedCardCharge.objects.get(processor_ref=payment.processor_ref)
        assert charge.refunded_cents == 80_00
        assert SimulatedCardRefund.objects.count() == 1
        assert gl("refunds_payable") == 0
        assert AuditEvent.objects.filter(event="banking.refund.card_unanswered").count() == 1
        assert books_clean()

    def test_a_refused_card_refund_becomes_a_check_to_the_mailing_address(
        self, card_credit, supervisor, processor
    ):
        account, payment = card_credit
        refund = ask(account, supervisor, payment)
        SimulatedCardCharge.objects.filter(processor_ref=payment.processor_ref).update(
            status=ChargeStatus.VOIDED
        )

        refused = refunds.issue_card_refund(
            refund=refund, actor=supervisor, at=AT, processor=processor
        )

        assert (refused.status, refused.method) == (Refund.Status.APPROVED, Refund.Method.CHECK)
        assert "refused" in refused.processor_message
        assert refused.issue_entry is None
        assert AuditEvent.objects.filter(event="banking.refund.card_refused").count() == 1
        check = refunds.issue_check(refund=refused, actor=supervisor, at=AT)
        assert check.amount_cents == 80_00
        assert books_clean()

    def test_a_check_refund_is_not_sent_to_a_card(self, card_credit, supervisor, processor):
        account, payment = card_credit
        Payment.objects.filter(pk=payment.pk).update(effective_date=date(2026, 3, 1))
        refund = ask(account, supervisor, None, method="check")

        with pytest.raises(ValidationError, match="only approved card refunds"):
            refunds.issue_card_refund(refund=refund, actor=supervisor, at=AT, processor=processor)


class TestSettlement:
    def test_the_refund_settles_on_its_own_day_and_reconciles(self, card_credit, supervisor):
        account, payment = card_credit
        refund = ask(account, supervisor, payment)
        on_refund_day = SimulatedProcessor(secret="s", at=lambda: AT)
        refunds.issue_card_refund(refund=refund, actor=supervisor, at=AT, processor=on_refund_day)

        rows = parse_settlement(on_refund_day.settlement_file(day=date(2026, 4, 20)).encode())
        report = cards.reconcile_settlement(
            content=on_refund_day.settlement_file(day=date(2026, 4, 20)).encode()
        )

        assert [(r.kind, r.amount_cents, r.idempotency_key) for r in rows] == [
            ("refund", -80_00, refunds.card_refund_key(refund))
        ]
        assert report.refunds_cents == 80_00


def _loopback(app):
    """``urlopen`` answered by the processor's WSGI app in this process: the HTTP adapter's
    requests and the server's routing, without a socket."""

    def urlopen(request, timeout=None):
        body = request.data or b""
        environ = {
            "REQUEST_METHOD": request.get_method(),
            "PATH_INFO": request.selector.split("?")[0],
            "QUERY_STRING": request.selector.partition("?")[2],
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
        }
        for name, value in request.header_items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        status = {}
        chunks = app(environ, lambda s, headers: status.setdefault("line", s))
        code = int(status["line"].split()[0])
        data = b"".join(chunks)
        if code >= 400:
            raise urllib.error.HTTPError(
                request.full_url, code, status["line"], {}, io.BytesIO(data)
            )
        return io.BytesIO(data)

    return urlopen


class TestThroughTheHttpProcessor:
    def test_the_refund_goes_through_the_api_once(self, card_credit, supervisor, monkeypatch):
        account, payment = card_credit
        simulator = SimulatedProcessor(secret="s", at=lambda: AT)
        monkeypatch.setattr(
            "ohm.payments.adapters.http.urllib.request.urlopen",
            _loopback(make_app(simulator, api_key="k")),
        )
        http = HttpProcessor(base_url="https://processor.test", api_key="k", webhook_secret="s")
        refund = ask(account, supervisor, payment)

        issued = refunds.issue_card_refund(refund=refund, actor=supervisor, at=AT, processor=http)
        answered = http.lookup(idempotency_key=refunds.card_refund_key(refund))
        replayed = http.refund(
            processor_ref=payment.processor_ref,
            amount_cents=80_00,
            idempotency_key=refunds.card_refund_key(refund),
        )

        assert issued.status == Refund.Status.ISSUED
        assert answered.status == replayed.status == ChargeStatus.REFUNDED
        assert replayed.processor_ref == issued.processor_ref
        assert (
            SimulatedCardCharge.objects.get(processor_ref=payment.processor_ref).refunded_cents
            == 80_00
        )
        assert json.loads(json.dumps(answered.amount_cents)) == 80_00
        assert books_clean()


class TestConsole:
    @pytest.fixture(autouse=True)
    def frozen(self):
        with clock.frozen_at(AT):
            yield

    def test_from_the_payment_to_a_refund_on_the_card(self, client, card_credit, supervisor):
        account, payment = card_credit
        client.force_login(supervisor)

        detail = client.get(f"/console/payments/{payment.pk}/").content.decode()
        form = client.get(
            f"/console/accounts/{account.number}/refund/?payment={payment.pk}"
        ).content.decode()
        response = client.post(
            f"/console/accounts/{account.number}/refund/?payment={payment.pk}",
            {"idempotency_key": "console:card-1", "amount": "80.00", "reason": "overpayment",
             "method": "card", "payment": str(payment.pk), "memo": ""},
            follow=True,
        )  # fmt: skip

        assert f"/console/accounts/{account.number}/refund/?payment={payment.pk}" in detail
        assert "Visa •••• 4242" in form
        refund = Refund.objects.get()
        assert (refund.method, refund.status, refund.payment_id) == ("card", "issued", payment.pk)
        assert "back to Visa •••• 4242" in response.content.decode()
        assert balance(account) == 0


class TestSchedule:
    def test_the_card_janitor_finishes_a_refund_whose_answer_was_lost(
        self, db, processor, supervisor
    ):
        from ohm.batch import schedule

        account = make_account()
        bill(account, 100_00, key="bill", on=date(2026, 4, 1))
        payment = pay_by_card(account, processor, token="tok_refund_timeout")
        refund = ask(account, supervisor, payment)
        refunds.issue_card_refund(refund=refund, actor=supervisor, at=AT, processor=processor)

        said = schedule._card_janitor(AT + timedelta(minutes=10))

        assert "1 of 1 card refunds given back" in said
        refund.refresh_from_db()
        assert refund.status == Refund.Status.ISSUED
        assert SimulatedCardRefund.objects.get().amount_cents == 80_00
        assert books_clean()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL (SQLite has one)"
)
class TestConcurrentIssue:
    def test_five_clicks_at_once_give_the_money_back_once(self, make_staff):
        processor = SimulatedProcessor(secret="s", at=lambda: PAID_AT)
        supervisor = make_staff("supervisor", "sam")
        account = make_account()
        bill(account, 100_00, key="bill", on=date(2026, 4, 1))
        refund = ask(account, supervisor, pay_by_card(account, processor), 180_00 - 100_00)
        barrier = threading.Barrier(5)
        results: list = [None] * 5

        def click(index: int) -> None:
            try:
                barrier.wait()
                results[index] = refunds.issue_card_refund(
                    refund=refund, actor=supervisor, at=AT, processor=processor
                ).status
            except Exception as exc:  # collected and asserted below
                results[index] = exc
            finally:
                connections.close_all()

        threads = [threading.Thread(target=click, args=(i,)) for i in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert results == [Refund.Status.ISSUED] * 5, results
        assert SimulatedCardRefund.objects.count() == 1
        assert JournalEntry.objects.filter(kind="refund_issued").count() == 1
        refund.refresh_from_db()
        assert refund.method == Refund.Method.CARD
        assert balance(account) == 0
        assert books_clean()
