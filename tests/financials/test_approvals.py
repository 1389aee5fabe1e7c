import pytest
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError

from ohm.core.models import AuditEvent
from ohm.core.permissions import role_group
from ohm.financials import operations, queries
from ohm.financials.models import FinancialRequest
from ohm.ledger.models import JournalEntry
from ohm.workqueue.models import WorkItem
from tests.factories import AT
from tests.financials.conftest import lines_of, writes
from tests.financials.test_operations import ON, adjust, write_off


@pytest.mark.django_db
class TestMakerChecker:
    def test_above_the_makers_limit_the_request_waits_in_the_approvals_queue(self, owing, csr):
        outcome = adjust(owing, csr, 60_00)

        assert outcome.pending
        assert outcome.entry is None
        assert not JournalEntry.objects.filter(kind="adjustment").exists()
        request = outcome.request
        assert (request.amount_cents, request.maker, request.status) == (60_00, csr, "pending")
        item = WorkItem.objects.get(pk=request.work_item_id)
        assert (item.category.code, item.team.name, item.account_id) == (
            "approval",
            "Lead CSR",
            owing.pk,
        )
        assert list(queries.list_pending_requests()) == [request]
        assert AuditEvent.objects.filter(event="financials.request.made").count() == 1

    def test_a_different_person_with_the_limit_approves_and_it_posts_once(self, owing, csr, lead):
        request = adjust(owing, csr, 60_00).request

        approved = operations.approve_request(request=request, actor=lead, at=AT, note="ok")

        entry = approved.journal_entry
        assert entry.idempotency_key == f"financial-request:{request.pk}"
        assert entry.source == f"approval:{request.pk}"
        assert lines_of(entry) == [("4190", 60_00, None), ("1100", -60_00, owing.pk)]
        assert (approved.status, approved.checker) == ("approved", lead)
        assert WorkItem.objects.get(pk=request.work_item_id).status == "done"
        assert AuditEvent.objects.filter(event="financials.request.approved").exists()
        assert queries.list_pending_requests().count() == 0

    def test_retrying_the_makers_key_returns_the_request(self, owing, csr, lead):
        request = adjust(owing, csr, 60_00).request
        before = writes()

        again = adjust(owing, csr, 60_00)

        assert again.replayed
        assert again.request.pk == request.pk
        assert again.entry is None
        assert writes() == before
        operations.approve_request(request=request, actor=lead, at=AT)
        assert adjust(owing, csr, 60_00).entry.idempotency_key == f"financial-request:{request.pk}"

    def test_the_maker_cannot_approve_their_own_request(self, owing, lead):
        request = adjust(owing, lead, 600_00).request
        before = writes()

        with pytest.raises(ValidationError) as refused:
            operations.approve_request(request=request, actor=lead, at=AT)

        assert "a different person" in refused.value.message_dict["checker"][0]
        assert writes() == before

    def test_approving_above_ones_own_limit_is_refused(self, owing, csr, make_staff):
        other_csr = make_staff("csr", "chris")
        request = adjust(owing, csr, 60_00).request
        before = writes()

        with pytest.raises(ValidationError) as refused:
            operations.approve_request(request=request, actor=other_csr, at=AT)

        assert "above your $50.00 limit" in refused.value.message_dict["checker"][0]
        assert writes() == before

    def test_a_request_is_decided_once(self, owing, csr, lead, supervisor):
        request = adjust(owing, csr, 60_00).request
        operations.approve_request(request=request, actor=lead, at=AT)
        before = writes()

        with pytest.raises(ValidationError) as refused:
            operations.approve_request(request=request, actor=supervisor, at=AT)

        assert "already approved" in refused.value.message_dict["status"][0]
        assert writes() == before

    def test_a_rejection_needs_a_reason_and_posts_nothing(self, owing, csr, lead):
        request = adjust(owing, csr, 60_00).request

        with pytest.raises(ValidationError) as refused:
            operations.reject_request(request=request, actor=lead, at=AT, note="")
        rejected = operations.reject_request(request=request, actor=lead, at=AT, note="No proof")

        assert "note" in refused.value.message_dict
        assert rejected.status == "rejected"
        assert rejected.journal_entry is None
        assert not JournalEntry.objects.filter(kind="adjustment").exists()
        assert WorkItem.objects.get(pk=request.work_item_id).status == "done"

    def test_the_maker_may_cancel_but_no_one_else(self, owing, csr, lead):
        request = adjust(owing, csr, 60_00).request

        with pytest.raises(ValidationError):
            operations.cancel_request(request=request, actor=lead, at=AT)
        cancelled = operations.cancel_request(request=request, actor=csr, at=AT)

        assert cancelled.status == "cancelled"
        assert WorkItem.objects.get(pk=request.work_item_id).status == "cancelled"

    def test_approval_checks_the_transaction_again(self, owing, csr, lead, supervisor):
        request = write_off(owing, lead, 150_00, key="wo:big").request
        write_off(owing, supervisor, 100_00, key="wo:other")

        with pytest.raises(ValidationError) as refused:
            operations.approve_request(request=request, actor=supervisor, at=AT)

        assert "more than the open balance" in refused.value.message_dict["amount_cents"][0]
        assert FinancialRequest.objects.get(pk=request.pk).status == "pending"

    def test_write_offs_use_the_write_off_limit(self, owing, lead, supervisor):
        outcome = write_off(owing, lead, 150_00)

        assert outcome.pending
        approved = operations.approve_request(request=outcome.request, actor=supervisor, at=AT)
        assert lines_of(approved.journal_entry)[0] == ("5200", 150_00, None)

    def test_transfers_use_the_adjust_limit(self, owing, csr):
        from tests.factories import make_account

        outcome = operations.transfer_balance(
            from_account=owing,
            to_account=make_account(),
            amount_cents=50_01,
            reason="move",
            effective_date=ON,
            actor=csr,
            at=AT,
            idempotency_key="x:1",
        )

        assert outcome.pending
        assert outcome.request.kind == "transfer"


@pytest.mark.django_db
class TestApprovalNeeded:
    def test_within_the_limit_it_posts_at_once(self, csr):
        need = queries.approval_needed(user=csr, kind="adjustment", amount_cents=50_00)

        assert not need.needed
        assert need.message == "Within your $50.00 limit: posts at once."

    def test_above_the_limit_it_names_the_roles_that_may_approve(self, csr):
        approve = Permission.objects.get(codename="approve_request")
        for slug in ("lead_csr", "supervisor"):
            role_group(slug).permissions.add(approve)
        role_group("collections").permissions.remove(approve)

        need = queries.approval_needed(user=csr, kind="adjustment", amount_cents=50_01)

        assert need.needed
        assert need.message == "Above your $50.00 limit: a lead CSR or a supervisor must approve."
