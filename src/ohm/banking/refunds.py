"""Refunds of credit balances (overpayment, final bill, deposit return) by check, ACH credit
or back to the card that paid.

Guards, checked when a refund is asked for and again when it is approved:

- no more than the available credit: the credit balance, less payments not yet cleared
  (younger than ``uncleared_days``; cash excepted) and less refunds already pending;
- to the original payment method or the mailing address of record: an ACH refund goes
  only to the autopay bank account that has paid the account; a card refund only to the
  card of a card payment on the account, at most what that payment left to refund; a check
  goes to the main customer at the account's mailing address, as it stands at the request;
- a cooling-off period (``cooling_off_days``) after the bank details or the mailing
  address change.

Within the maker's refund limit (``ohm.core.permissions``) a refund is approved at once;
above it, it waits for a different person whose limit covers it. Ledger: approval posts
receivables DR / refunds payable CR; issue (check printed, ACH file released, or the card
processor's refund confirmed) posts refunds payable DR / cash CR.

A card refund is issued by ``issue_card_refund`` after approval, outside any transaction:
the processor is asked to refund the payment's charge under the key ``ohm-refund-<id>``, so
asking again after a timeout (a person's retry, ``resolve_card_refunds``) never gives the
money back twice; only the processor's confirmation posts the issue entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Sum

from ohm.banking import policies
from ohm.banking.models import AchEntry, AutopayEnrolment, Refund, RefundCheck
from ohm.core import audit
from ohm.core.localtime import localdate
from ohm.core.models import AuditEvent
from ohm.core.money import format_cents
from ohm.core.permissions import limit_cents
from ohm.customers import queries as customer_queries
from ohm.customers.models import Account
from ohm.ledger import operations as ledger
from ohm.ledger import queries as ledger_queries
from ohm.ledger.models import JournalEntry
from ohm.ledger.operations import EntrySpec, LineSpec
from ohm.payments import cards
from ohm.payments.adapters.processor import ChargeStatus, ProcessorRefused, ProcessorTimeout
from ohm.payments.models import Payment, Tender
from ohm.workqueue import operations as workqueue
from ohm.workqueue.models import WorkItem

AR = ledger.RECEIVABLES
ADDRESS_FIELDS = {"address_line1", "address_line2", "city", "state", "postal_code"}


@dataclass(frozen=True)
class AvailableCredit:
    credit_cents: int  # the credit balance (positive), 0 when the customer owes
    uncleared_cents: int  # payments not yet cleared
    pending_cents: int  # refunds asked for and not yet approved
    available_cents: int


def available_credit(
    *,
    account: Account,
    as_of: date,
    excluding: Refund | None = None,
    card_payment: Payment | None = None,
) -> AvailableCredit:
    """``card_payment``: a refund goes back to this payment's card, so the payment does not
    count as uncleared (the money returns where it came from)."""
    balance = ledger_queries.get_balance_cents(account_id=account.pk, as_of=as_of)
    credit = max(-balance, 0)
    since = as_of - timedelta(days=int(policies.setting("uncleared_days")))
    young = Payment.objects.filter(
        account_id=account.pk,
        status=Payment.Status.POSTED,
        effective_date__gt=since,
        effective_date__lte=as_of,
    ).exclude(tender=Tender.CASH)
    if card_payment is not None:
        young = young.exclude(pk=card_payment.pk)
    uncleared = young.aggregate(t=Sum("amount_cents"))["t"] or 0
    pending = Refund.objects.filter(account_id=account.pk, status=Refund.Status.PENDING)
    if excluding is not None:
        pending = pending.exclude(pk=excluding.pk)
    pending_cents = pending.aggregate(t=Sum("amount_cents"))["t"] or 0
    return AvailableCredit(
        credit, int(uncleared), int(pending_cents), max(credit - uncleared - pending_cents, 0)
    )


def _cooling_off(at: datetime) -> datetime:
    return at - timedelta(days=int(policies.setting("cooling_off_days")))


def address_changed_at(*, account: Account, since: datetime) -> datetime | None:
    """When the mailing address last changed after ``since`` (from the audit trail)."""
    events = AuditEvent.objects.filter(
        account_id=account.pk, event="customers.account.updated", occurred_at__gt=since
    ).order_by("-occurred_at")
    for event in events:
        if ADDRESS_FIELDS & set((event.after or {}).keys()):
            return event.occurred_at
    return None


def _refund_enrolment(account: Account, at: datetime) -> AutopayEnrolment:
    enrolment = (
        AutopayEnrolment.objects.filter(account=account)
        .exclude(status=AutopayEnrolment.Status.CANCELLED)
        .first()
    )
    if enrolment is None or enrolment.status != AutopayEnrolment.Status.ACTIVE:
        raise ValidationError(
            {"method": "An ACH refund goes back to an active autopay bank account; this "
             "account has none. Refund by check to the mailing address."}
        )  # fmt: skip
    if enrolment.bank_changed_at > _cooling_off(at):
        until = enrolment.bank_changed_at + timedelta(
            days=int(policies.setting("cooling_off_days"))
        )
        raise ValidationError(
            {"method": f"The bank details changed on {localdate(enrolment.bank_changed_at)}: "
             f"no refund to them before {localdate(until)}."}
        )  # fmt: skip
    paid = AchEntry.objects.filter(
        enrolment=enrolment,
        kind=AchEntry.Kind.DEBIT,
        status=AchEntry.Status.SENT,
        routing_number=enrolment.routing_number,
        account_last4=enrolment.account_last4,
    ).exists()
    if not paid:
        raise ValidationError(
            {"method": "No payment has come from this bank account yet: refund to the original "
             "payment method, or by check to the mailing address."}
        )  # fmt: skip
    return enrolment


def refundable_to_card_cents(*, payment: Payment, excluding: Refund | None = None) -> int:
    """What is left to give back to a card payment's card: its amount less the card refunds
    of it asked for, approved or issued."""
    taken = Refund.objects.filter(payment=payment, method=Refund.Method.CARD).exclude(
        status__in=[Refund.Status.REJECTED, Refund.Status.CANCELLED]
    )
    if excluding is not None:
        taken = taken.exclude(pk=excluding.pk)
    return payment.amount_cents - int(taken.aggregate(t=Sum("amount_cents"))["t"] or 0)


def list_card_payments(*, account: Account) -> list[Payment]:
    """The account's card payments a refund can go back to (captured, in the books)."""
    return list(
        Payment.objects.filter(
            account_id=account.pk, tender=Tender.CARD, status=Payment.Status.POSTED
        )
        .exclude(processor_ref="")
        .order_by("-received_at", "-id")[:50]
    )


def _card_payment(account: Account, payment: Payment | None, amount_cents: int, excluding):
    if payment is None:
        raise ValidationError(
            {"payment": "A card refund goes back to a card payment: choose the payment."}
        )
    payment = Payment.objects.filter(pk=payment.pk).first()
    if payment is None or payment.account_id != account.pk:
        raise ValidationError(
            {"payment": f"That payment is not on account {account.number}: a card refund goes "
             "back only to a card that paid this account."}
        )  # fmt: skip
    if payment.tender != Tender.CARD or not payment.processor_ref:
        raise ValidationError(
            {"payment": f"Payment {payment.pk} was not made by card: refund it by check or ACH."}
        )
    if payment.status != Payment.Status.POSTED:
        raise ValidationError(
            {"payment": f"Payment {payment.pk} is {payment.get_status_display().lower()}: "
             "there is nothing to give back to its card."}
        )  # fmt: skip
    left = refundable_to_card_cents(payment=payment, excluding=excluding)
    if amount_cents > left:
        raise ValidationError(
            {"amount_cents": f"At most {format_cents(left)} can go back to the card of payment "
             f"{payment.pk} ({format_cents(payment.amount_cents)}, less its other refunds); "
             f"{format_cents(amount_cents)} is more."}
        )  # fmt: skip
    return payment


def _check_guards(
    *,
    account: Account,
    amount_cents: int,
    method: str,
    at: datetime,
    excluding: Refund | None = None,
    payment: Payment | None = None,
) -> tuple[AvailableCredit, AutopayEnrolment | None, Payment | None]:
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) or amount_cents <= 0:
        raise ValidationError({"amount_cents": "A refund is a whole number of cents above zero."})
    if method not in Refund.Method.values:
        raise ValidationError({"method": f"“{method}” is not check, ach or card."})
    card = (
        _card_payment(account, payment, amount_cents, excluding)
        if method == Refund.Method.CARD
        else None
    )
    credit = available_credit(
        account=account, as_of=localdate(at), excluding=excluding, card_payment=card
    )
    if amount_cents > credit.available_cents:
        detail = f"credit {format_cents(credit.credit_cents)}"
        if credit.uncleared_cents:
            detail += f", less {format_cents(credit.uncleared_cents)} of payments not yet cleared"
        if credit.pending_cents:
            detail += f", less {format_cents(credit.pending_cents)} of refunds pending"
        raise ValidationError(
            {"amount_cents": f"At most {format_cents(credit.available_cents)} can be refunded "
             f"({detail}); {format_cents(amount_cents)} is more."}
        )  # fmt: skip
    changed = address_changed_at(account=account, since=_cooling_off(at))
    if method == Refund.Method.CHECK and changed is not None:
        raise ValidationError(
            {"method": f"The mailing address changed on {localdate(changed)}: a refund check "
             f"waits {policies.setting('cooling_off_days')} days after an address change."}
        )  # fmt: skip
    enrolment = _refund_enrolment(account, at) if method == Refund.Method.ACH else None
    return credit, enrolment, card


def _is_person(actor) -> bool:
    return getattr(actor, "pk", None) is not None


def _post_approval(refund: Refund, *, actor, at: datetime) -> JournalEntry:
    effective = localdate(at)
    return ledger.post_entry(
        EntrySpec(
            kind="refund",
            effective_date=effective,
            idempotency_key=f"refund:{refund.pk}:approved",
            description=f"Refund {refund.pk}: {refund.get_reason_display()} by {refund.method}",
            reason_code=f"refund_{refund.reason}",
            source=f"refund:{refund.pk}",
            lines=[
                # The credit leaves the account: a debit to receivables, due at once.
                LineSpec(AR, refund.amount_cents, account_id=refund.account_id, due_date=effective, memo=f"refund {refund.pk}"),
                LineSpec(policies.REFUNDS_PAYABLE_ROLE, -refund.amount_cents, memo=f"refund {refund.pk}"),
            ],
        ),
        actor=actor,
        at=at,
    )  # fmt: skip


def _approve(refund: Refund, *, actor, at: datetime, note: str = "") -> Refund:
    entry = _post_approval(refund, actor=actor, at=at)
    refund.status = Refund.Status.APPROVED
    refund.checker = actor if _is_person(actor) else None
    refund.decided_at, refund.decision_note = at, note.strip()[:500]
    refund.approval_entry = entry
    refund.save(
        update_fields=["status", "checker", "decided_at", "decision_note", "approval_entry"]
    )
    audit.record(
        "banking.refund.approved",
        subject=refund,
        actor=actor,
        at=at,
        account_id=refund.account_id,
        before={"status": "pending"},
        after={"status": "approved", "entry": entry.pk, "amount_cents": refund.amount_cents},
        reason=refund.decision_note,
    )
    return refund


@transaction.atomic
def request_refund(
    *,
    account: Account,
    amount_cents: int,
    reason: str,
    method: str,
    actor,
    at: datetime,
    idempotency_key: str,
    memo: str = "",
    payment: Payment | None = None,
) -> Refund:
    """Ask for a refund; approved at once within the maker's refund limit, else pending.
    A card refund (``method="card"``) names the card ``payment`` whose card gets the money;
    once approved, ``issue_card_refund`` gives it back through the processor.

    :raises ValidationError: more than the available credit, a method the guards refuse,
        a cooling-off period not yet over, an unknown reason; for a card, a payment that is
        not a captured card payment of the account, or more than it left to refund.
    """
    key = (idempotency_key or "").strip()
    if not key:
        raise ValidationError({"idempotency_key": "Every refund needs an idempotency key."})
    existing = Refund.objects.filter(idempotency_key=key).first()
    if existing is not None:
        existing.replayed = True  # type: ignore[attr-defined]
        return existing
    if not _is_person(actor):
        raise ValidationError({"maker": "A person asks for a refund."})
    if reason not in Refund.Reason.values:
        raise ValidationError({"reason": f"“{reason}” is not a refund reason."})
    account = Account.objects.select_for_update().get(pk=account.pk)
    _, enrolment, card = _check_guards(
        account=account, amount_cents=amount_cents, method=method, at=at, payment=payment
    )
    person = customer_queries.get_main_person(account=account)
    payee = person.display_name if person is not None else account.number
    refund = Refund.objects.create(
        account=account,
        amount_cents=amount_cents,
        reason=reason,
        method=method,
        memo=memo.strip()[:200],
        payee_name=payee[:120],
        payee_address="\n".join(account.mailing_lines),
        enrolment=enrolment,
        payment=card,
        idempotency_key=key,
        maker=actor,
        made_at=at,
    )
    audit.record(
        "banking.refund.requested",
        subject=refund,
        actor=actor,
        at=at,
        account_id=account.pk,
        after={
            "amount_cents": amount_cents,
            "reason": reason,
            "method": method,
            **({"payment": card.pk, "card": card.tender_detail} if card else {}),
        },
        reason=memo,
    )
    limit = limit_cents(actor, "refund")
    if amount_cents <= limit:
        _approve(refund, actor=actor, at=at, note="Within the maker's refund limit.")
    else:
        refund.work_item = workqueue.raise_work_item(
            category_code=policies.REFUND_APPROVAL_CATEGORY,
            title=f"Approve refund {refund.pk}: {format_cents(amount_cents)} by {method} "
            f"on {account.number}",
            description=f"{actor.username} asked for it; it is above their "
            f"{format_cents(limit)} refund limit.",
            subject=refund,
            account_id=account.pk,
            account_number=account.number,
            actor=actor,
            at=at,
        )
        refund.save(update_fields=["work_item"])
    refund.replayed = False  # type: ignore[attr-defined]
    return refund


def _lock(refund: Refund) -> Refund:
    return (
        Refund.objects.select_for_update(of=("self",))
        .select_related("account", "payment")
        .get(pk=refund.pk)
    )


def _check_checker(refund: Refund, actor, verb: str) -> None:
    if refund.status != Refund.Status.PENDING:
        raise ValidationError(
            {"status": f"Refund {refund.pk} is {refund.get_status_display().lower()}."}
        )
    if not _is_person(actor):
        raise ValidationError({"checker": f"A person must {verb} a refund."})
    if actor.pk == refund.maker_id:
        raise ValidationError(
            {"checker": f"You asked for refund {refund.pk}: a different person must {verb} it."}
        )
    limit = limit_cents(actor, "refund")
    if refund.amount_cents > limit:
        raise ValidationError(
            {"checker": f"{format_cents(refund.amount_cents)} is above your {format_cents(limit)} "
             f"refund limit: someone with a higher limit must {verb} it."}
        )  # fmt: skip


def _close_item(refund: Refund, *, status: str, resolution: str, actor, at: datetime) -> None:
    if refund.work_item_id is None:
        return
    item = WorkItem.objects.get(pk=refund.work_item_id)
    if not item.is_closed:
        workqueue.set_work_status(
            item=item, status=status, resolution=resolution, actor=actor, at=at
        )


@transaction.atomic
def approve_refund(*, refund: Refund, actor, at: datetime, note: str = "") -> Refund:
    """A different person within their limit approves; the guards run again as of now."""
    refund = _lock(refund)
    _check_checker(refund, actor, "approve")
    _check_guards(
        account=refund.account,
        amount_cents=refund.amount_cents,
        method=refund.method,
        at=at,
        excluding=refund,
        payment=refund.payment,
    )
    _approve(refund, actor=actor, at=at, note=note)
    _close_item(
        refund,
        status=WorkItem.Status.DONE,
        resolution=f"Approved by {actor.username}.",
        actor=actor,
        at=at,
    )
    return refund


@transaction.atomic
def reject_refund(*, refund: Refund, actor, at: datetime, note: str) -> Refund:
    refund = _lock(refund)
    _check_checker(refund, actor, "reject")
    if not (note or "").strip():
        raise ValidationError({"note": "Say why the refund is rejected."})
    refund.status = Refund.Status.REJECTED
    refund.checker, refund.decided_at, refund.decision_note = actor, at, note.strip()[:500]
    refund.save(update_fields=["status", "checker", "decided_at", "decision_note"])
    _close_item(
        refund,
        status=WorkItem.Status.DONE,
        resolution=f"Rejected by {actor.username}: {note}",
        actor=actor,
        at=at,
    )
    audit.record(
        "banking.refund.rejected", subject=refund, actor=actor, at=at, account_id=refund.account_id,
        before={"status": "pending"}, after={"status": "rejected"}, reason=note,
    )  # fmt: skip
    return refund


@transaction.atomic
def cancel_refund(*, refund: Refund, actor, at: datetime, note: str = "") -> Refund:
    """The maker withdraws a pending refund; nothing posts."""
    refund = _lock(refund)
    if refund.status != Refund.Status.PENDING:
        raise ValidationError(
            {"status": f"Refund {refund.pk} is {refund.get_status_display().lower()}."}
        )
    if getattr(actor, "pk", None) != refund.maker_id:
        raise ValidationError({"maker": "Only the person who asked for a refund can cancel it."})
    refund.status = Refund.Status.CANCELLED
    refund.decided_at, refund.decision_note = at, (note or "").strip()[:500]
    refund.save(update_fields=["status", "decided_at", "decision_note"])
    _close_item(
        refund,
        status=WorkItem.Status.CANCELLED,
        resolution=f"Cancelled by {actor.username}.",
        actor=actor,
        at=at,
    )
    audit.record(
        "banking.refund.cancelled", subject=refund, actor=actor, at=at, account_id=refund.account_id,
        before={"status": "pending"}, after={"status": "cancelled"}, reason=refund.decision_note,
    )  # fmt: skip
    return refund


def mark_issued(
    *, refund: Refund, cash_role: str, effective_date: date, actor, at: datetime, detail: str
) -> Refund:
    """Post refunds payable DR / cash CR and mark the refund issued (check or ACH release)."""
    refund = _lock(refund)
    if refund.status != Refund.Status.APPROVED:
        raise ValidationError(
            {
                "status": f"Refund {refund.pk} is {refund.get_status_display().lower()}: only approved refunds are issued."
            }
        )
    entry = ledger.post_entry(
        EntrySpec(
            kind="refund_issued",
            effective_date=effective_date,
            idempotency_key=f"refund:{refund.pk}:issued:{detail}"[:200],
            description=f"Refund {refund.pk} issued: {detail}"[:200],
            reason_code="refund_issued",
            source=f"refund:{refund.pk}",
            lines=[
                LineSpec(policies.REFUNDS_PAYABLE_ROLE, refund.amount_cents, memo=detail),
                LineSpec(cash_role, -refund.amount_cents, memo=detail),
            ],
        ),
        actor=actor,
        at=at,
    )
    refund.status = Refund.Status.ISSUED
    refund.issue_entry, refund.issued_at = entry, at
    refund.save(update_fields=["status", "issue_entry", "issued_at"])
    audit.record(
        "banking.refund.issued", subject=refund, actor=actor, at=at, account_id=refund.account_id,
        before={"status": "approved"}, after={"status": "issued", "entry": entry.pk}, reason=detail,
    )  # fmt: skip
    return refund


def undo_issue(*, refund: Refund, effective_date: date, actor, at: datetime, reason: str) -> Refund:
    """The money came back (ACH credit returned, check voided): reverse the issue entry; the
    refund is approved again, to be reissued (by check) or cancelled by a person."""
    refund = _lock(refund)
    if refund.status != Refund.Status.ISSUED or refund.issue_entry is None:
        raise ValidationError({"status": f"Refund {refund.pk} is not issued."})
    ledger.reverse_entry(
        entry=refund.issue_entry, effective_date=effective_date, actor=actor, at=at, reason=reason
    )
    refund.status = Refund.Status.APPROVED
    refund.issue_entry, refund.issued_at = None, None
    if refund.method == Refund.Method.ACH:
        refund.method = Refund.Method.CHECK
    refund.save(update_fields=["status", "issue_entry", "issued_at", "method"])
    audit.record(
        "banking.refund.returned", subject=refund, actor=actor, at=at, account_id=refund.account_id,
        before={"status": "issued"}, after={"status": "approved", "method": refund.method}, reason=reason,
    )  # fmt: skip
    return refund


@transaction.atomic
def issue_check(*, refund: Refund, actor, at: datetime) -> RefundCheck:
    """Print the next check in the register for an approved check refund."""
    refund = _lock(refund)
    if refund.method != Refund.Method.CHECK:
        raise ValidationError({"method": "An ACH refund is issued by releasing the ACH file."})
    latest = RefundCheck.objects.aggregate(m=Max("number"))["m"]
    number = (latest + 1) if latest else int(policies.setting("first_check_number"))
    issue_date = localdate(at)
    mark_issued(
        refund=refund, cash_role=policies.CHECK_CASH_ROLE, effective_date=issue_date,
        actor=actor, at=at, detail=f"check {number}",
    )  # fmt: skip
    return RefundCheck.objects.create(
        number=number,
        refund=refund,
        payee_name=refund.payee_name,
        amount_cents=refund.amount_cents,
        issue_date=issue_date,
    )


@transaction.atomic
def void_check(*, check: RefundCheck, reason: str, actor, at: datetime) -> RefundCheck:
    """Void a check (lost, never cashed): the money goes back to refunds payable and the
    refund is approved again; the positive-pay file reports the void."""
    check = RefundCheck.objects.select_for_update().get(pk=check.pk)
    if check.status == RefundCheck.Status.VOID:
        raise ValidationError({"status": f"Check {check.number} is void already."})
    if not reason.strip():
        raise ValidationError({"reason": "Say why the check is void."})
    undo_issue(
        refund=check.refund,
        effective_date=localdate(at),
        actor=actor,
        at=at,
        reason=f"check {check.number} void: {reason}",
    )
    check.status, check.void_reason, check.voided_at = RefundCheck.Status.VOID, reason[:200], at
    check.save(update_fields=["status", "void_reason", "voided_at"])
    # The void row stays in the register; reissuing prints a new check number.
    return check


POSITIVE_PAY_COLUMNS = ["account_number", "check_number", "issue_date", "amount", "payee", "void"]


def positive_pay_csv(*, issue_date: date) -> str:
    """The positive-pay file for one day: every check issued or voided that day (CSV,
    columns in ``POSITIVE_PAY_COLUMNS``; amount in dollars with two decimals; void Y/N)."""
    import csv
    import io

    account = policies.setting("disbursement_account")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(POSITIVE_PAY_COLUMNS)
    checks = RefundCheck.objects.filter(issue_date=issue_date).order_by("number")
    voided = RefundCheck.objects.filter(voided_at__isnull=False).order_by("number")
    rows = list(checks) + [
        c
        for c in voided
        if c.voided_at is not None
        and localdate(c.voided_at) == issue_date
        and c.issue_date != issue_date
    ]
    for check in rows:
        void = (
            check.status == RefundCheck.Status.VOID
            and check.voided_at is not None
            and localdate(check.voided_at) == issue_date
        )
        writer.writerow(
            [account, check.number, check.issue_date.isoformat(),
             f"{check.amount_cents // 100}.{check.amount_cents % 100:02d}", check.payee_name, "Y" if void else "N"]
        )  # fmt: skip
    return out.getvalue()


# Card refunds ------------------------------------------------------------------------------------


def card_refund_key(refund: Refund) -> str:
    """The processor idempotency key of a card refund: the same refund is asked for under the
    same key however often Ohm retries, so the card is credited once."""
    return f"ohm-refund-{refund.pk}"


def _note_processor(refund: Refund, message: str, *, event: str, actor, at: datetime) -> Refund:
    with transaction.atomic():
        refund = _lock(refund)
        refund.processor_message = message[:200]
        refund.save(update_fields=["processor_message"])
        audit.record(
            event,
            subject=refund,
            actor=actor,
            at=at,
            account_id=refund.account_id,
            after={"message": refund.processor_message},
        )
    return refund


def issue_card_refund(*, refund: Refund, actor, at: datetime, processor=None) -> Refund:
    """Give an approved card refund back to the card through the processor, then post the
    issue (refunds payable DR / card cash clearing CR). Called outside any transaction: the
    processor is a remote system.

    Returns the refund: ISSUED when the processor confirmed; still APPROVED with the
    processor's message when it did not answer (call again: the key ``ohm-refund-<id>``
    makes the retry safe); APPROVED as a check refund to the mailing address when the
    processor refused (the charge voided or disputed meanwhile), for a person to issue.

    :raises ValidationError: not a card refund, or not approved.
    """
    refund = Refund.objects.select_related("payment").get(pk=refund.pk)
    if refund.method == Refund.Method.CARD and refund.status == Refund.Status.ISSUED:
        return refund
    if refund.method != Refund.Method.CARD or refund.status != Refund.Status.APPROVED:
        raise ValidationError(
            {"status": f"Refund {refund.pk} is {refund.get_status_display().lower()} "
             f"{refund.get_method_display().lower()}: only approved card refunds go to a card."}
        )  # fmt: skip
    assert refund.payment is not None  # the card_refund_names_its_payment constraint
    processor = processor or cards.get_processor()
    try:
        result = processor.refund(
            processor_ref=refund.payment.processor_ref,
            amount_cents=refund.amount_cents,
            idempotency_key=card_refund_key(refund),
        )
    except ProcessorTimeout as exc:
        return _note_processor(
            refund,
            f"No answer from the card processor ({exc}); asking again is safe.",
            event="banking.refund.card_unanswered",
            actor=actor,
            at=at,
        )
    except ProcessorRefused as exc:
        return _card_refused(refund, str(exc), actor=actor, at=at)
    if result.status != ChargeStatus.REFUNDED:
        return _note_processor(
            refund,
            f"The card processor answered “{result.status}”; asking again is safe.",
            event="banking.refund.card_unanswered",
            actor=actor,
            at=at,
        )
    with transaction.atomic():
        locked = _lock(refund)
        if locked.status == Refund.Status.ISSUED:
            return locked  # another request finished it (the processor refunded once)
        mark_issued(
            refund=locked,
            cash_role=policies.CARD_CASH_ROLE,
            effective_date=localdate(at),
            actor=actor,
            at=at,
            detail=f"card refund {result.processor_ref} to {refund.payment.tender_detail}"[:120],
        )
        Refund.objects.filter(pk=refund.pk).update(
            processor_ref=result.processor_ref[:80], processor_message="refunded to the card"
        )
    return Refund.objects.select_related("payment").get(pk=refund.pk)


def _card_refused(refund: Refund, why: str, *, actor, at: datetime) -> Refund:
    """The processor will not refund the charge: the money is still owed to the customer, so
    the refund stays approved and turns into a check to the mailing address of record."""
    with transaction.atomic():
        refund = _lock(refund)
        if refund.status != Refund.Status.APPROVED or refund.method != Refund.Method.CARD:
            return refund
        refund.method = Refund.Method.CHECK
        refund.processor_message = f"The card processor refused: {why}"[:200]
        refund.save(update_fields=["method", "processor_message"])
        audit.record(
            "banking.refund.card_refused", subject=refund, actor=actor, at=at,
            account_id=refund.account_id, before={"method": "card"},
            after={"method": "check", "message": refund.processor_message}, reason=why,
        )  # fmt: skip
    return refund


def resolve_card_refunds(*, actor, at: datetime, processor=None) -> list[Refund]:
    """The janitor for card refunds: ask again for every approved card refund (one that
    timed out, or whose issue a crash interrupted). Returns the refunds it looked at."""
    done = []
    for refund in Refund.objects.filter(
        method=Refund.Method.CARD, status=Refund.Status.APPROVED
    ).order_by("pk"):
        done.append(issue_card_refund(refund=refund, actor=actor, at=at, processor=processor))
    return done
