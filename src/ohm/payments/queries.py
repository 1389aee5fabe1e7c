"""Reads of payments: an account's payments, search, the unapplied queue, a drawer's totals,
the daily cash report, and the cashier's account lookup."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.core.exceptions import ValidationError
from django.db.models import Count, Q, QuerySet, Sum

from ohm.core.localtime import day_bounds
from ohm.customers import queries as customer_queries
from ohm.customers.models import Account
from ohm.payments import scanline
from ohm.payments.models import CashDrawer, Channel, ImportRun, Payment, Tender

IN_DRAWER = [Tender.CASH, Tender.CHECK, Tender.MONEY_ORDER]
#: Statuses whose money was taken (a later return does not take it out of that day's drawer).
TAKEN = [Payment.Status.POSTED, Payment.Status.UNAPPLIED, Payment.Status.REVERSED]


class PaymentNotFound(LookupError):
    pass


def get_payment(*, payment_id: int) -> Payment:
    try:
        return Payment.objects.select_related("account", "drawer", "import_run").get(pk=payment_id)
    except Payment.DoesNotExist as exc:
        raise PaymentNotFound(payment_id) from exc


def list_account_payments(*, account_id: int) -> QuerySet[Payment]:
    return Payment.objects.filter(account_id=account_id).order_by("-received_at", "-id")


def list_unapplied() -> QuerySet[Payment]:
    """Payments in suspense, oldest first: the queue a CSR works."""
    return Payment.objects.filter(status=Payment.Status.UNAPPLIED).order_by("received_at", "id")


def search_payments(
    *,
    text: str = "",
    status: str = "",
    channel: str = "",
    tender: str = "",
    start_date: date | None = None,
    end_date: date | None = None,
) -> QuerySet[Payment]:
    """Payments by reference, payer, account number, amount ("12.50") or id, and filters."""
    rows = Payment.objects.select_related("account").order_by("-received_at", "-id")
    text = (text or "").strip()
    if text:
        found = (
            Q(reference__icontains=text)
            | Q(payer_name__icontains=text)
            | Q(stated_account__icontains=text)
            | Q(account__number=re.sub(r"\D", "", text) or "-")
        )
        if re.fullmatch(r"\$?\d+(\.\d{1,2})?", text):
            dollars = text.lstrip("$")
            whole, _, frac = dollars.partition(".")
            found |= Q(amount_cents=int(whole) * 100 + int((frac or "0").ljust(2, "0")))
        if text.isdigit() and len(text) <= 12:
            found |= Q(pk=int(text))
        rows = rows.filter(found)
    if status:
        rows = rows.filter(status=status)
    if channel:
        rows = rows.filter(channel=channel)
    if tender:
        rows = rows.filter(tender=tender)
    if start_date:
        rows = rows.filter(effective_date__gte=start_date)
    if end_date:
        rows = rows.filter(effective_date__lte=end_date)
    return rows


@dataclass(frozen=True)
class DrawerTotals:
    cash_cents: int = 0
    checks_cents: int = 0
    check_count: int = 0
    money_orders_cents: int = 0
    money_order_count: int = 0
    card_cents: int = 0
    card_count: int = 0
    cancelled_count: int = 0


def drawer_totals(drawer: CashDrawer) -> DrawerTotals:
    """What the drawer's payments say it holds, by tender (the float not included)."""
    rows = (
        Payment.objects.filter(drawer=drawer, status__in=TAKEN)
        .values("tender")
        .annotate(cents=Sum("amount_cents"), count=Count("id"))
    )
    by = {row["tender"]: (int(row["cents"] or 0), row["count"]) for row in rows}
    cancelled = Payment.objects.filter(drawer=drawer, status=Payment.Status.CANCELLED).count()
    return DrawerTotals(
        cash_cents=by.get(Tender.CASH, (0, 0))[0],
        checks_cents=by.get(Tender.CHECK, (0, 0))[0],
        check_count=by.get(Tender.CHECK, (0, 0))[1],
        money_orders_cents=by.get(Tender.MONEY_ORDER, (0, 0))[0],
        money_order_count=by.get(Tender.MONEY_ORDER, (0, 0))[1],
        card_cents=by.get(Tender.CARD, (0, 0))[0],
        card_count=by.get(Tender.CARD, (0, 0))[1],
        cancelled_count=cancelled,
    )


def get_open_drawer(*, cashier) -> CashDrawer | None:
    return CashDrawer.objects.filter(cashier=cashier, status=CashDrawer.Status.OPEN).first()


def list_drawers(*, business_date: date | None = None) -> QuerySet[CashDrawer]:
    rows = CashDrawer.objects.select_related("cashier", "signed_off_by", "deposit")
    return rows.filter(business_date=business_date) if business_date else rows


def list_deposit_checks(*, drawer_ids: list[int]) -> QuerySet[Payment]:
    """The checks and money orders of the drawers, for the deposit slip."""
    return (
        Payment.objects.filter(
            drawer_id__in=drawer_ids,
            status__in=TAKEN,
            tender__in=[Tender.CHECK, Tender.MONEY_ORDER],
        )
        .select_related("account")
        .order_by("tender", "received_at", "id")
    )


@dataclass
class CashReport:
    """One day's money in, by channel × tender and by drawer. Cents."""

    day: date
    by_channel_tender: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    by_channel: dict[str, int] = field(default_factory=dict)
    by_tender: dict[str, int] = field(default_factory=dict)
    total_cents: int = 0
    count: int = 0
    drawers: list[tuple[CashDrawer, DrawerTotals]] = field(default_factory=list)
    unapplied_cents: int = 0
    reversed_cents: int = 0
    cancelled_cents: int = 0
    imports: list[ImportRun] = field(default_factory=list)


def daily_cash_report(*, day: date) -> CashReport:
    """Payments received on the utility's local ``day`` (by ``received_at``), by channel and
    tender, with each drawer of the day and the files imported that day. Cancelled payments
    are counted apart; returns are counted on the day taken and shown apart."""
    start, end = day_bounds(day)
    taken = Payment.objects.filter(received_at__gte=start, received_at__lt=end)
    report = CashReport(day=day)
    rows = (
        taken.filter(status__in=TAKEN)
        .values("channel", "tender")
        .annotate(cents=Sum("amount_cents"), count=Count("id"))
        .order_by("channel", "tender")
    )
    by_channel: dict[str, int] = defaultdict(int)
    by_tender: dict[str, int] = defaultdict(int)
    for row in rows:
        cents = int(row["cents"] or 0)
        report.by_channel_tender[(row["channel"], row["tender"])] = (cents, row["count"])
        by_channel[row["channel"]] += cents
        by_tender[row["tender"]] += cents
        report.total_cents += cents
        report.count += row["count"]
    report.by_channel = dict(by_channel)
    report.by_tender = dict(by_tender)

    def total(**filters) -> int:
        return int(taken.filter(**filters).aggregate(t=Sum("amount_cents"))["t"] or 0)

    report.unapplied_cents = total(status=Payment.Status.UNAPPLIED)
    report.reversed_cents = total(status=Payment.Status.REVERSED)
    report.cancelled_cents = total(status=Payment.Status.CANCELLED)
    report.drawers = [(d, drawer_totals(d)) for d in list_drawers(business_date=day)]
    report.imports = list(ImportRun.objects.filter(started_at__gte=start, started_at__lt=end))
    return report


def channel_label(code: str) -> str:
    return Channel(code).label if code in Channel.values else code


def tender_label(code: str) -> str:
    return Tender(code).label if code in Tender.values else code


@dataclass(frozen=True)
class Lookup:
    """What the cashier typed, read: the accounts it names and, from a scan line, the amount due."""

    accounts: list[Account]
    amount_due_cents: int | None = None
    how: str = ""
    message: str = ""


NAME_LOOKUP_LIMIT = 10


def lookup_accounts(text: str) -> Lookup:
    """The cashier's one lookup box: a scan line (21 digits), an account number (10 digits,
    punctuation ignored) or a customer's name (last name first or not)."""
    text = (text or "").strip()
    if not text:
        return Lookup([])
    if scanline.looks_like_scan_line(text):
        try:
            line = scanline.parse_scan_line(text)
        except scanline.InvalidScanLine as exc:
            return Lookup([], how="scan line", message=str(exc))
        account = Account.objects.filter(number=line.account_number).first()
        if account is None:
            return Lookup([], how="scan line", message=f"No account {line.account_number}.")
        return Lookup([account], amount_due_cents=line.amount_due_cents, how="scan line")
    digits = re.sub(r"[\s\-]", "", text)
    if digits.isdigit():
        try:
            return Lookup([customer_queries.get_account(number=digits)], how="account number")
        except ValidationError as exc:
            return Lookup([], how="account number", message=exc.messages[0])
        except customer_queries.AccountNotFound:
            return Lookup([], how="account number", message=f"No account {digits}.")
    words = [w for w in re.split(r"[\s,]+", text) if w]
    persons = Q()
    for word in words:
        persons &= (
            Q(account_persons__person__last_name__istartswith=word)
            | Q(account_persons__person__first_name__istartswith=word)
            | Q(account_persons__person__business_name__icontains=word)
        )
    accounts = list(
        Account.objects.filter(persons, account_persons__end_date__isnull=True)
        .exclude(status=Account.Status.CLOSED)
        .distinct()
        .order_by("number")[:NAME_LOOKUP_LIMIT]
    )
    return Lookup(accounts, how="name", message="" if accounts else f"No customer named “{text}”.")
