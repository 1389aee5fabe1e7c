"""Console pages for financial transactions: adjustment, fee, transfer, write-off, write-off
reversal and recovery forms on an account, and the approvals queue where leads and supervisors decide requests above a
maker's limit.

Every form carries an idempotency key made when the form is first shown, so a double click
or a resubmitted page posts once. The amount field asks the server, as it is typed, what
approval the amount will need.
"""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from ohm.console.forms import ConsoleForm, DateInput, add_operation_errors
from ohm.console.views.auth import staff_required
from ohm.console.views.records import _account, account_url, local_today
from ohm.core import clock
from ohm.core.money import InvalidAmount, format_cents, parse_amount
from ohm.core.permissions import limit_cents
from ohm.customers import queries as customer_queries
from ohm.financials import operations, queries
from ohm.financials.models import FeeSchedule, FinancialRequest
from ohm.ledger import queries as ledger_queries
from ohm.ledger.models import JournalEntry

DIRECTIONS = [("credit", "Credit (lowers what the customer owes)"), ("debit", "Charge")]


class AmountField(forms.Field):
    """Dollars as typed ("1,234.50") to cents, more than zero."""

    widget = forms.TextInput(attrs={"maxlength": 20, "autocomplete": "off"})

    def to_python(self, value):
        text = (value or "").strip()
        if not text:
            return None
        try:
            cents = parse_amount(text)
        except InvalidAmount as exc:
            raise ValidationError(str(exc)) from exc
        if cents <= 0:
            raise ValidationError("The amount must be more than zero.")
        return cents


class MoneyForm(ConsoleForm):
    idempotency_key = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, today, approval_url: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["idempotency_key"].initial = f"console:{uuid.uuid4()}"
        if "effective_date" in self.fields:
            self.fields["effective_date"].initial = today
        if approval_url and "amount" in self.fields:
            # Ask, as the amount is typed, what approval it will need.
            self.fields["amount"].widget.attrs.update(
                {
                    "hx-get": approval_url,
                    "hx-trigger": "input changed delay:250ms, load",
                    "hx-target": "#approval-needed",
                    "hx-sync": "this:replace",
                    "inputmode": "decimal",
                    "aria-describedby": "approval-needed",
                }
            )


class AdjustmentForm(MoneyForm):
    amount = AmountField(label="Amount ($)")
    direction = forms.ChoiceField(choices=DIRECTIONS, widget=forms.RadioSelect, initial="credit")
    reason_code = forms.ChoiceField(label="Reason")
    memo = forms.CharField(max_length=200, required=False, help_text="Shown on the statement")
    effective_date = forms.DateField(label="Effective", widget=DateInput())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason_code"].choices = [("", "—")] + [
            (r.code, r.label) for r in queries.list_active_reasons()
        ]


class FeeForm(MoneyForm):
    kind = forms.ChoiceField(label="Fee", choices=FeeSchedule.Kind.choices)
    memo = forms.CharField(max_length=200, required=False)
    effective_date = forms.DateField(label="Effective", widget=DateInput())


class TransferForm(MoneyForm):
    to_account = forms.CharField(
        label="To account", max_length=20, help_text="The ten-digit number, check digit included"
    )
    amount = AmountField(label="Amount ($)")
    reason = forms.CharField(max_length=200)
    effective_date = forms.DateField(label="Effective", widget=DateInput())

    def clean_to_account(self):
        number = self.cleaned_data["to_account"]
        try:
            return customer_queries.get_account(number=number)
        except ValidationError as exc:
            raise ValidationError(exc.messages[0]) from exc
        except customer_queries.AccountNotFound as exc:
            raise ValidationError(f"There is no account {number}.") from exc


class WriteOffForm(MoneyForm):
    amount = AmountField(label="Amount ($)")
    reason = forms.CharField(max_length=200)
    effective_date = forms.DateField(label="Effective", widget=DateInput())


class WriteOffReversalForm(MoneyForm):
    entry = forms.TypedChoiceField(label="Write-off", coerce=int)
    reason = forms.CharField(max_length=200, help_text="Why the write-off was made in error")
    effective_date = forms.DateField(label="Effective", widget=DateInput())

    def __init__(self, *args, write_offs, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["entry"].choices = [("", "—")] + [
            (
                entry.pk,
                f"JE {entry.pk} · {entry.effective_date:%b %-d, %Y} · "
                f"{format_cents(cents)} · {entry.description}",
            )
            for entry, cents in write_offs
        ]


class RecoveryForm(MoneyForm):
    amount = AmountField(label="Amount ($)")
    memo = forms.CharField(
        max_length=200, required=False, help_text="E.g. the agency's remittance number"
    )
    effective_date = forms.DateField(label="Effective", widget=DateInput())


class DecisionForm(ConsoleForm):
    note = forms.CharField(
        max_length=500,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required to reject",
    )


def _approval_url(kind: str) -> str:
    return f"{reverse('console:approval_needed')}?kind={kind}"


def _done(request, outcome: operations.Outcome, account) -> HttpResponse:
    submitted, entry = outcome.request, outcome.entry
    if outcome.pending and submitted is not None:
        messages.warning(
            request,
            f"Request {submitted.pk} is waiting for approval: {submitted.summary}.",
        )
        return redirect("console:financial_request", pk=submitted.pk)
    if submitted is not None and entry is None:
        messages.info(request, f"Already submitted as request {submitted.pk}.")
        return redirect("console:financial_request", pk=submitted.pk)
    if entry is None:
        raise ValueError("The operation neither posted an entry nor left a request.")
    if outcome.replayed:
        messages.info(request, f"Already posted as journal entry {entry.pk}.")
    else:
        messages.success(request, f"Posted: {entry.description}.")
    return redirect(account_url(account.number))


def _form_page(request, form, account, *, title: str, button: str, kind: str = "", **extra):
    context = {
        "form": form,
        "account": account,
        "account_url": account_url(account.number),
        "title": title,
        "button": button,
        "kind": kind,
        "balance_cents": ledger_queries.get_balance_cents(account_id=account.pk),
        **extra,
    }
    return render(request, "console/financials/form.html", context)


def _run(form, call, *, aliases=None):
    """The operation's outcome, or None with its errors next to the fields they name."""
    try:
        return call()
    except ValidationError as exc:
        add_operation_errors(form, exc, aliases=aliases)
        return None


ALIASES = {"amount_cents": "amount", "to_account": "to_account", "kind": "kind", "entry": "entry"}


def _money_form(request, account, form, post, **page) -> HttpResponse:
    """The money forms' one flow: on a valid POST, ``post(data, who)`` runs the operation
    (``who``: the actor, the moment and the form's idempotency key); its outcome redirects,
    its refusal shows next to the fields it names; otherwise the form page."""
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        who = {
            "actor": request.user,
            "at": clock.now(),
            "idempotency_key": data["idempotency_key"],
        }
        outcome = _run(form, lambda: post(data, who), aliases=ALIASES)
        if outcome is not None:
            return _done(request, outcome, account)
    return _form_page(request, form, account, **page)


@staff_required(perm="financials.post_adjustment")
def adjust(request, number: str):
    account = _account(number)
    form = AdjustmentForm(
        request.POST or None, today=local_today(), approval_url=_approval_url("adjustment")
    )
    return _money_form(
        request,
        account,
        form,
        lambda data, who: operations.post_adjustment(
            account=account,
            amount_cents=data["amount"],
            direction=data["direction"],
            reason_code=data["reason_code"],
            memo=data["memo"],
            effective_date=data["effective_date"],
            **who,
        ),
        title="Adjust",
        button="Post adjustment",
        kind="adjustment",
    )


@staff_required(perm="financials.assess_fee")
def fee(request, number: str):
    account = _account(number)
    schedule = [
        (FeeSchedule.Kind(row.kind).label, row)
        for row in FeeSchedule.objects.filter(effective_date__lte=local_today()).order_by(
            "kind", "-effective_date"
        )
    ]
    return _money_form(
        request,
        account,
        FeeForm(request.POST or None, today=local_today()),
        lambda data, who: operations.assess_fee(
            account=account,
            kind=data["kind"],
            memo=data["memo"],
            effective_date=data["effective_date"],
            **who,
        ),
        title="Charge a fee",
        button="Charge fee",
        fees=schedule,
    )


@staff_required(perm="financials.transfer_balance")
def transfer(request, number: str):
    account = _account(number)
    form = TransferForm(
        request.POST or None, today=local_today(), approval_url=_approval_url("transfer")
    )
    return _money_form(
        request,
        account,
        form,
        lambda data, who: operations.transfer_balance(
            from_account=account,
            to_account=data["to_account"],
            amount_cents=data["amount"],
            reason=data["reason"],
            effective_date=data["effective_date"],
            **who,
        ),
        title="Transfer the balance",
        button="Transfer",
        kind="transfer",
    )


@staff_required(perm="financials.write_off")
def write_off(request, number: str):
    account = _account(number)
    form = WriteOffForm(
        request.POST or None, today=local_today(), approval_url=_approval_url("write_off")
    )
    return _money_form(
        request,
        account,
        form,
        lambda data, who: operations.write_off_balance(
            account=account,
            amount_cents=data["amount"],
            reason=data["reason"],
            effective_date=data["effective_date"],
            **who,
        ),
        title="Write off",
        button="Write off",
        kind="write_off",
    )


def _open_write_offs(account) -> list[tuple[JournalEntry, int]]:
    """The account's write-offs not yet reversed, newest first, with the amount of each."""
    entries = JournalEntry.objects.filter(
        account=account, kind="write_off", reversals__isnull=True
    ).order_by("-effective_date", "-id")
    return [(entry, -(entry.receivable_cents or 0)) for entry in entries]


@staff_required(perm="financials.write_off")
def reverse_write_off(request, number: str):
    account = _account(number)
    write_offs = _open_write_offs(account)
    limit = limit_cents(request.user, "write_off")
    return _money_form(
        request,
        account,
        WriteOffReversalForm(request.POST or None, today=local_today(), write_offs=write_offs),
        lambda data, who: operations.reverse_write_off(
            entry=next(entry for entry, _ in write_offs if entry.pk == data["entry"]),
            reason=data["reason"],
            effective_date=data["effective_date"],
            **who,
        ),
        title="Reverse a write-off",
        button="Reverse write-off",
        intro="For a write-off made in error: the balance is owed again and the bad-debt "
        f"expense is taken back. Above your {format_cents(limit)} write-off limit a second "
        "person must approve."
        if write_offs
        else "This account has no write-off to reverse.",
    )


@staff_required(perm="financials.write_off")
def recovery(request, number: str):
    account = _account(number)
    open_cents = operations.written_off_open_cents(account_id=account.pk)
    return _money_form(
        request,
        account,
        RecoveryForm(request.POST or None, today=local_today()),
        lambda data, who: operations.record_recovery(
            account=account,
            amount_cents=data["amount"],
            memo=data["memo"],
            effective_date=data["effective_date"],
            **who,
        ),
        title="Record a recovery",
        button="Record recovery",
        intro=f"Written off and not yet recovered: {format_cents(open_cents)}. The recovery "
        "puts the amount back on the account as owed; post the payment that brought it in "
        "next.",
    )


@staff_required
@require_GET
def approval_needed(request):
    """The fragment under an amount field: posts at once, or who must approve."""
    kind = request.GET.get("kind", "")
    if kind not in FinancialRequest.Kind.values:
        raise Http404("No such transaction kind")
    try:
        cents = parse_amount(request.GET.get("amount", ""))
    except InvalidAmount:
        cents = None
    need = (
        queries.approval_needed(user=request.user, kind=kind, amount_cents=cents)
        if cents and cents > 0
        else None
    )
    return render(request, "console/financials/_approval.html", {"need": need})


def _can_decide(user, row: FinancialRequest) -> bool:
    return (
        row.is_pending
        and row.maker_id != user.pk
        and user.has_perm("financials.approve_request")
        and queries.approval_needed(user=user, kind=row.kind, amount_cents=row.amount_cents).needed
        is False
    )


@staff_required(perm="financials.approve_request")
def approvals(request):
    rows = list(queries.list_pending_requests())
    return render(
        request,
        "console/financials/approvals.html",
        {"rows": [(row, _can_decide(request.user, row)) for row in rows]},
    )


def _request_or_404(pk: int) -> FinancialRequest:
    try:
        return queries.get_request(pk=pk)
    except FinancialRequest.DoesNotExist as exc:
        raise Http404(f"No request {pk}") from exc


@staff_required
def request_detail(request, pk: int, form: DecisionForm | None = None):
    row = _request_or_404(pk)
    if row.maker_id != request.user.pk and not request.user.has_perm("financials.approve_request"):
        raise PermissionDenied
    return render(
        request,
        "console/financials/request_detail.html",
        {
            "row": row,
            "form": form or DecisionForm(),
            "can_decide": _can_decide(request.user, row),
            "can_cancel": row.is_pending and row.maker_id == request.user.pk,
            "account_url": account_url(row.account.number),
            "balance_cents": ledger_queries.get_balance_cents(account_id=row.account_id),
        },
    )


@staff_required(perm="financials.approve_request")
@require_POST
def request_decide(request, pk: int):
    row = _request_or_404(pk)
    form = DecisionForm(request.POST)
    form.is_valid()
    note = form.cleaned_data.get("note", "")
    approve = request.POST.get("decision") == "approve"
    try:
        if approve:
            decided = operations.approve_request(
                request=row, actor=request.user, at=clock.now(), note=note
            )
        else:
            decided = operations.reject_request(
                request=row, actor=request.user, at=clock.now(), note=note
            )
    except ValidationError as exc:
        add_operation_errors(form, exc)
        return request_detail(request, pk, form=form)
    if approve:
        messages.success(
            request,
            f"Approved request {decided.pk}: posted as journal entry {decided.journal_entry_id}.",
        )
    else:
        messages.success(request, f"Rejected request {decided.pk}.")
    return redirect("console:approvals")


@staff_required
@require_POST
def request_cancel(request, pk: int):
    row = _request_or_404(pk)
    try:
        operations.cancel_request(request=row, actor=request.user, at=clock.now())
    except ValidationError as exc:
        form = DecisionForm()
        add_operation_errors(form, exc)
        return request_detail(request, pk, form=form)
    messages.success(request, f"Cancelled request {row.pk}.")
    return redirect(account_url(row.account.number))
