"""Many payments at once, set-based, for callers that already know each payment's account:
the autopay release (``ohm.banking``), agency remittances. The same write path as the file
import (``imports.post_rows``): one transaction, one deposit entry (the channel's clearing
debited with the total, a credit line per payment), payment rows written set-based, each key
posted once ever.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from ohm.core import audit
from ohm.core.money import format_cents
from ohm.customers.models import Account
from ohm.payments import policies
from ohm.payments.imports import _account_rows_by_id, _posted_keys, post_rows
from ohm.payments.models import Channel
from ohm.payments.operations import KEY_MAX, UNAPPLIED_CATEGORY, check_tender
from ohm.workqueue import operations as workqueue


@dataclass(frozen=True)
class BatchPayment:
    """One payment of a batch. ``idempotency_key`` is unique per channel (an ACH trace
    number, an agency's receipt number)."""

    idempotency_key: str
    amount_cents: int
    tender: str
    account_id: int | None
    reference: str = ""
    payer_name: str = ""


@dataclass
class BatchPosted:
    payment_ids: dict[str, int] = field(default_factory=dict)  # key → payment id, every key
    posted: int = 0
    unapplied: int = 0
    duplicates: int = 0
    total_cents: int = 0


@transaction.atomic
def post_payments_batch(
    *,
    payments: Sequence[BatchPayment],
    channel: str,
    received_at: datetime,
    effective_date: date,
    actor,
    source: str,
) -> BatchPosted:
    """Post ``payments`` in one transaction (see the module docstring). An unknown or closed
    account, or a check or ACH of a cash-only account, goes to suspense with its reason and
    one work item for the batch. Keys posted before are returned with their payment, not
    posted again.

    :raises ValidationError: naming the first bad payment (key, amount, tender); nothing posts.
    """
    if channel not in Channel.values:
        raise ValidationError({"channel": f"“{channel}” is not a payment channel."})
    seen: set[str] = set()
    for index, payment in enumerate(payments):
        where = f"payment {index + 1} (“{payment.idempotency_key}”)"
        key = payment.idempotency_key.strip()
        if not key or len(key) > KEY_MAX:
            raise ValidationError({"idempotency_key": f"{where}: a key of 1–{KEY_MAX} characters."})
        if key in seen:
            raise ValidationError({"idempotency_key": f"{where}: the same key twice in one batch."})
        seen.add(key)
        amount = payment.amount_cents
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise ValidationError(
                {"amount_cents": f"{where}: whole cents above zero, not {amount!r}."}
            )
        check_tender(tender=payment.tender, channel=channel)
    accounts = _account_rows_by_id({p.account_id for p in payments if p.account_id is not None})
    rows: list[list] = []
    for index, payment in enumerate(payments, start=1):
        account_id, reason = payment.account_id, ""
        row = accounts.get(account_id) if account_id is not None else None
        if account_id is None:
            reason = "No account was given."
        elif row is None:
            account_id, reason = None, f"There is no account {payment.account_id}."
        elif row[1] == Account.Status.CLOSED:
            account_id, reason = None, f"Account {row[0]} is closed."
        elif row[2] and payment.tender in policies.REFUSED_WHEN_CASH_ONLY:
            account_id, reason = None, f"Account {row[0]} is cash only: a {payment.tender} arrived."
        rows.append(
            [
                index,
                payment.idempotency_key.strip(),
                payment.amount_cents,
                payment.tender,
                payment.reference[:80],
                payment.payer_name[:120],
                account_id,
                reason[:200],
                row[0] if row else "",
            ]
        )
    fresh, duplicates = post_rows(
        rows,
        channel=channel,
        effective_date=effective_date,
        actor=actor,
        at=received_at,
        import_run_id=None,
        description=source,
        source=source[:80],
    )
    result = BatchPosted(
        posted=sum(1 for r in fresh if r[6]),
        unapplied=sum(1 for r in fresh if not r[6]),
        duplicates=len(duplicates),
        total_cents=sum(r[2] for r in fresh),
    )
    result.payment_ids = _posted_keys(channel, [str(r[1]) for r in rows])
    if result.unapplied:
        workqueue.raise_work_item(
            category_code=UNAPPLIED_CATEGORY,
            title=f"{result.unapplied} unapplied payments from {source}"[:200],
            description="Open the unapplied payments queue and apply each payment.",
            actor=actor,
            at=received_at,
        )
    audit.record(
        "payments.batch.posted",
        subject=None,
        actor=actor,
        at=received_at,
        after={
            "channel": channel,
            "source": source,
            "posted": result.posted,
            "unapplied": result.unapplied,
            "duplicates": result.duplicates,
            "total": format_cents(result.total_cents),
        },
    )
    return result
