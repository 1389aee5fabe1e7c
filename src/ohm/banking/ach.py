"""ACH files out and returns in.

``build_export`` gathers, for one due date, the autopay debits, the prenotes waiting to go and
the approved ACH refunds, writes one NACHA file and its entries. Nothing counts as sent until
``release_file``, by a person other than the builder: then the debits post as autopay
payments, set-based through ``ohm.payments.batch`` (idempotency key: the trace number),
prenotes start their wait and refunds are issued. ``cancel_file`` frees a file's entries for
the next build.

``import_returns`` reads a returns / notifications-of-change file: R01/R09 reverse the payment
with the returned-payment fee; other R-codes reverse it too and suspend autopay with a work
item to tell the customer; C-codes correct the bank details. The whole file posts in one
transaction or not at all; the same file again (SHA-256) or the same return again (original
trace number + code) changes nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from ohm.banking import nacha, policies
from ohm.banking import operations as autopay
from ohm.banking import refunds as refund_operations
from ohm.banking.models import (
    AchEntry,
    AchFile,
    AchReturnImport,
    AchReturnItem,
    AutopayEnrolment,
    Refund,
)
from ohm.core import audit, batchrun
from ohm.core.localtime import localdate, utility_zone
from ohm.core.models import BatchRun
from ohm.core.money import format_cents
from ohm.customers.models import Account
from ohm.ledger import queries as ledger_queries
from ohm.payments import batch as payment_batch
from ohm.payments import operations as payment_operations
from ohm.payments.models import Channel, Tender
from ohm.workqueue.operations import add_business_days

Enrolment = AutopayEnrolment
MODIFIERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


class NothingToSend(ValidationError):
    def __init__(self, due_date: date):
        super().__init__(
            {"date": f"Nothing to send for {due_date}: no debits due, prenotes or refunds."},
            code="nothing_to_send",
        )


def _label(actor) -> str:
    return getattr(actor, "username", "") or str(actor)


def _person(actor):
    return actor if getattr(actor, "pk", None) is not None else None


# What is due ---------------------------------------------------------------------------------


def amount_due_cents(*, account_id: int, due_date: date) -> int:
    """What autopay takes on ``due_date``: the open charges due on or before it, when at
    least one of them falls due that very day (so an account is debited on its due dates,
    never on other days). The billing issue may replace this with the bill's amount due."""
    aging = ledger_queries.get_aging(account_id=account_id, as_of=due_date)
    if not any(item.due_date == due_date for item in aging.open_items):
        return 0
    due = sum(item.open_cents for item in aging.open_items if item.due_date <= due_date)
    return max(min(due, aging.balance_cents), 0)


def debit_key(account_id: int, due_date: date) -> str:
    return f"autopay:{account_id}:{due_date.isoformat()}"


def prenote_ready(enrolment: AutopayEnrolment, on: date) -> bool:
    """May a live debit go to this bank account on ``on``?"""
    state = enrolment.prenote_status
    if state in (Enrolment.Prenote.NOT_REQUIRED, Enrolment.Prenote.CLEARED):
        return True
    if state == Enrolment.Prenote.SENT and enrolment.prenote_sent_date is not None:
        wait = int(policies.setting("prenote_wait_business_days"))
        return add_business_days(enrolment.prenote_sent_date, wait) <= on
    return False


# Building ------------------------------------------------------------------------------------


@dataclass
class _Planned:
    kind: str
    account_id: int
    amount_cents: int
    dedupe_key: str
    account_number: str
    routing_number: str
    account_type: str
    name: str
    enrolment: AutopayEnrolment | None = None
    refund: Refund | None = None
    due_date: date | None = None


@dataclass
class ExportPlan:
    due_date: date
    debits: list[_Planned] = field(default_factory=list)
    prenotes: list[_Planned] = field(default_factory=list)
    credits: list[_Planned] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def plan_export(*, due_date: date, prenotes: bool = True, refunds: bool = True) -> ExportPlan:
    """What a file for ``due_date`` would hold (nothing written; the console previews it)."""
    plan = ExportPlan(due_date=due_date)
    taken = set(
        AchEntry.objects.exclude(status=AchEntry.Status.CANCELLED)
        .filter(dedupe_key__startswith="autopay:", due_date=due_date)
        .values_list("dedupe_key", flat=True)
    )
    enrolments = (
        Enrolment.objects.filter(status=Enrolment.Status.ACTIVE, start_date__lte=due_date)
        .select_related("account")
        .order_by("account_id")
    )
    for enrolment in enrolments:
        account = enrolment.account
        if account.cash_only:
            plan.skipped.append(f"{account.number}: cash-only")
            continue
        if prenotes and enrolment.prenote_status == Enrolment.Prenote.PENDING:
            key = f"prenote:{enrolment.pk}:{enrolment.bank_changed_at:%Y%m%d%H%M%S}"
            if not AchEntry.objects.filter(dedupe_key=key).exclude(status="cancelled").exists():
                plan.prenotes.append(_planned("prenote", enrolment, 0, key))
        key = debit_key(account.pk, due_date)
        if key in taken:
            continue
        amount = amount_due_cents(account_id=account.pk, due_date=due_date)
        if amount <= 0:
            continue
        if not prenote_ready(enrolment, due_date):
            plan.skipped.append(f"{account.number}: prenote not yet cleared")
            continue
        planned = _planned("debit", enrolment, amount, key)
        planned.due_date = due_date
        plan.debits.append(planned)
    if refunds:
        approved = (
            Refund.objects.filter(status=Refund.Status.APPROVED, method=Refund.Method.ACH)
            .select_related("enrolment", "account")
            .order_by("pk")
        )
        for refund in approved:
            key = f"refund:{refund.pk}"
            if AchEntry.objects.filter(dedupe_key=key).exclude(status="cancelled").exists():
                continue
            if refund.enrolment is None:
                plan.skipped.append(f"refund {refund.pk}: no bank account")
                continue
            if refund.enrolment.bank_changed_at > refund.made_at:
                # Fraud guard: the money goes only to the bank account the refund was asked
                # for; new details since then mean a person reissues it (by check).
                plan.skipped.append(f"refund {refund.pk}: bank details changed since the request")
                continue
            planned = _planned("credit", refund.enrolment, refund.amount_cents, key)
            planned.refund = refund
            plan.credits.append(planned)
    return plan


def _planned(kind: str, enrolment: AutopayEnrolment, amount: int, key: str) -> _Planned:
    return _Planned(
        kind=kind,
        account_id=enrolment.account_id,
        amount_cents=amount,
        dedupe_key=key,
        account_number=enrolment.account_number,
        routing_number=enrolment.routing_number,
        account_type=enrolment.account_type,
        name=enrolment.holder_name,
        enrolment=enrolment,
    )


def _header(*, created_at: datetime, modifier: str) -> nacha.FileHeader:
    local = created_at.astimezone(utility_zone())
    return nacha.FileHeader(
        immediate_destination=policies.setting("immediate_destination"),
        immediate_origin=policies.setting("immediate_origin"),
        creation_date=local.date(),
        creation_time=f"{local:%H%M}",
        file_id_modifier=modifier,
        destination_name=policies.setting("destination_name"),
        origin_name=policies.setting("origin_name"),
    )


@transaction.atomic
def build_export(
    *, due_date: date, actor, at: datetime, prenotes: bool = True, refunds: bool = True
) -> AchFile:
    """Write the ACH file for ``due_date`` (effective entry date = the due date).

    :raises NothingToSend: no debit is due, no prenote waits and no refund is approved.
    """
    # Two builders at once cannot both succeed: the trace number, the (creation date, file id
    # modifier) pair and each live entry's dedupe key are unique, so the second one's
    # transaction fails whole and nothing is in two files.
    plan = plan_export(due_date=due_date, prenotes=prenotes, refunds=refunds)
    if not (plan.debits or plan.prenotes or plan.credits):
        raise NothingToSend(due_date)
    odfi = policies.setting("odfi")
    last = AchEntry.objects.aggregate(m=Max("trace_number"))["m"]
    sequence = int(last[-7:]) if last else 0
    creation_date = localdate(at)
    used = set(
        AchFile.objects.filter(creation_date=creation_date).values_list(
            "file_id_modifier", flat=True
        )
    )
    free = [m for m in MODIFIERS if m not in used]
    if not free:
        raise ValidationError(
            {"date": "Thirty-six files were built today: the bank takes no more."}
        )
    modifier = free[0]

    everyone = plan.debits + plan.credits + plan.prenotes
    numbers = dict(
        Account.objects.filter(pk__in={p.account_id for p in everyone}).values_list("pk", "number")
    )

    def entries(planned: list[_Planned], codes: dict[str, int]) -> list[nacha.Entry]:
        nonlocal sequence
        out = []
        for item in planned:
            sequence = sequence % 9_999_999 + 1
            trace = nacha.trace_number(odfi, sequence)
            item.trace = trace  # type: ignore[attr-defined]
            item.code = codes[item.account_type]  # type: ignore[attr-defined]
            out.append(
                nacha.Entry(
                    transaction_code=codes[item.account_type],
                    routing_number=item.routing_number,
                    account_number=item.account_number,
                    amount_cents=item.amount_cents,
                    individual_id=numbers[item.account_id],
                    individual_name=item.name,
                    trace_number=trace,
                )
            )
        return out

    debit_entries = entries(plan.debits, nacha.DEBIT)
    credit_entries = entries(plan.credits, nacha.CREDIT)
    prenote_entries = entries(plan.prenotes, nacha.DEBIT_PRENOTE)
    text = nacha.build_ach_file(
        header=_header(created_at=at, modifier=modifier),
        company_name=policies.setting("company_name"),
        company_id=policies.setting("company_id"),
        odfi=odfi,
        effective_date=due_date,
        debits=debit_entries,
        credits=credit_entries,
        prenotes=prenote_entries,
    )
    ach_file = AchFile.objects.create(
        effective_date=due_date,
        creation_date=creation_date,
        file_id_modifier=modifier,
        file_name=f"ACH-{due_date:%Y%m%d}-{creation_date:%Y%m%d}{modifier}.ach",
        content=text,
        sha256=hashlib.sha256(text.encode("ascii")).hexdigest(),
        entry_count=len(debit_entries) + len(credit_entries) + len(prenote_entries),
        prenote_count=len(prenote_entries),
        debit_cents=sum(e.amount_cents for e in debit_entries),
        credit_cents=sum(e.amount_cents for e in credit_entries),
        built_at=at,
        built_by=_person(actor),
        built_by_label=_label(actor),
    )
    AchEntry.objects.bulk_create(
        [
            AchEntry(
                ach_file=ach_file,
                kind=item.kind,
                account_id=item.account_id,
                enrolment=item.enrolment,
                refund=item.refund,
                dedupe_key=item.dedupe_key,
                due_date=item.due_date,
                amount_cents=item.amount_cents,
                transaction_code=item.code,  # type: ignore[attr-defined]
                trace_number=item.trace,  # type: ignore[attr-defined]
                routing_number=item.routing_number,
                account_last4=item.account_number[-4:],
            )
            for item in plan.debits + plan.credits + plan.prenotes
        ]
    )
    audit.record(
        "banking.ach_file.built",
        subject=ach_file,
        actor=actor,
        at=at,
        after={
            "file": ach_file.file_name,
            "debits": len(debit_entries),
            "debit_cents": ach_file.debit_cents,
            "credits": len(credit_entries),
            "credit_cents": ach_file.credit_cents,
            "prenotes": len(prenote_entries),
            "sha256": ach_file.sha256,
        },
    )
    return ach_file


def _lock_file(ach_file: AchFile) -> AchFile:
    return AchFile.objects.select_for_update().get(pk=ach_file.pk)


RELEASE_JOB = "banking.ach_release"
RELEASE_CHUNK = 200


@transaction.atomic
def _authorize_release(*, ach_file: AchFile, actor, at: datetime, note: str) -> BatchRun:
    ach_file = _lock_file(ach_file)
    if ach_file.status != AchFile.Status.BUILT:
        raise ValidationError(
            {"status": f"{ach_file.file_name} is {ach_file.get_status_display().lower()}."}
        )
    if _person(actor) is None:
        raise ValidationError({"checker": "A person must release an ACH file."})
    if actor.pk == ach_file.built_by_id:
        raise ValidationError(
            {"checker": "You built this file: a different person must release it."}
        )
    ach_file.status = AchFile.Status.RELEASED
    ach_file.released_at, ach_file.released_by = at, actor
    ach_file.decision_note = note[:200]
    run = batchrun.plan_run(
        kind=RELEASE_JOB,
        items=list(ach_file.entries.order_by("trace_number").values_list("pk", flat=True)),
        chunk_size=RELEASE_CHUNK,
        actor=actor,
        at=at,
        parameters={"file": ach_file.pk, "effective_date": ach_file.effective_date.isoformat()},
        key=f"{RELEASE_JOB}:{ach_file.pk}",
    )
    ach_file.release_run = run
    ach_file.save(
        update_fields=["status", "released_at", "released_by", "decision_note", "release_run"]
    )
    audit.record(
        "banking.ach_file.released",
        subject=ach_file,
        actor=actor,
        at=at,
        before={"status": "built"},
        after={"status": "released", "built_by": ach_file.built_by_label, "run": run.pk},
        reason=note,
    )
    return run


def release_file(*, ach_file: AchFile, actor, at: datetime, note: str = "") -> AchFile:
    """The second person's release: the file counts as sent. Then, as a batch run of chunks
    (each chunk one transaction, crash-safe and resumable with ``resume_release``), debits
    post as autopay payments (key: trace number), prenotes start their wait and refunds are
    issued from refunds payable.

    :raises ValidationError: not a person, the builder, or a file not awaiting release.
    """
    run = _authorize_release(ach_file=ach_file, actor=actor, at=at, note=note)
    batchrun.execute_run(run, at=lambda: at)
    ach_file.refresh_from_db()
    return ach_file


def resume_release(*, ach_file: AchFile, at: datetime) -> AchFile:
    """Finish posting a released file whose run stopped (a crash, a failed chunk)."""
    ach_file.refresh_from_db()
    if ach_file.release_run is None:
        raise ValidationError({"status": f"{ach_file.file_name} was not released."})
    if ach_file.release_run.status != BatchRun.Status.SUCCEEDED:
        batchrun.execute_run(ach_file.release_run, at=lambda: at)
    ach_file.refresh_from_db()
    return ach_file


def _release_chunk(*, run: BatchRun, items: list, at: datetime) -> dict[str, int]:
    """Post one chunk of a released file's entries (inside the run's chunk transaction);
    entries already sent are skipped.

    The chunk's debits post set-based through the payments batch path (the lockbox import's
    write path): one deposit entry (ACH cash clearing debited with the chunk's total, a credit
    line per account), the payment rows in one insert, each trace number once ever — a chunk
    retried after a crash finds its earlier payments by key and posts nothing twice.
    Prenotes and refund credits are few and go one by one.
    """
    actor = run.actor or audit.SystemActor(run.actor_label)
    effective = date.fromisoformat(run.parameters["effective_date"])
    counts = {"debits_posted": 0, "prenotes_sent": 0, "refunds_issued": 0}
    entries = list(
        AchEntry.objects.select_for_update(of=("self",))
        .filter(pk__in=items, status=AchEntry.Status.BUILT)
        .select_related("enrolment", "refund")
        .order_by("trace_number")
    )
    debits = [e for e in entries if e.kind == AchEntry.Kind.DEBIT]
    if debits:
        posted = payment_batch.post_payments_batch(
            payments=[
                payment_batch.BatchPayment(
                    idempotency_key=entry.trace_number,
                    amount_cents=entry.amount_cents,
                    tender=Tender.ACH,
                    account_id=entry.account_id,
                    # Not the bare 15 digits: payments refuses anything shaped like a card
                    # number. The masked bank account tells the customer which one paid.
                    reference=f"ACH trace {entry.trace_number[:8]}/{entry.trace_number[8:]} "
                    f"{entry.masked_account}",
                    payer_name=entry.enrolment.holder_name if entry.enrolment else "",
                )
                for entry in debits
            ],
            channel=Channel.AUTOPAY,
            received_at=at,
            effective_date=effective,
            actor=actor,
            source=f"ach:{run.parameters['file']}",
        )
        for entry in debits:
            entry.payment_id = posted.payment_ids[entry.trace_number]
        counts["debits_posted"] = len(debits)
    for entry in entries:
        if entry.kind == AchEntry.Kind.PRENOTE and entry.enrolment is not None:
            Enrolment.objects.filter(
                pk=entry.enrolment.pk, prenote_status=Enrolment.Prenote.PENDING
            ).update(prenote_status=Enrolment.Prenote.SENT, prenote_sent_date=effective)
            counts["prenotes_sent"] += 1
        elif entry.kind == AchEntry.Kind.CREDIT and entry.refund is not None:
            refund_operations.mark_issued(
                refund=entry.refund,
                cash_role=policies.ACH_CASH_ROLE,
                effective_date=effective,
                actor=actor,
                at=at,
                detail=f"ACH credit {entry.trace_number}",
            )
            counts["refunds_issued"] += 1
        entry.status = AchEntry.Status.SENT
    AchEntry.objects.bulk_update(entries, ["status", "payment"], batch_size=500)
    return counts


def register_job() -> None:
    batchrun.register(
        batchrun.JobKind(name=RELEASE_JOB, label="ACH file release", process=_release_chunk)
    )


@transaction.atomic
def cancel_file(*, ach_file: AchFile, actor, at: datetime, reason: str) -> AchFile:
    """Throw away a file that was not released; its debits can go in the next file."""
    ach_file = _lock_file(ach_file)
    if ach_file.status != AchFile.Status.BUILT:
        raise ValidationError(
            {"status": f"{ach_file.file_name} is {ach_file.get_status_display().lower()}."}
        )
    if not reason.strip():
        raise ValidationError({"reason": "Say why the file is cancelled."})
    ach_file.entries.update(status=AchEntry.Status.CANCELLED)
    ach_file.status = AchFile.Status.CANCELLED
    ach_file.decision_note = reason[:200]
    ach_file.save(update_fields=["status", "decision_note"])
    audit.record(
        "banking.ach_file.cancelled",
        subject=ach_file,
        actor=actor,
        at=at,
        before={"status": "built"},
        after={"status": "cancelled"},
        reason=reason,
    )
    return ach_file


# Returns and notifications of change -----------------------------------------------------------


class UnknownTrace(ValidationError):
    def __init__(self, trace: str, code: str):
        super().__init__(
            {
                "file": f"{code} for trace number {trace}: no entry Ohm sent has that trace "
                "number. Nothing was posted."
            },
            code="unknown_trace",
        )


@dataclass
class ReturnsResult:
    imported: AchReturnImport
    replayed: bool
    items: list[AchReturnItem]


def _entries_by_trace(traces: list[str]) -> dict[str, AchEntry]:
    return {
        e.trace_number: e
        for e in AchEntry.objects.filter(trace_number__in=traces).select_related(
            "enrolment", "refund", "payment", "account", "ach_file"
        )
    }


@transaction.atomic
def import_returns(*, data: bytes, file_name: str, actor, at: datetime) -> ReturnsResult:
    """Post a bank's returns / NOC file. Everything is checked before anything is written.

    :raises nacha.NachaError: the file breaks a NACHA rule (line, field, value).
    :raises UnknownTrace: a return or NOC names a trace number Ohm never sent.
    """
    digest = hashlib.sha256(data).hexdigest()
    done = AchReturnImport.objects.filter(sha256=digest).first()
    if done is not None:
        return ReturnsResult(done, True, list(done.items.all()))
    parsed = nacha.parse(data)
    returns, changes = nacha.returns_and_changes(parsed)
    addenda: list[tuple[nacha.Entry, nacha.ReturnAddenda | nacha.ChangeAddenda]] = [
        (e, a) for e in returns if (a := e.return_addenda) is not None
    ] + [(e, c) for e in changes if (c := e.change_addenda) is not None]
    entries = _entries_by_trace([a.original_trace for _, a in addenda])
    for _, item in addenda:
        known = entries.get(item.original_trace)
        if known is not None and known.status == AchEntry.Status.BUILT:
            raise ValidationError(
                {"file": f"Trace number {item.original_trace} is in {known.ach_file.file_name}, "
                 "which was never released: the bank cannot have returned it. Nothing was posted."},
                code="not_sent",
            )  # fmt: skip
        if known is None or known.status == AchEntry.Status.CANCELLED:
            code = getattr(item, "return_code", "") or getattr(item, "change_code", "")
            raise UnknownTrace(item.original_trace, code)
    imported = AchReturnImport.objects.create(
        sha256=digest, file_name=file_name[:200], imported_at=at, imported_by_label=_label(actor)
    )
    effective = localdate(at)
    items = []
    for returned, item in addenda:
        entry = entries[item.original_trace]
        if isinstance(item, nacha.ReturnAddenda):
            kind, code = AchReturnItem.Kind.RETURN, item.return_code
        else:
            kind, code = AchReturnItem.Kind.CHANGE, item.change_code
        if AchReturnItem.objects.filter(
            original_trace=item.original_trace, kind=kind, code=code
        ).exists():
            continue  # handled from another file already
        if kind == AchReturnItem.Kind.RETURN:
            outcome, work_item = _handle_return(
                entry, code, effective=effective, actor=actor, at=at
            )
            imported.return_count += 1
            imported.returned_cents += returned.amount_cents
        else:
            assert isinstance(item, nacha.ChangeAddenda)
            outcome, work_item = _handle_change(entry, item, actor=actor, at=at)
            imported.change_count += 1
        items.append(
            AchReturnItem.objects.create(
                imported=imported,
                kind=kind,
                code=code,
                original_trace=item.original_trace,
                entry=entry,
                amount_cents=returned.amount_cents,
                outcome=outcome[:300],
                work_item=work_item,
            )
        )
    imported.save(update_fields=["return_count", "change_count", "returned_cents"])
    audit.record(
        "banking.ach_returns.imported",
        subject=imported,
        actor=actor,
        at=at,
        after={
            "file": file_name,
            "sha256": digest,
            "returns": imported.return_count,
            "changes": imported.change_count,
            "returned_cents": imported.returned_cents,
        },
    )
    return ReturnsResult(imported, False, items)


def _handle_return(entry: AchEntry, code: str, *, effective: date, actor, at: datetime):
    description = nacha.RETURN_CODES.get(code, code)
    enrolment = entry.enrolment
    parts = []
    work_item = None
    if entry.kind == AchEntry.Kind.DEBIT and entry.payment is not None:
        payment = payment_operations.reverse_payment(
            payment=entry.payment,
            reason_code=code,
            effective_date=effective,
            actor=actor,
            at=at,
            fee=code in policies.FUNDS_RETURN_CODES,
            idempotency_key=f"ach-return:{entry.trace_number}",
            memo=f"trace {entry.trace_number}",
        )
        parts.append(f"payment {payment.pk} reversed")
        if payment.fee_entry_id:
            parts.append("returned-payment fee charged")
    elif entry.kind == AchEntry.Kind.PRENOTE and enrolment is not None:
        Enrolment.objects.filter(pk=enrolment.pk).update(prenote_status=Enrolment.Prenote.FAILED)
        parts.append("prenote failed")
    elif entry.kind == AchEntry.Kind.CREDIT and entry.refund is not None:
        refund_operations.undo_issue(
            refund=entry.refund,
            effective_date=effective,
            actor=actor,
            at=at,
            reason=f"{code} {description}",
        )
        parts.append(f"refund {entry.refund.pk} back to approved: reissue it by check")
    entry.status = AchEntry.Status.RETURNED
    entry.return_code = code
    entry.save(update_fields=["status", "return_code"])
    account = Account.objects.get(pk=entry.account_id)
    administrative = code not in policies.FUNDS_RETURN_CODES or entry.kind != AchEntry.Kind.DEBIT
    if enrolment is not None:
        enrolment.refresh_from_db()
    if (
        enrolment is not None
        and enrolment.status == Enrolment.Status.ACTIVE
        and (administrative or account.cash_only)
    ):
        why = (
            f"ACH return {code} ({description})"
            if administrative
            else "cash-only after returned payments"
        )
        autopay.suspend_autopay(enrolment=enrolment, reason=why, actor=actor, at=at)
        parts.append("autopay suspended")
        work_item = autopay.raise_autopay_problem(
            enrolment=enrolment,
            title=f"Autopay suspended on {account.number}: {code} {description}",
            description=f"The bank returned the {entry.get_kind_display().lower()} of "
            f"{format_cents(entry.amount_cents)} (trace {entry.trace_number}) with {code}: "
            f"{description}. Tell the customer and ask for new bank details or another way to pay.",
            actor=actor,
            at=at,
        )
        parts.append(f"work item {work_item.pk} to tell the customer")
    return f"{code} {description}: " + ", ".join(parts), work_item


def _handle_change(entry: AchEntry, item: nacha.ChangeAddenda, *, actor, at: datetime):
    enrolment = entry.enrolment
    description = nacha.CHANGE_CODES.get(item.change_code, item.change_code)
    if enrolment is None or enrolment.status == Enrolment.Status.CANCELLED:
        return f"{item.change_code} {description}: no live autopay to correct", None
    if item.change_code in policies.BANK_DETAIL_CHANGE_CODES:
        try:
            autopay.apply_bank_correction(
                enrolment=enrolment,
                corrections=item.corrections,
                code=item.change_code,
                actor=actor,
                at=at,
            )
        except ValidationError as exc:
            work_item = autopay.raise_autopay_problem(
                enrolment=enrolment,
                title=f"Bank correction {item.change_code} could not be applied",
                description=f"{description}: “{item.corrected_data}” — {'; '.join(exc.messages)}",
                actor=actor,
                at=at,
            )
            return f"{item.change_code}: correction refused ({'; '.join(exc.messages)})", work_item
        return f"{item.change_code} {description}: bank details corrected", None
    work_item = autopay.raise_autopay_problem(
        enrolment=enrolment,
        title=f"Bank notification {item.change_code}: {description}",
        description=f"Corrected data from the bank: “{item.corrected_data}”.",
        actor=actor,
        at=at,
    )
    return f"{item.change_code} {description}: work item for a CSR", work_item
