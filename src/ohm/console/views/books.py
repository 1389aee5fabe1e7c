"""Views of the books: an account's balance and financial history, and for the staff who keep
the books, the aging report, trial balance, GL summary and journal entries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import cast

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from ohm.agreements.models import ServiceAgreement
from ohm.console.views.auth import staff_required
from ohm.core import clock
from ohm.core.localtime import localdate
from ohm.customers import queries as customer_queries
from ohm.customers.models import Account, AccountPerson
from ohm.ledger import queries as ledger_queries
from ohm.ledger import statements
from ohm.ledger.aging import BUCKET_LABELS, BUCKETS, Aging
from ohm.ledger.models import GLAccount, JournalEntry, Receivable

VIEW_ACCOUNT = "customers.view_account"
VIEW_BOOKS = "ledger.view_books"
TOP_PAST_DUE = 50

KIND_LABELS = {
    "bill": "Bill",
    "payment": "Payment",
    "adjustment": "Adjustment",
    "fee": "Fee",
    "transfer": "Transfer",
    "write_off": "Write-off",
    "write_off_reversal": "Write-off reversal",
    "recovery": "Recovery",
    "reversal": "Reversal",
    "opening_balance": "Opening balance",
    "deposit": "Deposit",
    "refund": "Refund",
}


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind.replace("_", " ").capitalize())


def can_view_books(user) -> bool:
    return user.has_perm(VIEW_BOOKS) or user.is_superuser


def _account_or_404(number: str) -> Account:
    try:
        return customer_queries.get_account(number=number)
    except (ValidationError, customer_queries.AccountNotFound) as exc:
        raise Http404(f"No account {number}") from exc


def _today() -> date:
    return localdate(clock.now())


# ---------------------------------------------------------------------------------------
# The account page's Balance & aging card
# ---------------------------------------------------------------------------------------


@dataclass
class BucketView:
    key: str
    label: str
    cents: int
    percent: float


@dataclass
class BalanceCard:
    aging: Aging
    buckets: list[BucketView] = field(default_factory=list)

    @property
    def is_credit(self) -> bool:
        return self.aging.balance_cents < 0

    @property
    def has_history(self) -> bool:
        return bool(self.aging.balance_cents or self.aging.open_items or self.aging.credit_cents)


def balance_card(*, account_id: int, as_of: date) -> BalanceCard:
    aging = ledger_queries.get_aging(account_id=account_id, as_of=as_of)
    owed = sum(aging.buckets.values())
    return BalanceCard(
        aging=aging,
        buckets=[
            BucketView(
                key,
                BUCKET_LABELS[key],
                aging.buckets[key],
                round(100 * aging.buckets[key] / owed, 1) if owed else 0.0,
            )
            for key in BUCKETS
        ],
    )


# ---------------------------------------------------------------------------------------
# Financial history (statement of account)
# ---------------------------------------------------------------------------------------


def _account_kinds(account_id: int) -> list[str]:
    return sorted(
        set(
            Receivable.objects.filter(account_id=account_id)
            .values_list("entry__kind", flat=True)
            .distinct()
        )
    )


class HistoryFilterForm(forms.Form):
    kind = forms.MultipleChoiceField(required=False, choices=())
    start = forms.DateField(required=False, label="From")
    end = forms.DateField(required=False, label="To")

    def __init__(self, *args, kinds: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        kind_field = cast(forms.MultipleChoiceField, self.fields["kind"])
        kind_field.choices = [(k, kind_label(k)) for k in kinds]
        for name in ("start", "end"):
            self.fields[name].widget = forms.DateInput(attrs={"type": "date"})

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and end < start:
            self.add_error("end", "The end date is before the start date.")
        return cleaned


@dataclass
class HistoryRow:
    entry_id: int
    effective_date: date
    kind: str
    kind_label: str
    description: str
    amount_cents: int
    running_balance_cents: int
    reversed: bool
    reverses_entry_id: int | None

    @property
    def charge_cents(self) -> int | None:
        return self.amount_cents if self.amount_cents > 0 else None

    @property
    def credit_cents(self) -> int | None:
        return -self.amount_cents if self.amount_cents < 0 else None


def _history_context(request, account: Account) -> tuple[dict, int]:
    form = HistoryFilterForm(request.GET or None, kinds=_account_kinds(account.pk))
    status = 200
    start = end = None
    kinds: list[str] = []
    if form.is_bound and form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        kinds = form.cleaned_data["kind"]
    elif form.is_bound:
        status = 422
    opening, rows = ledger_queries.list_statement(
        account_id=account.pk, start_date=start, end_date=end, kinds=kinds or None
    )
    history = [
        HistoryRow(
            entry_id=row.entry_id,
            effective_date=row.effective_date,
            kind=row.kind,
            kind_label=kind_label(row.kind),
            description=row.description,
            amount_cents=row.amount_cents,
            running_balance_cents=row.running_balance_cents,
            reversed=row.reversed,
            reverses_entry_id=row.reverses_entry_id,
        )
        for row in rows
    ]
    query = request.GET.urlencode()
    return {
        "account": account,
        "form": form,
        "rows": history,
        "opening_cents": opening,
        "start": start,
        "end": end,
        "closing_cents": history[-1].running_balance_cents if history else opening,
        "filtered": bool(kinds),
        "query": f"?{query}" if query else "",
        "history_url": reverse("console:account_history", kwargs={"number": account.number}),
    }, status


@staff_required(perm=VIEW_ACCOUNT)
def account_history(request, number: str):
    """Every transaction with its running balance: a section of the account page (htmx) or a
    page of its own."""
    account = _account_or_404(number)
    context, status = _history_context(request, account)
    template = (
        "console/books/_history.html"
        if request.htmx and not request.htmx.boosted
        else "console/books/history.html"
    )
    return render(request, template, context, status=status)


def _statement_download(request, number: str, *, pdf: bool):
    """The statement for the history's date range (through today when open-ended)."""
    account = _account_or_404(number)
    form = HistoryFilterForm(request.GET or None, kinds=_account_kinds(account.pk))
    start = end = None
    if form.is_bound and form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    today = _today()
    main = customer_queries.get_main_person(account=account)
    header = statements.StatementHeader(
        utility_name=settings.UTILITY_NAME,
        account_number=account.formatted_number,
        customer_name=main.display_name if main else "",
        mailing_lines=list(account.mailing_lines),
        as_of=today,
    )
    statement = statements.build_statement(
        account_id=account.pk, header=header, start_date=start, end_date=end or today
    )
    body: bytes | str
    if pdf:
        body, extension, content_type = (
            statements.statement_pdf(statement),
            "pdf",
            "application/pdf",
        )
    else:
        body, extension, content_type = statements.statement_csv(statement), "csv", "text/csv"
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = (
        f'attachment; filename="statement-{account.number}-{statement.end_date:%Y%m%d}.{extension}"'
    )
    return response


@staff_required(perm=VIEW_ACCOUNT)
def statement_csv(request, number: str):
    return _statement_download(request, number, pdf=False)


@staff_required(perm=VIEW_ACCOUNT)
def statement_pdf(request, number: str):
    return _statement_download(request, number, pdf=True)


# ---------------------------------------------------------------------------------------
# Aging report
# ---------------------------------------------------------------------------------------

_RECEIVABLE = Receivable._meta.db_table

# FIFO application in one pass: a charge's open amount is its running total of charges (in
# application order: category, due date, charge date, id) less the account's credits,
# clamped to [0, charge]. The same rule as ``ohm.ledger.aging.age``, set-based.
_AGING_SQL = f"""
WITH ar AS (
    SELECT entry_id * 1000 + position AS id, account_id, amount_cents, effective_date,
           COALESCE(due_date, effective_date) AS due,
           CASE category WHEN 'arrangement' THEN 1 WHEN 'deposit' THEN 2 ELSE 0 END AS rank
    FROM {_RECEIVABLE}
    WHERE effective_date <= %s
),
totals AS (
    SELECT account_id,
           SUM(amount_cents) AS balance,
           SUM(CASE WHEN amount_cents < 0 THEN -amount_cents ELSE 0 END) AS credits
    FROM ar GROUP BY account_id
),
charges AS (
    SELECT account_id, amount_cents, effective_date, due,
           SUM(amount_cents) OVER (
               PARTITION BY account_id ORDER BY rank, due, effective_date, id
               ROWS UNBOUNDED PRECEDING
           ) AS running
    FROM ar WHERE amount_cents > 0
),
open_items AS (
    SELECT c.account_id, c.effective_date, c.due,
           CASE WHEN c.running - t.credits <= 0 THEN 0
                WHEN c.running - t.credits >= c.amount_cents THEN c.amount_cents
                ELSE c.running - t.credits END AS open_cents
    FROM charges c JOIN totals t ON t.account_id = c.account_id
),
per_account AS (
    SELECT account_id,
           SUM(CASE WHEN effective_date >= %s THEN open_cents ELSE 0 END) AS b0,
           SUM(CASE WHEN effective_date < %s AND effective_date >= %s THEN open_cents ELSE 0 END) AS b1,
           SUM(CASE WHEN effective_date < %s AND effective_date >= %s THEN open_cents ELSE 0 END) AS b2,
           SUM(CASE WHEN effective_date < %s AND effective_date >= %s THEN open_cents ELSE 0 END) AS b3,
           SUM(CASE WHEN effective_date < %s THEN open_cents ELSE 0 END) AS b4,
           SUM(CASE WHEN due < %s THEN open_cents ELSE 0 END) AS past_due
    FROM open_items GROUP BY account_id
)
SELECT t.account_id, t.balance, COALESCE(p.b0, 0), COALESCE(p.b1, 0), COALESCE(p.b2, 0),
       COALESCE(p.b3, 0), COALESCE(p.b4, 0), COALESCE(p.past_due, 0)
FROM totals t LEFT JOIN per_account p ON p.account_id = t.account_id
"""


@dataclass(frozen=True)
class AccountAging:
    account_id: int
    balance_cents: int
    buckets: dict[str, int]
    past_due_cents: int


def list_account_agings(*, as_of: date) -> list[AccountAging]:
    """The aging of every account with receivable history, in one query."""
    day = connection.ops.adapt_datefield_value
    edges = [day(as_of - timedelta(days=d)) for d in (30, 60, 90, 120)]
    d30, d60, d90, d120 = edges
    params = [day(as_of), d30, d30, d60, d60, d90, d90, d120, d120, day(as_of)]
    with connection.cursor() as cursor:
        cursor.execute(_AGING_SQL, params)
        rows = cursor.fetchall()
    return [
        AccountAging(
            account_id=row[0],
            balance_cents=int(row[1]),
            buckets=dict(zip(BUCKETS, (int(v) for v in row[2:7]), strict=True)),
            past_due_cents=int(row[7]),
        )
        for row in rows
    ]


@dataclass
class AgingReport:
    as_of: date
    accounts: int = 0
    balance_cents: int = 0
    past_due_cents: int = 0
    past_due_accounts: int = 0
    credit_cents: int = 0
    credit_accounts: int = 0
    buckets: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BUCKETS, 0))
    bucket_accounts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BUCKETS, 0))
    top_past_due: list[dict] = field(default_factory=list)

    @property
    def receivable_cents(self) -> int:
        return sum(self.buckets.values())

    @property
    def current_cents(self) -> int:
        return self.receivable_cents - self.past_due_cents


def build_aging_report(*, as_of: date, top: int = TOP_PAST_DUE) -> AgingReport:
    report = AgingReport(as_of=as_of)
    agings = list_account_agings(as_of=as_of)
    for aging in agings:
        if aging.balance_cents == 0 and not any(aging.buckets.values()):
            continue
        report.accounts += 1
        report.balance_cents += aging.balance_cents
        report.past_due_cents += aging.past_due_cents
        report.past_due_accounts += aging.past_due_cents > 0
        if aging.balance_cents < 0:
            report.credit_cents += -aging.balance_cents
            report.credit_accounts += 1
        for key, cents in aging.buckets.items():
            report.buckets[key] += cents
            report.bucket_accounts[key] += cents > 0
    worst = sorted(
        (a for a in agings if a.past_due_cents > 0),
        key=lambda a: (-a.past_due_cents, a.account_id),
    )[:top]
    ids = [a.account_id for a in worst]
    numbers = dict(Account.objects.filter(pk__in=ids).values_list("pk", "number"))
    statuses = dict(Account.objects.filter(pk__in=ids).values_list("pk", "status"))
    names = {
        link.account_id: link.person.display_name
        for link in AccountPerson.objects.filter(
            account_id__in=ids, role=AccountPerson.Role.MAIN, end_date__isnull=True
        ).select_related("person")
    }
    report.top_past_due = [
        {
            "number": numbers.get(a.account_id, ""),
            "status": statuses.get(a.account_id, ""),
            "name": names.get(a.account_id, ""),
            "balance_cents": a.balance_cents,
            "past_due_cents": a.past_due_cents,
            "buckets": [a.buckets[key] for key in BUCKETS],
        }
        for a in worst
    ]
    return report


class AsOfForm(forms.Form):
    as_of = forms.DateField(required=False, label="As of", widget=forms.DateInput({"type": "date"}))


def _as_of(request) -> tuple[AsOfForm, date, int]:
    form = AsOfForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return form, _today(), 422
    as_of = (form.cleaned_data.get("as_of") if form.is_bound else None) or _today()
    return form, as_of, 200


@staff_required(perm=VIEW_BOOKS)
def aging_report(request):
    form, as_of, status = _as_of(request)
    report = build_aging_report(as_of=as_of)
    context = {
        "form": form,
        "as_of": as_of,
        "report": report,
        "bucket_rows": [
            (BUCKET_LABELS[key], report.buckets[key], report.bucket_accounts[key])
            for key in BUCKETS
        ],
        "bucket_labels": [BUCKET_LABELS[key] for key in BUCKETS],
    }
    return render(request, "console/books/aging.html", context, status=status)


# ---------------------------------------------------------------------------------------
# Trial balance and GL summary
# ---------------------------------------------------------------------------------------


@staff_required(perm=VIEW_BOOKS)
def trial_balance(request):
    form, as_of, status = _as_of(request)
    check = ledger_queries.check_books(as_of=as_of)
    rows = [
        {
            "code": gl.code,
            "name": gl.name,
            "kind": gl.get_kind_display(),
            "debit_cents": max(check.trial_balance.get(gl.code, 0), 0),
            "credit_cents": max(-check.trial_balance.get(gl.code, 0), 0),
            "balance_cents": check.trial_balance.get(gl.code, 0),
        }
        for gl in GLAccount.objects.order_by("code")
    ]
    context = {
        "form": form,
        "as_of": as_of,
        "check": check,
        "rows": [r for r in rows if r["balance_cents"]] if request.GET.get("all") != "1" else rows,
        "hidden": sum(1 for r in rows if not r["balance_cents"]),
        "show_all": request.GET.get("all") == "1",
        "debit_total": sum(r["debit_cents"] for r in rows),
        "credit_total": sum(r["credit_cents"] for r in rows),
        "difference_cents": check.ar_control_cents - check.ar_subledger_total_cents,
    }
    return render(request, "console/books/trial_balance.html", context, status=status)


class PeriodForm(forms.Form):
    start = forms.DateField(label="From", widget=forms.DateInput({"type": "date"}))
    end = forms.DateField(label="To", widget=forms.DateInput({"type": "date"}))

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and end < start:
            self.add_error("end", "The end date is before the start date.")
        if start and end and (end - start).days > 366:
            self.add_error("end", "Ask for at most one year at a time.")
        return cleaned


def _gl_period(request) -> tuple[PeriodForm, date, date, int]:
    today = _today()
    if "start" in request.GET or "end" in request.GET:
        form = PeriodForm(request.GET)
        if form.is_valid():
            return form, form.cleaned_data["start"], form.cleaned_data["end"], 200
        return form, today, today, 422
    return PeriodForm(initial={"start": today, "end": today}), today, today, 200


@staff_required(perm=VIEW_BOOKS)
def gl_summary(request):
    form, start, end, status = _gl_period(request)
    rows = ledger_queries.get_gl_summary(start_date=start, end_date=end) if status == 200 else []
    by_code: dict[str, dict] = {}
    for row in rows:
        total = by_code.setdefault(
            row["code"], {"code": row["code"], "name": row["name"], "debit": 0, "credit": 0}
        )
        total["debit"] += row["debit_cents"]
        total["credit"] += row["credit_cents"]
    for total in by_code.values():
        total["net"] = total["debit"] - total["credit"]
    context = {
        "form": form,
        "start": start,
        "end": end,
        "rows": rows,
        "totals": sorted(by_code.values(), key=lambda t: t["code"]),
        "debit_total": sum(r["debit_cents"] for r in rows),
        "credit_total": sum(r["credit_cents"] for r in rows),
        "net_total": sum(r["net_cents"] for r in rows),
    }
    return render(request, "console/books/gl_summary.html", context, status=status)


@staff_required(perm=VIEW_BOOKS)
def gl_summary_csv(request):
    form, start, end, status = _gl_period(request)
    if status != 200:
        return HttpResponse(
            "; ".join(m for errors in form.errors.values() for m in errors),
            status=422,
            content_type="text/plain",
        )
    body = statements.gl_summary_csv(ledger_queries.get_gl_summary(start_date=start, end_date=end))
    response = HttpResponse(body, content_type="text/csv")
    response["Content-Disposition"] = (
        f'attachment; filename="gl-summary-{start:%Y%m%d}-{end:%Y%m%d}.csv"'
    )
    return response


# ---------------------------------------------------------------------------------------
# One journal entry
# ---------------------------------------------------------------------------------------


@staff_required(perm=VIEW_ACCOUNT)
def entry_detail(request, entry_id: int):
    entry = JournalEntry.objects.select_related("reverses", "actor").filter(pk=entry_id).first()
    if entry is None:
        raise Http404(f"No journal entry {entry_id}")
    lines = ledger_queries.list_entry_lines(entry)
    accounts = Account.objects.in_bulk([line.account_id for line in lines if line.account_id])
    agreements = ServiceAgreement.objects.in_bulk(
        [line.agreement_id for line in lines if line.agreement_id]
    )
    for line in lines:  # for the template
        line.account = accounts.get(line.account_id)  # type: ignore[attr-defined]
        line.service_agreement = agreements.get(line.agreement_id)  # type: ignore[attr-defined]
    reversed_by = JournalEntry.objects.filter(reverses=entry).first()
    context = {
        "entry": entry,
        "kind_label": kind_label(entry.kind),
        "lines": lines,
        "debit_total": sum(line.amount_cents for line in lines if line.amount_cents > 0),
        "credit_total": -sum(line.amount_cents for line in lines if line.amount_cents < 0),
        "reversed_by": reversed_by,
        "accounts": sorted(accounts.values(), key=lambda a: a.number),
        "can_view_books": can_view_books(request.user),
    }
    return render(request, "console/books/entry.html", context)
