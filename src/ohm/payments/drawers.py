"""Cash handling: a cashier's drawer from its opening float to the bank deposit.

1. ``open_drawer``: one open drawer per cashier, with the starting float counted in.
2. Payments taken at the counter name the drawer (``post_payment(drawer=...)``).
3. ``close_drawer``: the cashier counts cash (float included), checks and money orders; Ohm
   compares with what the drawer's payments say should be there and posts any difference to
   cash over/short (one entry: cash clearing against the over/short expense account). A
   drawer closes once: a second close is refused and changes nothing.
4. ``sign_off_drawer``: a supervisor (not the cashier) confirms the count.
5. ``make_deposit``: signed-off drawers' cash and checks go to the bank as one deposit,
   printed as a deposit slip.
"""

from __future__ import annotations

from datetime import date, datetime

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import transaction

from ohm.core import audit
from ohm.core.localtime import localdate
from ohm.core.money import format_cents
from ohm.ledger import operations as ledger
from ohm.ledger.operations import EntrySpec, LineSpec
from ohm.payments import queries
from ohm.payments.models import CashDrawer, DepositBatch
from ohm.workqueue import operations as workqueue
from ohm.workqueue.models import WorkItem

CLEARING = "cash_cashier"
OVER_SHORT = "cash_over_short"
SIGNOFF_CATEGORY = "drawer_signoff"


class DrawerAlreadyOpen(ValidationError):
    def __init__(self, drawer: CashDrawer):
        super().__init__(
            {
                "drawer": f"{drawer.cashier.username} already has drawer {drawer.name} open "
                f"since {localdate(drawer.opened_at):%b %-d}: close it first."
            },
            code="drawer_open",
        )


class DrawerAlreadyClosed(ValidationError):
    def __init__(self, drawer: CashDrawer):
        super().__init__(
            {
                "drawer": f"Drawer {drawer.name} of {drawer.business_date:%b %-d, %Y} is already "
                f"{drawer.get_status_display().lower()}: a drawer closes once."
            },
            code="drawer_closed",
        )


def _label(actor) -> str:
    return getattr(actor, "username", "") or str(actor)


def _count(value, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValidationError({field: f"Counts are whole cents, zero or more, not {value!r}."})
    return value


@transaction.atomic
def open_drawer(
    *, cashier, name: str, float_cents: int, actor, at: datetime, business_date: date | None = None
) -> CashDrawer:
    """Open ``cashier``'s drawer for the business day with a starting float.

    :raises DrawerAlreadyOpen: the cashier has a drawer open.
    """
    float_cents = _count(float_cents, "float_cents")
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Name the drawer (the till or window)."})
    current = CashDrawer.objects.filter(cashier=cashier, status=CashDrawer.Status.OPEN).first()
    if current is not None:
        raise DrawerAlreadyOpen(current)
    drawer = CashDrawer.objects.create(
        cashier=cashier,
        name=name[:40],
        business_date=business_date or localdate(at),
        float_cents=float_cents,
        opened_at=at,
    )
    audit.record(
        "payments.drawer.opened",
        subject=drawer,
        actor=actor,
        at=at,
        after={"cashier": cashier.username, "name": drawer.name, "float_cents": float_cents},
    )
    return drawer


@transaction.atomic
def close_drawer(
    *,
    drawer: CashDrawer,
    counted_cash_cents: int,
    counted_checks_cents: int,
    counted_check_count: int,
    counted_money_orders_cents: int,
    actor,
    at: datetime,
    note: str = "",
) -> CashDrawer:
    """Close the drawer with the cashier's counts; post over/short; ask for sign-off.

    Over/short = counted − expected, over all tenders (cash counted includes the float).
    A shortage debits cash over/short and credits the cashier clearing account; an overage
    the reverse, so clearing then holds exactly what goes to the bank.

    :raises DrawerAlreadyClosed: closed before (nothing changes).
    """
    drawer = CashDrawer.objects.select_for_update().select_related("cashier").get(pk=drawer.pk)
    if drawer.status != CashDrawer.Status.OPEN:
        raise DrawerAlreadyClosed(drawer)
    cash = _count(counted_cash_cents, "counted_cash_cents")
    checks = _count(counted_checks_cents, "counted_checks_cents")
    check_count = _count(counted_check_count, "counted_check_count")
    money_orders = _count(counted_money_orders_cents, "counted_money_orders_cents")
    totals = queries.drawer_totals(drawer)
    drawer.expected_cash_cents = drawer.float_cents + totals.cash_cents
    drawer.expected_checks_cents = totals.checks_cents
    drawer.expected_money_orders_cents = totals.money_orders_cents
    drawer.counted_cash_cents = cash
    drawer.counted_checks_cents = checks
    drawer.counted_check_count = check_count
    drawer.counted_money_orders_cents = money_orders
    over_short = (
        cash
        - drawer.expected_cash_cents
        + checks
        - drawer.expected_checks_cents
        + money_orders
        - drawer.expected_money_orders_cents
    )
    drawer.over_short_cents = over_short
    if over_short:
        what = "over" if over_short > 0 else "short"
        entry = ledger.post_entry(
            EntrySpec(
                kind="cash_over_short",
                effective_date=drawer.business_date,
                idempotency_key=f"drawer-over-short:{drawer.pk}",
                description=f"Drawer {drawer.name} ({drawer.cashier.username}) "
                f"{what} {format_cents(abs(over_short))}",
                lines=[
                    LineSpec(CLEARING, over_short, memo=f"drawer {drawer.pk}"),
                    LineSpec(OVER_SHORT, -over_short, memo=f"drawer {drawer.pk}"),
                ],
                reason_code="cash_over_short",
                source=f"drawer:{drawer.pk}",
            ),
            actor=actor,
            at=at,
            audited=False,
        )
        drawer.over_short_entry_id = entry.idempotency_key
    drawer.status = CashDrawer.Status.CLOSED
    drawer.closed_at = at
    drawer.close_note = (note or "").strip()[:200]
    drawer.save()
    audit.record(
        "payments.drawer.closed",
        subject=drawer,
        actor=actor,
        at=at,
        after={
            "counted": {"cash": cash, "checks": checks, "money_orders": money_orders},
            "expected": {
                "cash": drawer.expected_cash_cents,
                "checks": drawer.expected_checks_cents,
                "money_orders": drawer.expected_money_orders_cents,
            },
            "over_short_cents": over_short,
        },
        reason=drawer.close_note,
    )
    balance = "balanced" if not over_short else f"{format_cents(over_short)} over/short"
    workqueue.raise_work_item(
        category_code=SIGNOFF_CATEGORY,
        title=f"Sign off drawer {drawer.name} of {drawer.cashier.username}, "
        f"{drawer.business_date:%b %-d}: {balance}"[:200],
        subject=drawer,
        actor=actor,
        at=at,
    )
    return drawer


def _signoff_items(drawer: CashDrawer):
    return WorkItem.objects.filter(
        subject_type=ContentType.objects.get_for_model(CashDrawer),
        subject_id=str(drawer.pk),
        status__in=[WorkItem.Status.OPEN, WorkItem.Status.IN_PROGRESS, WorkItem.Status.WAITING],
    )


@transaction.atomic
def sign_off_drawer(*, drawer: CashDrawer, actor, at: datetime, note: str = "") -> CashDrawer:
    """A supervisor confirms a closed drawer's count. The cashier cannot sign their own.

    :raises ValidationError: the drawer is open or signed off, or the actor is its cashier.
    """
    drawer = CashDrawer.objects.select_for_update().get(pk=drawer.pk)
    if drawer.status != CashDrawer.Status.CLOSED:
        raise ValidationError(
            {
                "drawer": f"Drawer {drawer.name} is {drawer.get_status_display().lower()}: only a "
                "closed drawer is signed off."
            },
            code="not_closed",
        )
    if getattr(actor, "pk", None) is None:
        raise ValidationError({"signed_off_by": "A person signs off a drawer."})
    if actor.pk == drawer.cashier_id:
        raise ValidationError(
            {"signed_off_by": "A different person must sign off your drawer."}, code="own_drawer"
        )
    drawer.status = CashDrawer.Status.SIGNED_OFF
    drawer.signed_off_by = actor
    drawer.signed_off_at = at
    drawer.save(update_fields=["status", "signed_off_by", "signed_off_at"])
    audit.record(
        "payments.drawer.signed_off",
        subject=drawer,
        actor=actor,
        at=at,
        after={"over_short_cents": drawer.over_short_cents},
        reason=note,
    )
    for item in _signoff_items(drawer):
        workqueue.set_work_status(
            item=item,
            status=WorkItem.Status.DONE,
            resolution=f"Signed off by {actor.username}.",
            actor=actor,
            at=at,
        )
    return drawer


@transaction.atomic
def make_deposit(
    *, drawer_ids: list[int], actor, at: datetime, bank_account: str = ""
) -> DepositBatch:
    """One bank deposit of the counted cash (float kept back), checks and money orders of
    signed-off drawers of one business day.

    :raises ValidationError: no drawers, a drawer not signed off or already deposited, or
        drawers of different days.
    """
    drawers = list(CashDrawer.objects.select_for_update().filter(pk__in=drawer_ids).order_by("pk"))
    if not drawers or len(drawers) != len(set(drawer_ids)):
        raise ValidationError({"drawers": "Choose the signed-off drawers to deposit."})
    for drawer in drawers:
        if drawer.status != CashDrawer.Status.SIGNED_OFF:
            raise ValidationError(
                {
                    "drawers": f"Drawer {drawer.name} is {drawer.get_status_display().lower()}: "
                    "sign it off first."
                }
            )
        if drawer.deposit_id is not None:
            raise ValidationError(
                {"drawers": f"Drawer {drawer.name} is already in deposit {drawer.deposit_id}."}
            )
    days = {drawer.business_date for drawer in drawers}
    if len(days) != 1:
        raise ValidationError({"drawers": "A deposit holds one business day's drawers."})
    cash = sum((d.counted_cash_cents or 0) - d.float_cents for d in drawers)
    checks = sum(d.counted_checks_cents or 0 for d in drawers)
    check_count = sum(d.counted_check_count or 0 for d in drawers)
    money_orders = sum(d.counted_money_orders_cents or 0 for d in drawers)
    deposit = DepositBatch.objects.create(
        business_date=days.pop(),
        cash_cents=cash,
        checks_cents=checks,
        check_count=check_count,
        money_orders_cents=money_orders,
        total_cents=cash + checks + money_orders,
        bank_account=bank_account.strip()[:40],
        created_at=at,
        created_by_label=_label(actor),
    )
    CashDrawer.objects.filter(pk__in=[d.pk for d in drawers]).update(deposit=deposit)
    audit.record(
        "payments.deposit.made",
        subject=deposit,
        actor=actor,
        at=at,
        after={
            "drawers": [d.pk for d in drawers],
            "cash_cents": cash,
            "checks_cents": checks,
            "money_orders_cents": money_orders,
            "total_cents": deposit.total_cents,
        },
    )
    return deposit
