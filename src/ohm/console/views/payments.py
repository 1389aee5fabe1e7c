"""Console pages for payments and cash handling.

- Cashier screen: open a drawer with a float, find the account (account number, scan line
  or name, one box), take cash, check, money order or card from the keyboard, print the
  receipt; cancel a payment taken in error the same day; close the drawer with counts.
- Supervisor: drawers of a day, sign-off, deposit batches and the bank deposit slip.
- Payments: search, detail with reverse / transfer / cancel / apply, the unapplied queue,
  lockbox and BAI2 imports with their reconciliation, the daily cash report.

Every money form carries an idempotency key made when the form is first shown, so a double
submit posts once. Each post makes one domain call and shows its errors beside the fields.
"""

from __future__ import annotations

import uuid
from datetime import date

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET, require_POST

from ohm.console.forms import ConsoleForm, DateInput, add_operation_errors
from ohm.console.views.auth import staff_required
from ohm.console.views.financials import AmountField
from ohm.console.views.records import _account, local_today
from ohm.core import clock
from ohm.core.localtime import localdate
from ohm.core.money import format_cents
from ohm.customers import queries as customer_queries
from ohm.customers.models import Account
from ohm.ledger import queries as ledger_queries
from ohm.payments import cards, documents, drawers, imports, operations, policies, queries
from ohm.payments.models import CashDrawer, Channel, DepositBatch, ImportRun, Payment, Tender

VIEW = "payments.view_payment"
TAKE = "payments.take_payment"
REVERSE = "payments.reverse_payment"
TRANSFER = "payments.transfer_payment"
APPLY = "payments.apply_payment"
IMPORT = "payments.import_payments"
SIGN_OFF = "payments.sign_off_drawer"
PAGE_SIZE = 50

#: What the card form's hosted fields return for the simulator's test cards. With a real
#: processor the processor's own script fills the token; no card number reaches Ohm.
TEST_CARDS = [
    ("tok_visa", "Visa •••• 4242 — approved"),
    ("tok_mastercard", "Mastercard •••• 4444 — approved"),
    ("tok_decline", "Declined"),
    ("tok_insufficient_funds", "Declined: insufficient funds"),
    ("tok_timeout", "Processor times out (charged)"),
    ("tok_timeout_lost", "Processor times out (never arrived)"),
]


def _key() -> str:
    return f"console:{uuid.uuid4()}"


def _customer_name(account: Account | None) -> str:
    if account is None:
        return ""
    person = customer_queries.get_main_person(account=account)
    return person.display_name if person else ""


def _payment_or_404(pk: int) -> Payment:
    try:
        return queries.get_payment(payment_id=pk)
    except queries.PaymentNotFound as exc:
        raise Http404(f"No payment {pk}") from exc


def _account_by_number(number: str) -> Account:
    try:
        return customer_queries.get_account(number=number)
    except ValidationError as exc:
        raise ValidationError(exc.messages[0]) from exc
    except customer_queries.AccountNotFound as exc:
        raise ValidationError(f"There is no account {number}.") from exc


class AccountNumberField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault("help_text", "The ten-digit number, check digit included")
        super().__init__(**kwargs)

    def clean(self, value):
        text = super().clean(value)
        return _account_by_number(text) if text else None


# Forms -------------------------------------------------------------------------------------------


class OpenDrawerForm(ConsoleForm):
    name = forms.CharField(max_length=40, initial="Window 1", label="Drawer")
    float_amount = AmountField(label="Starting float ($)", required=True)


class CounterPaymentForm(ConsoleForm):
    idempotency_key = forms.CharField(widget=forms.HiddenInput)
    account = forms.CharField(widget=forms.HiddenInput)
    amount = AmountField(label="Amount ($)")
    tender = forms.ChoiceField(
        choices=[
            (Tender.CASH, "Cash (F1)"),
            (Tender.CHECK, "Check (F2)"),
            (Tender.MONEY_ORDER, "Money order (F3)"),
            (Tender.CARD, "Card (F4)"),
        ],
        widget=forms.RadioSelect,
        initial=Tender.CASH,
    )
    reference = forms.CharField(max_length=40, required=False, label="Check / money order number")
    payer_name = forms.CharField(max_length=120, required=False, label="Paid by")
    card_token = forms.ChoiceField(
        choices=[("", "—")] + TEST_CARDS,
        required=False,
        label="Card (hosted field)",
        help_text="The processor's card form returns a token; Ohm never sees the card number.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["idempotency_key"].initial = _key()
        self.fields["amount"].widget.attrs.update({"inputmode": "decimal", "autofocus": True})

    def clean(self):
        data = super().clean()
        if data.get("tender") == Tender.CARD and not data.get("card_token"):
            self.add_error("card_token", "Swipe or key the card in the card form.")
        return data


class CloseDrawerForm(ConsoleForm):
    cash = AmountField(label="Cash counted, float included ($)")
    checks = AmountField(label="Checks total ($)", required=False)
    check_count = forms.IntegerField(min_value=0, initial=0, label="Number of checks")
    money_orders = AmountField(label="Money orders total ($)", required=False)
    note = forms.CharField(max_length=200, required=False)


class CancelForm(ConsoleForm):
    reason = forms.CharField(max_length=200)


class ReverseForm(ConsoleForm):
    idempotency_key = forms.CharField(widget=forms.HiddenInput)
    reason_code = forms.ChoiceField(
        label="Why it came back",
        choices=[(code, label) for code, (label, _) in policies.RETURN_REASONS.items()],
    )
    fee = forms.BooleanField(required=False, initial=True, label="Charge the returned-payment fee")
    effective_date = forms.DateField(widget=DateInput())
    memo = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["idempotency_key"].initial = _key()
        self.fields["effective_date"].initial = local_today()


class TransferForm(ConsoleForm):
    idempotency_key = forms.CharField(widget=forms.HiddenInput)
    to_account = AccountNumberField(label="Move to account")
    reason = forms.CharField(max_length=200)
    effective_date = forms.DateField(widget=DateInput())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["idempotency_key"].initial = _key()
        self.fields["effective_date"].initial = local_today()


class ApplyForm(ConsoleForm):
    account = AccountNumberField(label="Apply to account")
    note = forms.CharField(max_length=200, required=False)
    effective_date = forms.DateField(widget=DateInput())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["effective_date"].initial = local_today()


class ImportForm(ConsoleForm):
    file = forms.FileField()
    file_format = forms.ChoiceField(
        label="Format", choices=[("lockbox", "Lockbox (fixed width)"), ("bai2", "BAI2")]
    )
    channel = forms.ChoiceField(
        choices=[
            (Channel.LOCKBOX, "Lockbox / bank"),
            (Channel.PAY_AGENT, "Pay agent"),
            (Channel.COLLECTION_AGENCY, "Collection agency"),
        ]
    )


class SearchForm(forms.Form):
    q = forms.CharField(required=False, label="Reference, payer, account, amount or id")
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status")] + Payment.Status.choices
    )
    channel = forms.ChoiceField(required=False, choices=[("", "Any channel")] + Channel.choices)
    tender = forms.ChoiceField(required=False, choices=[("", "Any tender")] + Tender.choices)
    start = forms.DateField(required=False, widget=DateInput(), label="From")
    end = forms.DateField(required=False, widget=DateInput(), label="To")


def _run(form, call, aliases=None):
    try:
        return call()
    except ValidationError as exc:
        add_operation_errors(form, exc, aliases=aliases)
        return None


# The cashier screen -------------------------------------------------------------------------------


@staff_required(perm=TAKE)
def cashier(request):
    """Open a drawer, or — with one open — the counter: lookup, payment form, the drawer's
    payments so far."""
    drawer = queries.get_open_drawer(cashier=request.user)
    if drawer is None:
        form = OpenDrawerForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            opened = _run(
                form,
                lambda: drawers.open_drawer(
                    cashier=request.user,
                    name=form.cleaned_data["name"],
                    float_cents=form.cleaned_data["float_amount"],
                    actor=request.user,
                    at=clock.now(),
                ),
                aliases={"float_cents": "float_amount"},
            )
            if opened is not None:
                messages.success(
                    request,
                    f"Drawer {opened.name} is open with {format_cents(opened.float_cents)}.",
                )
                return redirect("console:cashier")
        return render(request, "console/payments/open_drawer.html", {"form": form})
    account = None
    lookup = queries.Lookup([])
    number = request.GET.get("account") or request.POST.get("account") or ""
    typed = request.GET.get("q", "").strip()
    if typed and not number:
        # Enter in the lookup box (a scanned stub, a typed number): one account found goes
        # straight to the payment form, with the stub's amount due filled in.
        lookup = queries.lookup_accounts(typed)
        if len(lookup.accounts) == 1:
            url = f"{reverse('console:cashier')}?account={lookup.accounts[0].number}"
            if lookup.amount_due_cents is not None:
                url += f"&due={lookup.amount_due_cents}"
            return redirect(url)
    if number:
        try:
            account = _account_by_number(number)
        except ValidationError:
            account = None
    form = CounterPaymentForm(
        request.POST or None, initial={"account": account.number if account else ""}
    )
    if request.method == "POST" and form.is_valid() and account is not None:
        payment = _take(request, form, account, drawer)
        if payment is not None:
            return redirect(f"{reverse('console:cashier')}?receipt={payment.pk}")
    elif request.method == "POST" and account is None:
        form.add_error(None, "Find the account first.")
    amount_due = request.GET.get("due")
    if account is not None and not form.is_bound and amount_due and amount_due.isdigit():
        form.initial["amount"] = f"{int(amount_due) / 100:.2f}"
    context = {
        "drawer": drawer,
        "totals": queries.drawer_totals(drawer),
        "recent": list(
            drawer.payments.select_related("account").order_by("-received_at", "-id")[:15]
        ),
        "account": account,
        "customer_name": _customer_name(account),
        "balance_cents": ledger_queries.get_balance_cents(account_id=account.pk)
        if account
        else None,
        "form": form,
        "lookup": lookup,
        "receipt": request.GET.get("receipt"),
        "today": local_today(),
    }
    return render(request, "console/payments/cashier.html", context)


def _take(request, form, account: Account, drawer: CashDrawer) -> Payment | None:
    data = form.cleaned_data
    now = clock.now()
    if data["tender"] == Tender.CARD:
        payment = _run(
            form,
            lambda: cards.take_card_payment(
                account_id=account.pk,
                amount_cents=data["amount"],
                token=data["card_token"],
                channel=Channel.CASHIER,
                idempotency_key=data["idempotency_key"],
                received_at=now,
                effective_date=local_today(),
                actor=request.user,
                payer_name=data["payer_name"],
                drawer=drawer,
            ),
            aliases={"amount_cents": "amount", "token": "card_token"},
        )
        if payment is not None and payment.status == Payment.Status.DECLINED:
            form.add_error(
                "card_token", f"Declined: {payment.processor_message}. Nothing was charged."
            )
            form.fields["idempotency_key"].initial = _key()
            return None
        if payment is not None and payment.status == Payment.Status.UNKNOWN:
            messages.warning(
                request,
                f"Payment {payment.pk}: the card processor did not answer. Do not charge again: "
                "Ohm asks the processor and posts it when it confirms.",
            )
            return payment
    else:
        payment = _run(
            form,
            lambda: operations.post_payment(
                account_id=account.pk,
                amount_cents=data["amount"],
                tender=data["tender"],
                channel=Channel.CASHIER,
                idempotency_key=data["idempotency_key"],
                received_at=now,
                effective_date=local_today(),
                actor=request.user,
                reference=data["reference"],
                payer_name=data["payer_name"],
                drawer=drawer,
            ),
            aliases={"amount_cents": "amount"},
        )
    if payment is None:
        return None
    if getattr(payment, "replayed", False):
        messages.info(request, f"Already taken as payment {payment.pk}.")
    else:
        messages.success(
            request,
            f"Took {format_cents(payment.amount_cents)} for account {account.formatted_number}.",
        )
    return payment


@staff_required(perm=TAKE)
@require_GET
def cashier_lookup(request):
    """htmx: what the lookup box names (scan line, account number or name)."""
    lookup = queries.lookup_accounts(request.GET.get("q", ""))
    rows = [
        (
            account,
            _customer_name(account),
            ledger_queries.get_balance_cents(account_id=account.pk),
        )
        for account in lookup.accounts
    ]
    return render(request, "console/payments/_lookup.html", {"lookup": lookup, "rows": rows})


@staff_required(perm=TAKE)
def close_drawer(request):
    drawer = queries.get_open_drawer(cashier=request.user)
    if drawer is None:
        messages.info(request, "You have no open drawer.")
        return redirect("console:cashier")
    form = CloseDrawerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        closed = _run(
            form,
            lambda: drawers.close_drawer(
                drawer=drawer,
                counted_cash_cents=data["cash"],
                counted_checks_cents=data["checks"] or 0,
                counted_check_count=data["check_count"] or 0,
                counted_money_orders_cents=data["money_orders"] or 0,
                actor=request.user,
                at=clock.now(),
                note=data["note"],
            ),
        )
        if closed is not None:
            if closed.over_short_cents:
                word = "over" if closed.over_short_cents > 0 else "short"
                messages.warning(
                    request,
                    f"Drawer {closed.name} closed {word} {format_cents(abs(closed.over_short_cents))}; "
                    "a supervisor signs it off.",
                )
            else:
                messages.success(
                    request, f"Drawer {closed.name} balanced; a supervisor signs it off."
                )
            return redirect("console:drawer", pk=closed.pk)
    return render(request, "console/payments/close_drawer.html", {"form": form, "drawer": drawer})


@staff_required(perm=TAKE)
@require_POST
def cancel_payment(request, pk: int):
    payment = _payment_or_404(pk)
    if not (request.user.has_perm(REVERSE) or payment.created_by_label == request.user.username):
        raise PermissionDenied
    form = CancelForm(request.POST)
    if form.is_valid():
        try:
            if payment.tender == Tender.CARD and payment.processor_ref:
                cards.void_card_payment(
                    payment=payment,
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                    at=clock.now(),
                )
            else:
                operations.cancel_payment_same_day(
                    payment=payment,
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                    at=clock.now(),
                )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Payment {payment.pk} cancelled.")
    else:
        messages.error(request, "Say why the payment is cancelled.")
    return redirect(
        request.POST.get("next") or reverse("console:payment", kwargs={"pk": payment.pk})
    )


# Drawers, sign-off and deposits ------------------------------------------------------------------


def _day(request) -> date:
    try:
        return date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        return local_today()


@staff_required(perm=VIEW)
def drawer_list(request):
    day = _day(request)
    rows = [(d, queries.drawer_totals(d)) for d in queries.list_drawers(business_date=day)]
    deposits = DepositBatch.objects.filter(business_date=day)
    return render(
        request,
        "console/payments/drawers.html",
        {
            "day": day,
            "rows": rows,
            "deposits": deposits,
            "can_sign": request.user.has_perm(SIGN_OFF),
        },
    )


@staff_required(perm=VIEW)
def drawer_detail(request, pk: int):
    drawer = (
        CashDrawer.objects.select_related("cashier", "signed_off_by", "deposit")
        .filter(pk=pk)
        .first()
    )
    if drawer is None:
        raise Http404
    if drawer.cashier_id != request.user.pk and not request.user.has_perm(SIGN_OFF):
        raise PermissionDenied
    return render(
        request,
        "console/payments/drawer.html",
        {
            "drawer": drawer,
            "totals": queries.drawer_totals(drawer),
            "payments": drawer.payments.select_related("account").order_by("received_at", "id"),
            "can_sign": request.user.has_perm(SIGN_OFF) and drawer.cashier_id != request.user.pk,
        },
    )


@staff_required(perm=SIGN_OFF)
@require_POST
def drawer_sign_off(request, pk: int):
    drawer = CashDrawer.objects.filter(pk=pk).first()
    if drawer is None:
        raise Http404
    try:
        drawers.sign_off_drawer(
            drawer=drawer, actor=request.user, at=clock.now(), note=request.POST.get("note", "")
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Drawer {drawer.name} signed off.")
    return redirect("console:drawer", pk=pk)


@staff_required(perm=SIGN_OFF)
@require_POST
def deposit_make(request):
    ids = [int(v) for v in request.POST.getlist("drawer") if v.isdigit()]
    try:
        deposit = drawers.make_deposit(
            drawer_ids=ids,
            actor=request.user,
            at=clock.now(),
            bank_account=request.POST.get("bank_account", ""),
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(f"{reverse('console:drawers')}?date={request.POST.get('date', '')}")
    messages.success(request, f"Deposit {deposit.pk}: {format_cents(deposit.total_cents)}.")
    return redirect("console:deposit_slip", pk=deposit.pk)


@staff_required(perm=VIEW)
def deposit_slip(request, pk: int):
    deposit = DepositBatch.objects.filter(pk=pk).first()
    if deposit is None:
        raise Http404
    response = HttpResponse(documents.deposit_slip_pdf(deposit), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="deposit-{deposit.pk}.pdf"'
    return response


# Payments -------------------------------------------------------------------------------------------


@staff_required(perm=VIEW)
def payment_search(request):
    form = SearchForm(request.GET or None)
    rows = Payment.objects.none()
    if form.is_valid():
        data = form.cleaned_data
        rows = queries.search_payments(
            text=data["q"],
            status=data["status"],
            channel=data["channel"],
            tender=data["tender"],
            start_date=data["start"],
            end_date=data["end"],
        )
    elif not request.GET:
        rows = queries.search_payments()
    return render(
        request, "console/payments/search.html", {"form": form, "rows": list(rows[:PAGE_SIZE])}
    )


def _refund_url(payment: Payment) -> str:
    """The account's refund form; for a card payment, with the card chosen (the refund goes
    back to it through the processor)."""
    if payment.account is None:
        return ""
    try:
        url = reverse("console:refund_new", kwargs={"number": payment.account.number})
    except NoReverseMatch:
        return ""
    if payment.tender == Tender.CARD and payment.processor_ref:
        url += f"?payment={payment.pk}"
    return url


@staff_required(perm=VIEW)
def payment_detail(request, pk: int):
    payment = _payment_or_404(pk)
    user = request.user
    is_today = localdate(payment.received_at) == local_today()
    context = {
        "payment": payment,
        "customer_name": _customer_name(payment.account),
        "moves": payment.moves.select_related("from_account", "to_account", "entry"),
        "reverse_form": ReverseForm() if user.has_perm(REVERSE) and payment.is_in_books else None,
        "transfer_form": TransferForm()
        if user.has_perm(TRANSFER) and payment.status == Payment.Status.POSTED
        else None,
        "apply_form": ApplyForm()
        if user.has_perm(APPLY) and payment.status == Payment.Status.UNAPPLIED
        else None,
        "can_cancel": payment.is_in_books
        and is_today
        and (user.has_perm(REVERSE) or payment.created_by_label == user.username),
        "refund_url": _refund_url(payment) if payment.status == Payment.Status.POSTED else "",
        "balance_cents": ledger_queries.get_balance_cents(account_id=payment.account_id)
        if payment.account_id
        else None,
    }
    return render(request, "console/payments/detail.html", context)


@staff_required(perm=REVERSE)
@require_POST
def payment_reverse(request, pk: int):
    payment = _payment_or_404(pk)
    form = ReverseForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        done = _run(
            form,
            lambda: operations.reverse_payment(
                payment=payment,
                reason_code=data["reason_code"],
                effective_date=data["effective_date"],
                actor=request.user,
                at=clock.now(),
                fee=data["fee"],
                idempotency_key=data["idempotency_key"],
                memo=data["memo"],
            ),
        )
        if done is not None:
            fee = " with the returned-payment fee" if done.fee_entry_id else ""
            messages.success(request, f"Payment {payment.pk} reversed{fee}.")
            if (
                done.account_id
                and Account.objects.filter(pk=done.account_id, cash_only=True).exists()
            ):
                messages.warning(request, "The account is cash only now (returned payments).")
            return redirect("console:payment", pk=pk)
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, str(error))
    return redirect("console:payment", pk=pk)


@staff_required(perm=TRANSFER)
@require_POST
def payment_transfer(request, pk: int):
    payment = _payment_or_404(pk)
    form = TransferForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        done = _run(
            form,
            lambda: operations.transfer_payment(
                payment=payment,
                to_account=data["to_account"],
                reason=data["reason"],
                effective_date=data["effective_date"],
                actor=request.user,
                at=clock.now(),
                idempotency_key=data["idempotency_key"],
            ),
        )
        if done is not None:
            messages.success(
                request, f"Payment {payment.pk} moved to {data['to_account'].formatted_number}."
            )
            return redirect("console:payment", pk=pk)
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, str(error))
    return redirect("console:payment", pk=pk)


@staff_required(perm=APPLY)
@require_POST
def payment_apply(request, pk: int):
    payment = _payment_or_404(pk)
    form = ApplyForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        done = _run(
            form,
            lambda: operations.apply_unapplied(
                payment=payment,
                account=data["account"],
                effective_date=data["effective_date"],
                actor=request.user,
                at=clock.now(),
                note=data["note"],
            ),
        )
        if done is not None:
            messages.success(
                request, f"Payment {payment.pk} applied to {data['account'].formatted_number}."
            )
            return redirect(
                request.POST.get("next") or reverse("console:payment", kwargs={"pk": pk})
            )
    for errors in form.errors.values():
        for error in errors:
            messages.error(request, str(error))
    return redirect(request.POST.get("next") or reverse("console:payment", kwargs={"pk": pk}))


@staff_required(perm=VIEW)
def payment_receipt(request, pk: int):
    payment = _payment_or_404(pk)
    pdf = documents.receipt_pdf(payment, customer_name=_customer_name(payment.account))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="receipt-{payment.pk}.pdf"'
    return response


@staff_required(perm=VIEW)
def unapplied_queue(request):
    rows = list(queries.list_unapplied().select_related("import_run")[:200])
    return render(
        request,
        "console/payments/unapplied.html",
        {"rows": rows, "can_apply": request.user.has_perm(APPLY), "today": local_today()},
    )


@staff_required(perm=VIEW)
def account_payments(request, number: str):
    """htmx: the account page's payments card."""
    account = _account(number)
    rows = list(queries.list_account_payments(account_id=account.pk)[:10])
    return render(
        request,
        "console/payments/_account_payments.html",
        {"account": account, "rows": rows, "can_take": request.user.has_perm(TAKE)},
    )


# Imports and the daily report ------------------------------------------------------------------


@staff_required(perm=IMPORT)
def import_file(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            result = imports.import_payment_file(
                content=upload.read(),
                file_name=upload.name,
                file_format=form.cleaned_data["file_format"],
                channel=form.cleaned_data["channel"],
                actor=request.user,
                at=clock.now(),
                clock=clock.now,
            )
        except imports.ImportRefused as exc:
            for error in exc.errors[:20]:
                form.add_error("file", error)
            if len(exc.errors) > 20:
                form.add_error("file", f"… and {len(exc.errors) - 20} more.")
        else:
            if result.replayed:
                messages.info(request, f"{upload.name} was imported before: nothing posted again.")
            elif result.finished:
                messages.success(request, f"{upload.name} imported.")
            else:
                messages.warning(
                    request,
                    f"The import stopped: {result.batch.message if result.batch else ''}. Import the same file again to resume.",
                )
            return redirect("console:payment_import", pk=result.run.pk)
    runs = ImportRun.objects.all()[:30]
    return render(request, "console/payments/imports.html", {"form": form, "runs": runs})


@staff_required(perm=VIEW)
def import_detail(request, pk: int):
    run = ImportRun.objects.filter(pk=pk).first()
    if run is None:
        raise Http404
    return render(request, "console/payments/import_detail.html", {"run": run})


@staff_required(perm=VIEW)
def cash_report(request):
    day = _day(request)
    report = queries.daily_cash_report(day=day)
    channels = sorted({c for c, _ in report.by_channel_tender})
    tenders = sorted({t for _, t in report.by_channel_tender})
    grid = [
        (
            queries.channel_label(channel),
            [report.by_channel_tender.get((channel, tender), (0, 0)) for tender in tenders],
            report.by_channel.get(channel, 0),
        )
        for channel in channels
    ]
    return render(
        request,
        "console/payments/report.html",
        {
            "day": day,
            "report": report,
            "tenders": [queries.tender_label(t) for t in tenders],
            "tender_totals": [report.by_tender.get(t, 0) for t in tenders],
            "grid": grid,
        },
    )
