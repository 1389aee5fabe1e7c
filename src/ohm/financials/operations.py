"""Financial transactions on customer accounts: adjustments, fees, balance transfers,
write-offs and their reversals, recoveries, and the maker-checker approval of those above
the maker's limit.

Each public operation validates everything before writing, then either posts one balanced
journal entry at once or — above the maker's role limit — records a pending
``FinancialRequest`` and raises an approval work item. Approving runs the same validation
again (balances and periods may have moved) and posts the entry keyed by the request.

Every posting is idempotent: the caller's key returns the entry (or the pending request)
already made under it, and writes nothing. System actors (jobs acting by a policy people
configured) have no role limits and post at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum

from ohm.core import audit
from ohm.core.money import format_cents
from ohm.core.permissions import limit_cents
from ohm.customers.models import Account
from ohm.financials import policies
from ohm.financials.models import AdjustmentReason, FeeSchedule, FinancialRequest
from ohm.ledger import operations as ledger
from ohm.ledger import queries as ledger_queries
from ohm.ledger.models import Category, GLAccount, JournalEntry, Receivable
from ohm.ledger.operations import EntrySpec, LineSpec
from ohm.workqueue import operations as workqueue
from ohm.workqueue.models import WorkItem

AR = ledger.RECEIVABLES
CHARGE = Category.CHARGE
CREDIT = Category.CREDIT
APPROVAL_CATEGORY = "approval"
#: Where a write-off's debit goes. Ohm uses the direct write-off method: it does not post the
#: periodic bad-debt provision, so debiting the allowance would drive it negative; the city's
#: GL reclassifies expense against the allowance at year end if it keeps one.
WRITE_OFF_GL_ROLE = "bad_debt_expense"
DIRECTIONS = ("credit", "debit")


@dataclass(frozen=True)
class Outcome:
    """What an operation did: posted ``entry``, or left ``request`` pending approval.

    ``replayed`` is true when the idempotency key had been used and nothing was written.
    """

    entry: JournalEntry | None = None
    request: FinancialRequest | None = None
    replayed: bool = False

    @property
    def pending(self) -> bool:
        return self.entry is None and self.request is not None and self.request.is_pending


@dataclass(frozen=True)
class Plan:
    """A validated transaction, ready to post under any key."""

    kind: str
    account: Account
    amount_cents: int
    summary: str
    effective_date: date
    spec: Callable[[str, str], EntrySpec]
    post: Callable[..., JournalEntry] | None = None
    other_account: Account | None = None


# Validation pieces ----------------------------------------------------------------------


def _positive_cents(value, field: str = "amount_cents") -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError({field: f"Amounts are whole cents, not {value!r}."})
    if value <= 0:
        raise ValidationError({field: "The amount must be more than zero."})
    return value


def _account(account_id, field: str = "account") -> Account:
    account = (
        Account.objects.filter(pk=account_id).only("pk", "number").first() if account_id else None
    )
    if account is None:
        raise ValidationError({field: f"There is no account {account_id}."})
    return account


def _date(value, field: str = "effective_date") -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError({field: f"“{value}” is not a date."}) from exc


def _text(value, field: str, message: str) -> str:
    text = (value or "").strip()
    if not text:
        raise ValidationError({field: message})
    return text


def _balance(account: Account, as_of: date) -> int:
    return ledger_queries.get_balance_cents(account_id=account.pk, as_of=as_of)


def _check(plan: Plan) -> Plan:
    """The ledger's own rules (balanced, GL roles exist, period open), for a request that will
    wait: a posting gets the same check from ``post_entry`` itself."""
    ledger.check_entry(
        plan.spec("validation", ""),
        refs=ledger.gl_accounts_by_ref(),
        closed=ledger.closed_periods(),
    )
    return plan


# Planners: payload (JSON-able, as stored on a request) -> validated Plan ---------------------


def _plan_adjustment(p: dict) -> Plan:
    amount = _positive_cents(p.get("amount_cents"))
    direction = p.get("direction")
    if direction not in DIRECTIONS:
        raise ValidationError({"direction": f"“{direction}” is not credit or debit."})
    code = p.get("reason_code") or ""
    reason = AdjustmentReason.objects.filter(code=code, is_active=True).first()
    if reason is None:
        raise ValidationError({"reason_code": f"“{code}” is not an active adjustment reason."})
    if not reason.allows(direction):
        raise ValidationError(
            {
                "direction": f"A {reason.label.lower()} is for {reason.get_direction_display().lower()}: "
                f"it cannot be a {direction}."
            }
        )
    memo = (p.get("memo") or "").strip()
    if reason.code == "other" and not memo:
        raise ValidationError(
            {"memo": "Say what the adjustment is for when the reason is “other”."}
        )
    account = _account(p.get("account_id"))
    effective = _date(p.get("effective_date"))
    sign = 1 if direction == "debit" else -1
    label = "Charge" if direction == "debit" else "Credit"

    def spec(key: str, source: str) -> EntrySpec:
        return EntrySpec(
            kind="adjustment",
            effective_date=effective,
            idempotency_key=key,
            description=f"{label}: {reason.label}" + (f" — {memo}" if memo else ""),
            reason_code=reason.code,
            source=source,
            lines=[
                LineSpec(
                    AR,
                    sign * amount,
                    account_id=account.pk,
                    due_date=policies.charge_due_date(effective) if sign > 0 else None,
                    category=reason.line_category if sign > 0 else CREDIT,
                    memo=memo,
                ),
                LineSpec(reason.gl_role, -sign * amount, memo=memo),
            ],
        )

    return Plan(
        "adjustment",
        account,
        amount,
        f"{label} {format_cents(amount)} ({reason.label}) on account {account.number}",
        effective,
        spec,
    )


def _plan_fee(p: dict) -> Plan:
    kind = p.get("kind")
    if kind not in FeeSchedule.Kind.values:
        raise ValidationError({"kind": f"“{kind}” is not a fee."})
    account = _account(p.get("account_id"))
    effective = _date(p.get("effective_date"))
    schedule = (
        FeeSchedule.objects.filter(kind=kind, effective_date__lte=effective)
        .order_by("-effective_date")
        .first()
    )
    if schedule is None:
        raise ValidationError(
            {"kind": f"No {FeeSchedule.Kind(kind).label.lower()} is in effect on {effective}."}
        )
    if kind == FeeSchedule.Kind.LATE:
        past_due = ledger_queries.get_aging(account_id=account.pk, as_of=effective).past_due_cents
        amount = policies.late_fee_cents(
            past_due_cents=past_due,
            rate_basis_points=schedule.rate_basis_points,
            minimum_past_due_cents=schedule.minimum_past_due_cents,
            floor_cents=schedule.floor_cents,
            cap_cents=schedule.cap_cents,
        )
        if amount == 0:
            raise ValidationError(
                {
                    "kind": f"No late fee: {format_cents(past_due)} past due on {effective} is under "
                    f"the {format_cents(schedule.minimum_past_due_cents)} minimum."
                }
            )
    else:
        amount = schedule.amount_cents
        if amount <= 0:
            raise ValidationError({"kind": f"The {kind.replace('_', ' ')} fee is set to zero."})
    label = FeeSchedule.Kind(kind).label
    memo = (p.get("memo") or "").strip()

    def spec(key: str, source: str) -> EntrySpec:
        return EntrySpec(
            kind="fee",
            effective_date=effective,
            idempotency_key=key,
            description=label + (f" — {memo}" if memo else ""),
            reason_code=f"fee_{kind}",
            source=source,
            lines=[
                LineSpec(
                    AR,
                    amount,
                    account_id=account.pk,
                    due_date=policies.charge_due_date(effective),
                    category=CHARGE,
                    memo=memo,
                ),
                LineSpec(f"fee_{kind}", -amount, memo=memo),
            ],
        )

    return Plan(
        "fee",
        account,
        amount,
        f"{label} {format_cents(amount)} on account {account.number}",
        effective,
        spec,
    )


def _plan_transfer(p: dict) -> Plan:
    amount = _positive_cents(p.get("amount_cents"))
    source_account = _account(p.get("from_account_id"), "from_account")
    target = _account(p.get("to_account_id"), "to_account")
    if source_account.pk == target.pk:
        raise ValidationError({"to_account": "A balance moves between two different accounts."})
    reason = _text(p.get("reason"), "reason", "Say why the balance moves.")
    effective = _date(p.get("effective_date"))
    owed = _balance(source_account, effective)
    if amount > owed:
        raise ValidationError(
            {
                "amount_cents": f"Account {source_account.number} owes {format_cents(owed)} on "
                f"{effective}: it cannot transfer {format_cents(amount)}."
            }
        )

    def spec(key: str, source: str) -> EntrySpec:
        return EntrySpec(
            kind="transfer",
            effective_date=effective,
            idempotency_key=key,
            description=f"Balance transfer {source_account.number} → {target.number}: {reason}",
            reason_code="transfer",
            source=source,
            lines=[
                LineSpec(
                    AR,
                    -amount,
                    account_id=source_account.pk,
                    category=CREDIT,
                    memo=f"to {target.number}",
                ),
                # The debt was already due on the old account, so it is due at once here.
                LineSpec(
                    AR,
                    amount,
                    account_id=target.pk,
                    due_date=effective,
                    category=CHARGE,
                    memo=f"from {source_account.number}",
                ),
            ],
        )

    return Plan(
        "transfer",
        source_account,
        amount,
        f"Transfer {format_cents(amount)} from {source_account.number} to {target.number}",
        effective,
        spec,
        other_account=target,
    )


def _plan_write_off(p: dict) -> Plan:
    amount = _positive_cents(p.get("amount_cents"))
    account = _account(p.get("account_id"))
    reason = _text(p.get("reason"), "reason", "Say why the balance is written off.")
    effective = _date(p.get("effective_date"))
    owed = _balance(account, effective)
    if amount > owed:
        raise ValidationError(
            {
                "amount_cents": f"Account {account.number} owes {format_cents(owed)} on {effective}: "
                f"{format_cents(amount)} is more than the open balance."
            }
        )

    def spec(key: str, source: str) -> EntrySpec:
        return EntrySpec(
            kind="write_off",
            effective_date=effective,
            idempotency_key=key,
            description=f"Write-off: {reason}",
            reason_code="write_off",
            source=source,
            lines=[
                LineSpec(WRITE_OFF_GL_ROLE, amount, memo=f"account {account.number}"),
                LineSpec(AR, -amount, account_id=account.pk, category=CREDIT, memo=reason),
            ],
        )

    return Plan(
        "write_off",
        account,
        amount,
        f"Write off {format_cents(amount)} on account {account.number}",
        effective,
        spec,
    )


def _plan_write_off_reversal(p: dict) -> Plan:
    entry_id = p.get("entry_id")
    entry = (
        JournalEntry.objects.filter(pk=entry_id, kind="write_off").first()
        if entry_id is not None
        else None
    )
    if entry is None:
        raise ValidationError({"entry": f"Journal entry {p.get('entry_id')} is not a write-off."})
    if JournalEntry.objects.filter(reverses=entry).exists():
        raise ledger.EntryAlreadyReversed(entry)
    reason = _text(p.get("reason"), "reason", "Say why the write-off is reversed.")
    effective = _date(p.get("effective_date"))
    account = _account(entry.account_id)
    amount = -(entry.receivable_cents or 0)
    lines = entry.line_list()
    codes = dict(GLAccount.objects.values_list("pk", "code"))

    def spec(key: str, source: str) -> EntrySpec:
        return EntrySpec(
            kind="reversal",
            effective_date=effective,
            idempotency_key=key,
            description=f"Reversal of JE {entry.pk}: {reason}",
            reason_code="reversal",
            source=source,
            lines=[
                LineSpec(codes[line.gl_account_id], -line.amount_cents, account_id=line.account_id)
                for line in lines
            ],
        )

    def post(*, key: str, actor, at: datetime, source: str) -> JournalEntry:
        return ledger.reverse_entry(
            entry=entry,
            effective_date=effective,
            actor=actor,
            at=at,
            reason=reason,
            idempotency_key=key,
        )

    return Plan(
        "write_off_reversal",
        account,
        amount,
        f"Reverse the {format_cents(amount)} write-off (JE {entry.pk}) on account {account.number}",
        effective,
        spec,
        post=post,
    )


def written_off_open_cents(*, account_id: int) -> int:
    """What was written off on the account and not yet reversed or recovered."""
    ar = Receivable.objects.filter(account_id=account_id)
    written = -(ar.filter(entry__kind="write_off").aggregate(t=Sum("amount_cents"))["t"] or 0)
    reversed_ = ar.filter(entry__reverses__kind="write_off").aggregate(t=Sum("amount_cents"))["t"]
    recovered = ar.filter(entry__kind="recovery").aggregate(t=Sum("amount_cents"))["t"]
    return int(written - (reversed_ or 0) - (recovered or 0))


def _plan_recovery(p: dict) -> Plan:
    amount = _positive_cents(p.get("amount_cents"))
    account = _account(p.get("account_id"))
    effective = _date(p.get("effective_date"))
    open_cents = written_off_open_cents(account_id=account.pk)
    if amount > open_cents:
        raise ValidationError(
            {
                "amount_cents": f"Account {account.number} has {format_cents(open_cents)} written off "
                f"and not recovered: {format_cents(amount)} is more."
            }
        )
    memo = (p.get("memo") or "").strip()

    def spec(key: str, source: str) -> EntrySpec:
        return EntrySpec(
            kind="recovery",
            effective_date=effective,
            idempotency_key=key,
            description="Recovery of an amount written off" + (f" — {memo}" if memo else ""),
            reason_code="recovery",
            source=source,
            lines=[
                # Due at once: the payment that brought it in clears it the same day.
                LineSpec(AR, amount, account_id=account.pk, due_date=effective, memo=memo),
                LineSpec("write_off_recoveries", -amount, memo=memo),
            ],
        )

    return Plan(
        "recovery",
        account,
        amount,
        f"Recovery {format_cents(amount)} on account {account.number}",
        effective,
        spec,
    )


PLANNERS: dict[str, Callable[[dict], Plan]] = {
    "adjustment": _plan_adjustment,
    "fee": _plan_fee,
    "transfer": _plan_transfer,
    "write_off": _plan_write_off,
    "write_off_reversal": _plan_write_off_reversal,
    "recovery": _plan_recovery,
}


def plan(kind: str, payload: dict) -> Plan:
    """Validate a transaction without writing anything (the console previews with it)."""
    return PLANNERS[kind](payload)


# Posting and approval ------------------------------------------------------------------------


def _post(plan_: Plan, *, key: str, actor, at: datetime, source: str) -> JournalEntry:
    if plan_.post is not None:
        return plan_.post(key=key, actor=actor, at=at, source=source)
    return ledger.post_entry(plan_.spec(key, source), actor=actor, at=at)


def _is_person(actor) -> bool:
    return getattr(actor, "pk", None) is not None


def needs_approval(*, actor, kind: str, amount_cents: int) -> bool:
    """Whether ``actor`` must have a second person approve a ``kind`` of ``amount_cents``."""
    limit_kind = policies.LIMIT_KIND.get(kind)
    if limit_kind is None or not _is_person(actor):
        return False
    return amount_cents > limit_cents(actor, limit_kind)


def _replay(key: str) -> Outcome | None:
    entry = JournalEntry.objects.filter(idempotency_key=key).first()
    if entry is not None:
        return Outcome(entry=entry, replayed=True)
    request = (
        FinancialRequest.objects.filter(idempotency_key=key).select_related("journal_entry").first()
    )
    if request is not None:
        return Outcome(entry=request.journal_entry, request=request, replayed=True)
    return None


def _audit_posted(plan_: Plan, entry: JournalEntry, *, actor, at: datetime, request=None) -> None:
    after = {"summary": plan_.summary, "amount_cents": plan_.amount_cents, "entry": entry.pk}
    if request is not None:
        after.update(request=request.pk, maker=request.maker.username)
    audit.record(
        f"financials.{plan_.kind}.posted",
        subject=entry,
        actor=actor,
        at=at,
        account_id=plan_.account.pk,
        after=after,
        reason=entry.reason_code,
    )
    if plan_.other_account is not None:
        audit.record(
            f"financials.{plan_.kind}.received",
            subject=entry,
            actor=actor,
            at=at,
            account_id=plan_.other_account.pk,
            after=after,
            reason=entry.reason_code,
        )


@transaction.atomic
def _submit(kind: str, payload: dict, *, actor, at: datetime, idempotency_key: str) -> Outcome:
    key = (idempotency_key or "").strip()
    if not key:
        raise ValidationError({"idempotency_key": "Every posting needs an idempotency key."})
    replay = _replay(key)
    if replay is not None:
        return replay
    plan_ = plan(kind, payload)
    if needs_approval(actor=actor, kind=kind, amount_cents=plan_.amount_cents):
        _check(plan_)
        return Outcome(request=_make_request(plan_, payload, actor=actor, at=at, key=key))
    entry = _post(plan_, key=key, actor=actor, at=at, source="")
    _audit_posted(plan_, entry, actor=actor, at=at)
    return Outcome(entry=entry)


def _make_request(plan_: Plan, payload: dict, *, actor, at: datetime, key: str) -> FinancialRequest:
    request = FinancialRequest.objects.create(
        kind=plan_.kind,
        payload=payload,
        amount_cents=plan_.amount_cents,
        account=plan_.account,
        summary=plan_.summary[:200],
        idempotency_key=key,
        maker=actor,
        made_at=at,
    )
    limit = limit_cents(actor, policies.LIMIT_KIND[plan_.kind])
    request.work_item = workqueue.raise_work_item(
        category_code=APPROVAL_CATEGORY,
        title=f"Approve: {plan_.summary}"[:200],
        description=f"{actor.username} asked for this; it is above their "
        f"{format_cents(limit)} limit.",
        subject=request,
        account_id=plan_.account.pk,
        account_number=plan_.account.number,
        actor=actor,
        at=at,
    )
    request.save(update_fields=["work_item"])
    audit.record(
        "financials.request.made",
        subject=request,
        actor=actor,
        at=at,
        account_id=plan_.account.pk,
        after={"kind": plan_.kind, "amount_cents": plan_.amount_cents, "payload": payload},
    )
    return request


def _close_work_item(request: FinancialRequest, *, status: str, resolution: str, actor, at) -> None:
    if request.work_item_id is None:
        return
    item = WorkItem.objects.get(pk=request.work_item_id)
    if not item.is_closed:
        workqueue.set_work_status(
            item=item, status=status, resolution=resolution, actor=actor, at=at
        )


def _check_checker(request: FinancialRequest, actor, *, verb: str) -> None:
    if request.status != FinancialRequest.Status.PENDING:
        raise ValidationError(
            {"status": f"Request {request.pk} is already {request.get_status_display().lower()}."}
        )
    if not _is_person(actor):
        raise ValidationError({"checker": f"A person must {verb} a request."})
    if actor.pk == request.maker_id:
        raise ValidationError(
            {"checker": f"You made request {request.pk}: a different person must {verb} it."}
        )
    limit = limit_cents(actor, policies.LIMIT_KIND[request.kind])
    if request.amount_cents > limit:
        raise ValidationError(
            {
                "checker": f"{format_cents(request.amount_cents)} is above your "
                f"{format_cents(limit)} limit: someone with a higher limit must {verb} it."
            }
        )


def _lock(request: FinancialRequest) -> FinancialRequest:
    return FinancialRequest.objects.select_for_update().select_related("maker").get(pk=request.pk)


@transaction.atomic
def approve_request(
    *, request: FinancialRequest, actor, at: datetime, note: str = ""
) -> FinancialRequest:
    """Post a pending request's transaction, as of now, in the checker's name.

    :raises ValidationError: on ``status`` (decided already), ``checker`` (the maker, or
        above the checker's limit), or whatever the transaction itself no longer passes.
    """
    request = _lock(request)
    _check_checker(request, actor, verb="approve")
    plan_ = plan(request.kind, request.payload)
    entry = _post(
        plan_,
        key=f"financial-request:{request.pk}",
        actor=actor,
        at=at,
        source=f"approval:{request.pk}",
    )
    _audit_posted(plan_, entry, actor=actor, at=at, request=request)
    request.status = FinancialRequest.Status.APPROVED
    request.checker, request.decided_at = actor, at
    request.decision_note = note.strip()
    request.journal_entry = entry
    request.save(
        update_fields=["status", "checker", "decided_at", "decision_note", "journal_entry"]
    )
    _close_work_item(
        request,
        status=WorkItem.Status.DONE,
        resolution=f"Approved by {actor.username}; posted as journal entry {entry.pk}.",
        actor=actor,
        at=at,
    )
    audit.record(
        "financials.request.approved",
        subject=request,
        actor=actor,
        at=at,
        account_id=request.account_id,
        before={"status": "pending"},
        after={"status": "approved", "entry": entry.pk},
        reason=request.decision_note,
    )
    return request


@transaction.atomic
def reject_request(
    *, request: FinancialRequest, actor, at: datetime, note: str
) -> FinancialRequest:
    """Refuse a pending request with a reason; nothing posts."""
    request = _lock(request)
    _check_checker(request, actor, verb="reject")
    note = _text(note, "note", "Say why the request is rejected.")
    request.status = FinancialRequest.Status.REJECTED
    request.checker, request.decided_at, request.decision_note = actor, at, note
    request.save(update_fields=["status", "checker", "decided_at", "decision_note"])
    _close_work_item(
        request,
        status=WorkItem.Status.DONE,
        resolution=f"Rejected by {actor.username}: {note}",
        actor=actor,
        at=at,
    )
    audit.record(
        "financials.request.rejected",
        subject=request,
        actor=actor,
        at=at,
        account_id=request.account_id,
        before={"status": "pending"},
        after={"status": "rejected"},
        reason=note,
    )
    return request


@transaction.atomic
def cancel_request(
    *, request: FinancialRequest, actor, at: datetime, note: str = ""
) -> FinancialRequest:
    """The maker withdraws a pending request; nothing posts."""
    request = _lock(request)
    if request.status != FinancialRequest.Status.PENDING:
        raise ValidationError(
            {"status": f"Request {request.pk} is already {request.get_status_display().lower()}."}
        )
    if getattr(actor, "pk", None) != request.maker_id:
        raise ValidationError({"maker": "Only the person who made a request can cancel it."})
    request.status = FinancialRequest.Status.CANCELLED
    request.decided_at, request.decision_note = at, (note or "").strip()
    request.save(update_fields=["status", "decided_at", "decision_note"])
    _close_work_item(
        request,
        status=WorkItem.Status.CANCELLED,
        resolution=f"Cancelled by {actor.username}.",
        actor=actor,
        at=at,
    )
    audit.record(
        "financials.request.cancelled",
        subject=request,
        actor=actor,
        at=at,
        account_id=request.account_id,
        before={"status": "pending"},
        after={"status": "cancelled"},
        reason=request.decision_note,
    )
    return request


# The public operations ------------------------------------------------------------------------


def post_adjustment(
    *,
    account: Account,
    amount_cents: int,
    direction: str,
    reason_code: str,
    memo: str = "",
    effective_date: date,
    actor,
    at: datetime,
    idempotency_key: str,
) -> Outcome:
    """Charge (``direction="debit"``) or credit the account for a reason code; the other side
    posts to the reason's GL role. Above the maker's adjust limit it waits for approval."""
    payload = {
        "account_id": account.pk,
        "amount_cents": amount_cents,
        "direction": direction,
        "reason_code": reason_code,
        "memo": memo,
        "effective_date": _iso(effective_date),
    }
    return _submit("adjustment", payload, actor=actor, at=at, idempotency_key=idempotency_key)


def assess_fee(
    *,
    account: Account,
    kind: str,
    effective_date: date,
    memo: str = "",
    actor,
    at: datetime,
    idempotency_key: str,
) -> Outcome:
    """Charge a fee at the schedule's amount in effect on ``effective_date`` (the late fee from
    the past due that day). Fees follow the schedule, so they need no approval."""
    payload = {
        "account_id": account.pk,
        "kind": kind,
        "memo": memo,
        "effective_date": _iso(effective_date),
    }
    return _submit("fee", payload, actor=actor, at=at, idempotency_key=idempotency_key)


def transfer_balance(
    *,
    from_account: Account,
    to_account: Account,
    amount_cents: int,
    reason: str,
    effective_date: date,
    actor,
    at: datetime,
    idempotency_key: str,
) -> Outcome:
    """Move up to what ``from_account`` owes onto ``to_account`` in one balanced entry."""
    payload = {
        "from_account_id": from_account.pk,
        "to_account_id": to_account.pk,
        "amount_cents": amount_cents,
        "reason": reason,
        "effective_date": _iso(effective_date),
    }
    return _submit("transfer", payload, actor=actor, at=at, idempotency_key=idempotency_key)


def write_off_balance(
    *,
    account: Account,
    amount_cents: int,
    reason: str,
    effective_date: date,
    actor,
    at: datetime,
    idempotency_key: str,
) -> Outcome:
    """Write off up to the open balance: debit bad-debt expense, credit receivables."""
    payload = {
        "account_id": account.pk,
        "amount_cents": amount_cents,
        "reason": reason,
        "effective_date": _iso(effective_date),
    }
    return _submit("write_off", payload, actor=actor, at=at, idempotency_key=idempotency_key)


def reverse_write_off(
    *,
    entry: JournalEntry,
    reason: str,
    effective_date: date,
    actor,
    at: datetime,
    idempotency_key: str,
) -> Outcome:
    """Undo a write-off made in error: the mirror entry, pointing at it."""
    payload = {"entry_id": entry.pk, "reason": reason, "effective_date": _iso(effective_date)}
    return _submit(
        "write_off_reversal", payload, actor=actor, at=at, idempotency_key=idempotency_key
    )


def record_recovery(
    *,
    account: Account,
    amount_cents: int,
    effective_date: date,
    memo: str = "",
    actor,
    at: datetime,
    idempotency_key: str,
) -> Outcome:
    """Money came in on an amount written off: put it back on the account as owed (debit
    receivables, credit recoveries) so the payment posted next clears it."""
    payload = {
        "account_id": account.pk,
        "amount_cents": amount_cents,
        "memo": memo,
        "effective_date": _iso(effective_date),
    }
    return _submit("recovery", payload, actor=actor, at=at, idempotency_key=idempotency_key)


def _iso(value):
    return value.isoformat() if isinstance(value, date) else value
