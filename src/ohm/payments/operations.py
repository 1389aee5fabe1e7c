"""Posting payments and moving them in the books: the writes every payment door shares.

- ``post_payment``: one payment, one balanced entry — cash clearing of the channel debited,
  the customer's receivable credited (payments then apply to open charges by the ledger's
  rule: charges oldest first, then arrangement installments, then deposits). With no usable
  account (none given, unknown, closed, a check from a cash-only account that already
  reached the bank) the credit goes to unapplied cash (suspense) and a CSR gets a work item.
- ``apply_unapplied``: suspense → the account a CSR found.
- ``transfer_payment``: a payment posted to the wrong account → the right one.
- ``reverse_payment``: the bank returned it (NSF, stop payment, ACH return, chargeback):
  the mirror entry, the returned-payment fee, and cash-only after repeated returns.
- ``cancel_payment_same_day``: a cashier's error undone the day it was taken.

Every operation is keyword-only, takes ``actor`` and the time, runs in one transaction, writes
an audit event, and is idempotent: the same key returns the first result and writes nothing
(the returned payment then has ``replayed = True``).

Lock order: Payment row, then Account row (``update_account`` locks the account).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from ohm.core import audit
from ohm.core.localtime import localdate
from ohm.core.money import format_cents
from ohm.customers import operations as customer_operations
from ohm.customers.models import Account
from ohm.financials import operations as financial_operations
from ohm.ledger import operations as ledger
from ohm.ledger.models import Category
from ohm.ledger.operations import EntrySpec, LineSpec
from ohm.payments import policies
from ohm.payments.models import (
    CLEARING_ROLE,
    CashDrawer,
    Channel,
    Payment,
    PaymentMove,
    Tender,
)
from ohm.workqueue import operations as workqueue
from ohm.workqueue.models import WorkItem

AR = ledger.RECEIVABLES
SUSPENSE = "unapplied_cash"
UNAPPLIED_CATEGORY = "unapplied_payment"
KEY_MAX = 150
CREDIT = Category.CREDIT
CHARGE = Category.CHARGE


# Errors ---------------------------------------------------------------------------------------


class IdempotencyKeyReused(ValidationError):
    """The key was used before for a different payment (other amount or tender)."""

    def __init__(self, payment: Payment):
        super().__init__(
            {
                "idempotency_key": f"This key was already used for payment {payment.pk} of "
                f"{format_cents(payment.amount_cents)}: use a new key for a different payment."
            },
            code="key_reused",
        )


class CashOnlyAccount(ValidationError):
    def __init__(self, account: Account, tender: str):
        super().__init__(
            {
                "tender": f"Account {account.number} is cash only after returned payments: "
                f"{Tender(tender).label.lower()} is refused. Take cash, a money order or a card."
            },
            code="cash_only",
        )


class PaymentAlreadyReversed(ValidationError):
    def __init__(self, payment: Payment):
        super().__init__(
            {"payment": f"Payment {payment.pk} is already {payment.get_status_display().lower()}."},
            code="already_reversed",
        )


class PaymentNotInBooks(ValidationError):
    def __init__(self, payment: Payment, verb: str):
        super().__init__(
            {
                "payment": f"Payment {payment.pk} is {payment.get_status_display().lower()}: "
                f"it cannot be {verb}."
            },
            code="not_in_books",
        )


class CancelTooLate(ValidationError):
    def __init__(self, payment: Payment, taken_on: date):
        super().__init__(
            {
                "payment": f"Payment {payment.pk} was taken on {taken_on:%b %-d, %Y}: only a "
                "payment taken today can be cancelled. Reverse it instead."
            },
            code="cancel_too_late",
        )


# Helpers ---------------------------------------------------------------------------------------


def journal_key(channel: str, idempotency_key: str) -> str:
    """The journal entry key of the payment a channel's key names (fits the ledger's 200)."""
    return f"payment:{channel}:{idempotency_key}"


def _label(actor) -> str:
    return getattr(actor, "username", "") or str(actor)


def _cents(value, field: str = "amount_cents") -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError({field: f"Amounts are whole cents, not {value!r}."})
    if value <= 0:
        raise ValidationError({field: "The amount must be more than zero."})
    return value


def _key(value: str) -> str:
    key = (value or "").strip()
    if not key:
        raise ValidationError({"idempotency_key": "Every payment needs an idempotency key."})
    if len(key) > KEY_MAX:
        raise ValidationError({"idempotency_key": f"Keys are at most {KEY_MAX} characters."})
    return key


def _aware(value: datetime, field: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValidationError({field: "Give an aware date and time."})
    return value


def _no_card_numbers(**texts: str) -> None:
    for name, text in texts.items():
        if policies.contains_card_number(text):
            raise ValidationError(
                {
                    name: "This looks like a card number. Ohm never keeps card numbers: use the "
                    "card form, whose hosted fields send the card to the processor."
                },
                code="card_number",
            )


def check_tender(*, tender: str, channel: str) -> None:
    if channel not in Channel.values:
        raise ValidationError({"channel": f"“{channel}” is not a payment channel."})
    if tender not in Tender.values:
        raise ValidationError({"tender": f"“{tender}” is not a tender."})
    if tender not in policies.TENDERS_BY_CHANNEL[channel]:
        raise ValidationError(
            {
                "tender": f"The {Channel(channel).label.lower()} channel does not take "
                f"{Tender(tender).label.lower()}."
            },
            code="tender_not_taken",
        )


def destination(
    *, account: Account | None, account_id: int | None, tender: str, channel: str
) -> tuple[Account | None, str]:
    """Where a payment goes: (account, "") or (None, why it goes to suspense).

    :raises CashOnlyAccount: for a check or ACH offered at the counter, by phone or online.
    """
    if account is None:
        if account_id is None:
            return None, "No account was given."
        return None, f"There is no account {account_id}."
    if account.status == Account.Status.CLOSED:
        return None, f"Account {account.number} is closed."
    if account.cash_only and tender in policies.REFUSED_WHEN_CASH_ONLY:
        if channel in policies.RECEIVED_CHANNELS:
            return None, (
                f"Account {account.number} is cash only: a {Tender(tender).label.lower()} "
                "arrived anyway."
            )
        raise CashOnlyAccount(account, tender)
    return account, ""


_TENDER_LABELS = {code: label.lower() for code, label in Tender.choices}
_CHANNEL_LABELS = {code: label.lower() for code, label in Channel.choices}


def payment_lines(
    *, channel: str, amount_cents: int, account_id: int | None, memo: str
) -> list[LineSpec]:
    """Cash clearing of the channel debited; the account's receivable (or suspense) credited."""
    if account_id is None:
        credit = LineSpec(SUSPENSE, -amount_cents, memo=memo)
    else:
        credit = LineSpec(AR, -amount_cents, account_id=account_id, category=CREDIT, memo=memo)
    return [LineSpec(CLEARING_ROLE[channel], amount_cents, memo=memo), credit]


def payment_description(*, tender: str, channel: str, reference: str, unapplied: bool) -> str:
    text = f"Payment — {_TENDER_LABELS[tender]}, {_CHANNEL_LABELS[channel]}"
    if reference:
        text += f" #{reference}"
    return text + (" (unapplied)" if unapplied else "")


def _replay(payment: Payment, *, amount_cents: int, tender: str) -> Payment:
    """The payment already made under a key, if the request is the same one again. (The
    account is not compared: the payment may since have moved from suspense or been
    transferred.)"""
    if payment.amount_cents != amount_cents or payment.tender != tender:
        raise IdempotencyKeyReused(payment)
    payment.replayed = True  # type: ignore[attr-defined]
    return payment


def _raise_unapplied_item(payment: Payment, *, actor, at: datetime) -> WorkItem:
    who = f" from {payment.payer_name}" if payment.payer_name else ""
    return workqueue.raise_work_item(
        category_code=UNAPPLIED_CATEGORY,
        title=f"Apply payment {payment.pk}: {format_cents(payment.amount_cents)}{who}"[:200],
        description=f"{payment.unapplied_reason} Given: “{payment.stated_account or '—'}”, "
        f"reference “{payment.reference or '—'}”. Find the account and apply it from the "
        "unapplied payments queue.",
        subject=payment,
        actor=actor,
        at=at,
    )


def _close_item(payment: Payment, *, resolution: str, actor, at: datetime) -> None:
    if payment.work_item_id is None:
        return
    item = WorkItem.objects.get(pk=payment.work_item_id)
    if not item.is_closed:
        workqueue.set_work_status(
            item=item, status=WorkItem.Status.DONE, resolution=resolution, actor=actor, at=at
        )


# Posting ---------------------------------------------------------------------------------------
#
# The online path is one request at the window or the portal: its reads and the payment's
# insert are written as plain SQL (a handful of statements, each well under a millisecond),
# because building each through the ORM cost more than the database did.


def _payment_under(channel: str, key: str) -> Payment | None:
    """The payment already posted under the channel's key, if any."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {Payment._meta.db_table} WHERE channel = %s AND idempotency_key = %s",
            [channel, key],
        )
        row = cursor.fetchone()
    return Payment.objects.get(pk=row[0]) if row else None


def _lock_open_drawer(drawer: CashDrawer) -> None:
    """Lock the drawer's row for this transaction (so it cannot close under the payment) and
    check it is open.

    :raises CashDrawer.DoesNotExist: no such drawer.
    :raises ValidationError: it is closed or signed off.
    """
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT name, status FROM {CashDrawer._meta.db_table} WHERE id = %s{lock}",
            [drawer.pk],
        )
        row = cursor.fetchone()
    if row is None:
        raise CashDrawer.DoesNotExist(f"There is no cash drawer {drawer.pk}.")
    name, status = row
    if status != CashDrawer.Status.OPEN:
        raise ValidationError(
            {"drawer": f"Drawer {name} is {CashDrawer.Status(status).label.lower()}."},
            code="drawer_not_open",
        )


_ACCOUNT_FIELDS = ["id", "number", "status", "cash_only"]


def _account_for_payment(account_id: int) -> Account | None:
    """The account with only what a payment reads of it (number, status, cash only)."""
    pk = Account._meta.pk.get_prep_value(account_id)  # type: ignore[union-attr]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(_ACCOUNT_FIELDS)} FROM {Account._meta.db_table} WHERE id = %s",
            [pk],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    return Account.from_db(
        connection.alias, _ACCOUNT_FIELDS, [row[0], row[1], row[2], bool(row[3])]
    )


def _insert_once(payment: Payment) -> bool:
    """Insert the payment unless its channel's key is taken (``ON CONFLICT DO NOTHING``: no
    savepoint, and a concurrent request's payment is found, not an error). True when this
    call wrote it (``payment.pk`` set)."""
    fields = [field for field in Payment._meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    values = [field.get_db_prep_save(field.pre_save(payment, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(Payment._meta.db_table)} "
            f"({', '.join(quote(str(field.column)) for field in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))}) "
            "ON CONFLICT (channel, idempotency_key) DO NOTHING RETURNING id",
            values,
        )
        row = cursor.fetchone()
    if row is None:
        return False
    payment.pk = row[0]
    payment._state.adding = False
    payment._state.db = connection.alias
    return True


@transaction.atomic
def post_payment(
    *,
    account_id: int | None,
    amount_cents: int,
    tender: str,
    channel: str,
    idempotency_key: str,
    received_at: datetime,
    effective_date: date,
    actor,
    reference: str = "",
    payer_name: str = "",
    tender_detail: str = "",
    stated_account: str = "",
    drawer: CashDrawer | None = None,
    processor_ref: str = "",
    unapplied_reason: str = "",
) -> Payment:
    """Post one payment as one balanced entry and return it.

    ``account_id`` None (or an unknown/closed account, or a check from a cash-only account
    arriving by lockbox or pay agent) posts to unapplied cash and raises a work item;
    ``unapplied_reason`` forces suspense with that reason (e.g. an ambiguous stub).
    The same ``idempotency_key`` on the same ``channel`` returns the first payment
    (``replayed = True``) and writes nothing.

    :raises IdempotencyKeyReused: the key was used for a different amount or tender.
    :raises CashOnlyAccount: a check or ACH from a cash-only account at the counter or online.
    :raises ValidationError: bad amount, tender the channel does not take, closed period,
        a card number where none may be, a drawer that is not open.
    """
    key = _key(idempotency_key)
    check_tender(tender=tender, channel=channel)
    existing = _payment_under(channel, key)
    if existing is not None:
        return _replay(existing, amount_cents=amount_cents, tender=tender)
    amount = _cents(amount_cents)
    received_at = _aware(received_at, "received_at")
    _no_card_numbers(
        reference=reference,
        payer_name=payer_name,
        tender_detail=tender_detail,
        stated_account=stated_account,
    )
    if drawer is not None:
        _lock_open_drawer(drawer)
    elif channel == Channel.CASHIER and tender != Tender.CARD:
        raise ValidationError(
            {"drawer": "Open a cash drawer before taking cash, checks or money orders."},
            code="no_drawer",
        )
    account = _account_for_payment(account_id) if account_id is not None else None
    target, reason = destination(
        account=account, account_id=account_id, tender=tender, channel=channel
    )
    if unapplied_reason:
        target, reason = None, unapplied_reason
    payment = Payment(
        account_id=target.pk if target is not None else None,
        amount_cents=amount,
        tender=tender,
        channel=channel,
        status=Payment.Status.POSTED if target else Payment.Status.UNAPPLIED,
        idempotency_key=key,
        reference=reference.strip()[:80],
        payer_name=payer_name.strip()[:120],
        tender_detail=tender_detail.strip()[:60],
        stated_account=(stated_account or (account.number if account else ""))[:40],
        unapplied_reason=reason[:200],
        received_at=received_at,
        effective_date=effective_date,
        entry_id=journal_key(channel, key),
        drawer=drawer,
        processor_ref=processor_ref[:80],
        created_by_label=_label(actor),
    )
    if not _insert_once(payment):
        # Another request posted the same key first and has committed: return its payment.
        existing = _payment_under(channel, key)
        if existing is None:  # pragma: no cover - the conflict names a row that exists
            raise IntegrityError(f"payment key {key} conflicts but no payment holds it")
        return _replay(existing, amount_cents=amount_cents, tender=tender)
    post_to_books(payment, actor=actor, at=received_at)
    payment.replayed = False  # type: ignore[attr-defined]
    return payment


def post_to_books(payment: Payment, *, actor, at: datetime) -> None:
    """Post the entry of a payment row already written with its ``entry_id`` key, audit it, and
    raise the work item when it is unapplied. Runs inside the caller's transaction."""
    unapplied = payment.account_id is None
    memo = payment.reference or payment.payer_name
    if payment.entry_id is None:
        raise ValueError(f"payment {payment.pk} has no journal key to post under")
    entry = ledger.post_entry(
        EntrySpec(
            kind="payment",
            effective_date=payment.effective_date,
            idempotency_key=str(payment.entry_id),
            description=payment_description(
                tender=payment.tender,
                channel=payment.channel,
                reference=payment.reference,
                unapplied=unapplied,
            ),
            lines=payment_lines(
                channel=payment.channel,
                amount_cents=payment.amount_cents,
                account_id=payment.account_id,
                memo=memo,
            ),
            reason_code="payment",
            source=f"payment:{payment.pk}",
        ),
        actor=actor,
        at=at,
        audited=False,
    )
    audit.record(
        "payments.payment.unapplied" if unapplied else "payments.payment.posted",
        subject=payment,
        actor=actor,
        at=at,
        account_id=payment.account_id,
        after={
            "amount_cents": payment.amount_cents,
            "tender": payment.tender,
            "channel": payment.channel,
            "reference": payment.reference,
            "entry": entry.pk,
            "unapplied_reason": payment.unapplied_reason,
        },
    )
    if unapplied:
        payment.work_item = _raise_unapplied_item(payment, actor=actor, at=at)
        payment.save(update_fields=["work_item"])


# Moving a posted payment -----------------------------------------------------------------------


def _lock(payment: Payment) -> Payment:
    return Payment.objects.select_for_update().get(pk=payment.pk)


def _usable_account(account: Account, field: str) -> Account:
    account = Account.objects.get(pk=account.pk)
    if account.status == Account.Status.CLOSED:
        raise ValidationError({field: f"Account {account.number} is closed."})
    return account


def _moved_under(payment: Payment, key: str) -> bool:
    """Whether the payment was already moved by the entry posted under ``key``."""
    return payment.moves.filter(entry_id=key).exists()  # type: ignore[misc]  # a key, not a pk


@transaction.atomic
def apply_unapplied(
    *,
    payment: Payment,
    account: Account,
    effective_date: date,
    actor,
    at: datetime,
    note: str = "",
) -> Payment:
    """Move an unapplied payment from suspense to ``account``: unapplied cash debited, the
    account's receivable credited, in one entry. Applying it again returns it unchanged.

    :raises PaymentNotInBooks: if it is not unapplied (posted elsewhere, reversed…).
    """
    payment = _lock(payment)
    key = f"payment-apply:{payment.pk}"
    if payment.status == Payment.Status.POSTED and _moved_under(payment, key):
        payment.replayed = True  # type: ignore[attr-defined]
        return payment
    if payment.status != Payment.Status.UNAPPLIED:
        raise PaymentNotInBooks(payment, "applied from suspense")
    account = _usable_account(account, "account")
    memo = note.strip() or f"payment {payment.pk}"
    entry = ledger.post_entry(
        EntrySpec(
            kind="payment_applied",
            effective_date=effective_date,
            idempotency_key=key,
            description=f"Unapplied payment {payment.pk} applied to {account.number}",
            lines=[
                LineSpec(SUSPENSE, payment.amount_cents, memo=memo),
                LineSpec(
                    AR, -payment.amount_cents, account_id=account.pk, category=CREDIT, memo=memo
                ),
            ],
            reason_code="payment_applied",
            source=f"payment:{payment.pk}",
        ),
        actor=actor,
        at=at,
        audited=False,
    )
    PaymentMove.objects.create(
        payment=payment,
        kind=PaymentMove.Kind.APPLIED,
        to_account=account,
        entry_id=entry.idempotency_key,
        reason=note.strip()[:200],
        moved_at=at,
        actor_label=_label(actor),
    )
    payment.account = account
    payment.status = Payment.Status.POSTED
    payment.save(update_fields=["account", "status"])
    audit.record(
        "payments.payment.applied",
        subject=payment,
        actor=actor,
        at=at,
        account_id=account.pk,
        before={"status": "unapplied", "reason": payment.unapplied_reason},
        after={"status": "posted", "account": account.number, "entry": entry.pk},
        reason=note,
    )
    _close_item(
        payment,
        resolution=f"Applied to account {account.number} by {_label(actor)}.",
        actor=actor,
        at=at,
    )
    payment.replayed = False  # type: ignore[attr-defined]
    return payment


@transaction.atomic
def transfer_payment(
    *,
    payment: Payment,
    to_account: Account,
    reason: str,
    effective_date: date,
    actor,
    at: datetime,
    idempotency_key: str,
) -> Payment:
    """Move a payment posted to the wrong account onto the right one: the wrong account's
    receivable debited (owed again, due at once) and the right one's credited, one entry.

    :raises PaymentNotInBooks: if it is not posted to an account.
    :raises ValidationError: same account, closed target, no reason.
    """
    key = f"payment-transfer:{_key(idempotency_key)}"
    payment = _lock(payment)
    if _moved_under(payment, key):
        payment.replayed = True  # type: ignore[attr-defined]
        return payment
    if payment.status != Payment.Status.POSTED or payment.account_id is None:
        raise PaymentNotInBooks(payment, "transferred")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the payment moves."})
    to_account = _usable_account(to_account, "to_account")
    if to_account.pk == payment.account_id:
        raise ValidationError(
            {"to_account": f"Payment {payment.pk} is already on account {to_account.number}."}
        )
    from_account = Account.objects.get(pk=payment.account_id)
    amount = payment.amount_cents
    entry = ledger.post_entry(
        EntrySpec(
            kind="payment_transfer",
            effective_date=effective_date,
            idempotency_key=key,
            description=f"Payment {payment.pk} moved {from_account.number} → {to_account.number}: "
            f"{reason}",
            lines=[
                LineSpec(
                    AR,
                    amount,
                    account_id=from_account.pk,
                    due_date=effective_date,
                    category=CHARGE,
                    memo=f"payment {payment.pk} to {to_account.number}",
                ),
                LineSpec(
                    AR,
                    -amount,
                    account_id=to_account.pk,
                    category=CREDIT,
                    memo=f"payment {payment.pk} from {from_account.number}",
                ),
            ],
            reason_code="payment_transfer",
            source=f"payment:{payment.pk}",
        ),
        actor=actor,
        at=at,
        audited=False,
    )
    PaymentMove.objects.create(
        payment=payment,
        kind=PaymentMove.Kind.TRANSFERRED,
        from_account=from_account,
        to_account=to_account,
        entry_id=entry.idempotency_key,
        reason=reason[:200],
        moved_at=at,
        actor_label=_label(actor),
    )
    payment.account = to_account
    payment.save(update_fields=["account"])
    for account_id, event in (
        (from_account.pk, "transferred_out"),
        (to_account.pk, "transferred_in"),
    ):
        audit.record(
            f"payments.payment.{event}",
            subject=payment,
            actor=actor,
            at=at,
            account_id=account_id,
            before={"account": from_account.number},
            after={"account": to_account.number, "entry": entry.pk},
            reason=reason,
        )
    payment.replayed = False  # type: ignore[attr-defined]
    return payment


def _undo_lines(payment: Payment, *, effective_date: date, memo: str) -> list[LineSpec]:
    """The mirror of where the payment is now: the account (or suspense) debited, the
    channel's cash clearing credited. Money owed again is due at once."""
    clearing = CLEARING_ROLE[Channel(payment.channel)]
    if payment.status == Payment.Status.UNAPPLIED:
        debit = LineSpec(SUSPENSE, payment.amount_cents, memo=memo)
    else:
        debit = LineSpec(
            AR,
            payment.amount_cents,
            account_id=payment.account_id,
            due_date=effective_date,
            category=CHARGE,
            memo=memo,
        )
    return [debit, LineSpec(clearing, -payment.amount_cents, memo=memo)]


#: Entries that hold many payments (a file chunk's deposit): reversing one payment does not
#: reverse the entry, so its mirror does not point at it.
SHARED_ENTRY_KINDS = {"payment_batch"}


def _own_entry(payment: Payment):
    """The payment's entry when the entry is the payment's alone (so the mirror may point at it)."""
    entry = payment.entry
    return entry if entry is not None and entry.kind not in SHARED_ENTRY_KINDS else None


def count_returns(*, account_id: int, at: datetime) -> int:
    """Returned payments of the account (reasons that count) in the window before ``at``."""
    since = at - timedelta(days=policies.returns_window_days())
    reasons = Payment.objects.filter(
        account_id=account_id,
        status=Payment.Status.REVERSED,
        reversed_at__gt=since,
        reversed_at__lte=at,
    ).values_list("reversal_reason", flat=True)
    return sum(1 for code in reasons if policies.counts_as_return(code))


@transaction.atomic
def reverse_payment(
    *,
    payment: Payment,
    reason_code: str,
    effective_date: date,
    actor,
    at: datetime,
    fee: bool = True,
    idempotency_key: str = "",
    memo: str = "",
) -> Payment:
    """Undo a payment the bank returned (NSF check, stop payment, ACH return ``R01``…,
    chargeback): the mirror entry pointing at the original; for a customer's return
    (``policies.counts_as_return``) and ``fee=True`` the returned-payment fee through
    ``ohm.financials``; and the account made cash-only when its returns within the window
    reach the configured number. The same key (default: one reversal per payment) returns
    the payment unchanged.

    :raises PaymentAlreadyReversed: reversed or cancelled before under another key.
    :raises PaymentNotInBooks: a card payment never captured, a declined one.
    :raises ValidationError: an unknown reason code.
    """
    payment = _lock(payment)
    key = f"payment-reversal:{(idempotency_key or '').strip() or payment.pk}"
    if payment.status in (Payment.Status.REVERSED, Payment.Status.CANCELLED):
        if payment.reversal_entry_id == key:
            payment.replayed = True  # type: ignore[attr-defined]
            return payment
        raise PaymentAlreadyReversed(payment)
    if not payment.is_in_books:
        raise PaymentNotInBooks(payment, "reversed")
    if not policies.is_known_return_reason(reason_code):
        raise ValidationError(
            {"reason_code": f"“{reason_code}” is not a return reason."}, code="unknown_reason"
        )
    label = policies.return_reason_label(reason_code)
    text = f"{label}" + (f" — {memo.strip()}" if memo.strip() else "")
    entry = ledger.post_entry(
        EntrySpec(
            kind="payment_reversal",
            effective_date=effective_date,
            idempotency_key=key,
            description=f"Returned payment {payment.pk}: {text}"[:200],
            lines=_undo_lines(payment, effective_date=effective_date, memo=label),
            reason_code=reason_code[:40],
            source=f"payment:{payment.pk}",
        ),
        actor=actor,
        at=at,
        reverses=_own_entry(payment),
        audited=False,
    )
    before_status = payment.status
    payment.status = Payment.Status.REVERSED
    payment.reversal_entry_id = entry.idempotency_key
    payment.reversal_reason = reason_code[:40]
    payment.reversed_at = at
    customer_return = policies.counts_as_return(reason_code) and payment.account_id is not None
    if fee and customer_return and payment.account is not None:
        outcome = financial_operations.assess_fee(
            account=payment.account,
            kind="returned_payment",
            effective_date=effective_date,
            memo=f"payment {payment.pk}: {label}",
            actor=actor,
            at=at,
            idempotency_key=f"{key}:fee",
        )
        if outcome.entry is not None:
            payment.fee_entry_id = outcome.entry.idempotency_key
    payment.save(
        update_fields=["status", "reversal_entry", "reversal_reason", "reversed_at", "fee_entry"]
    )
    audit.record(
        "payments.payment.reversed",
        subject=payment,
        actor=actor,
        at=at,
        account_id=payment.account_id,
        before={"status": before_status},
        after={
            "status": "reversed",
            "reason_code": reason_code,
            "entry": entry.pk,
            "fee_entry": payment.fee_entry_id,
        },
        reason=text,
    )
    if before_status == Payment.Status.UNAPPLIED:
        _close_item(payment, resolution=f"Payment returned: {label}.", actor=actor, at=at)
    if customer_return and payment.account_id is not None:
        _apply_cash_only_rule(payment, actor=actor, at=at)
    payment.replayed = False  # type: ignore[attr-defined]
    return payment


def _apply_cash_only_rule(payment: Payment, *, actor, at: datetime) -> None:
    threshold = policies.cash_only_after_returns()
    if threshold <= 0 or payment.account_id is None:
        return
    returns = count_returns(account_id=payment.account_id, at=at)
    account = Account.objects.get(pk=payment.account_id)
    if returns >= threshold and not account.cash_only:
        customer_operations.update_account(
            account=account,
            changes={"cash_only": True},
            actor=actor,
            at=at,
            reason=f"{returns} returned payments in {policies.returns_window_days()} days "
            f"(latest: payment {payment.pk}).",
        )


@transaction.atomic
def cancel_payment_same_day(
    *,
    payment: Payment,
    reason: str,
    actor,
    at: datetime,
) -> Payment:
    """Undo a payment taken in error, the same local day, before its drawer closed: the mirror
    entry, no fee, not counted as a return. Cancelling again returns it unchanged. A card
    payment is voided at the processor first (``ohm.payments.cards.void_card_payment``).

    :raises CancelTooLate: taken on an earlier day (reverse it instead).
    :raises ValidationError: its drawer is closed; no reason.
    """
    payment = _lock(payment)
    key = f"payment-cancel:{payment.pk}"
    if payment.status == Payment.Status.CANCELLED:
        payment.replayed = True  # type: ignore[attr-defined]
        return payment
    if payment.status == Payment.Status.REVERSED:
        raise PaymentAlreadyReversed(payment)
    if not payment.is_in_books:
        raise PaymentNotInBooks(payment, "cancelled")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why the payment is cancelled."})
    taken_on = localdate(payment.received_at)
    today = localdate(at)
    if taken_on != today:
        raise CancelTooLate(payment, taken_on)
    if payment.drawer_id is not None:
        drawer = CashDrawer.objects.get(pk=payment.drawer_id)
        if drawer.status != CashDrawer.Status.OPEN:
            raise ValidationError(
                {"payment": f"Drawer {drawer.name} is closed: reverse the payment instead."},
                code="drawer_closed",
            )
    entry = ledger.post_entry(
        EntrySpec(
            kind="payment_reversal",
            effective_date=payment.effective_date,
            idempotency_key=key,
            description=f"Cancelled payment {payment.pk}: {reason}"[:200],
            lines=_undo_lines(payment, effective_date=payment.effective_date, memo="cancelled"),
            reason_code="payment_cancelled",
            source=f"payment:{payment.pk}",
        ),
        actor=actor,
        at=at,
        reverses=_own_entry(payment),
        audited=False,
    )
    before_status = payment.status
    payment.status = Payment.Status.CANCELLED
    payment.reversal_entry_id = entry.idempotency_key
    payment.reversal_reason = "cancelled"
    payment.reversed_at = at
    payment.save(update_fields=["status", "reversal_entry", "reversal_reason", "reversed_at"])
    audit.record(
        "payments.payment.cancelled",
        subject=payment,
        actor=actor,
        at=at,
        account_id=payment.account_id,
        before={"status": before_status},
        after={"status": "cancelled", "entry": entry.pk},
        reason=reason,
    )
    if before_status == Payment.Status.UNAPPLIED:
        _close_item(payment, resolution=f"Payment cancelled: {reason}", actor=actor, at=at)
    payment.replayed = False  # type: ignore[attr-defined]
    return payment
