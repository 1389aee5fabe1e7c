"""Console pages for banking: autopay on an account (bank details always masked), ACH files
with their two-person release, returns files, refunds (request, approval, issue), the check
register and the positive-pay download.

The bank account number is typed once, into the enrol / change form, and never shown again:
pages show the last four digits. The NACHA file itself (which holds full numbers) downloads
only for people who may release files.
"""

from __future__ import annotations

import uuid
from datetime import date

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from ohm.banking import ach, nacha, refunds
from ohm.banking import operations as autopay
from ohm.banking.models import (
    AccountType,
    AchEntry,
    AchFile,
    AchReturnImport,
    AutopayEnrolment,
    Refund,
    RefundCheck,
)
from ohm.console.forms import ConsoleForm, DateInput, add_operation_errors
from ohm.console.views.auth import staff_required
from ohm.console.views.financials import AmountField
from ohm.console.views.records import _account, account_url, local_today
from ohm.core import clock
from ohm.core.localtime import localdate
from ohm.core.money import format_cents
from ohm.core.permissions import limit_cents
from ohm.customers import queries as customer_queries
from ohm.ledger import queries as ledger_queries

VIEW = "customers.view_account"
CHANGE = "customers.change_account"
BUILD = "payments.import_payments"
APPROVE = "financials.approve_request"
REQUEST_REFUND = "financials.post_adjustment"
ISSUE = "ledger.view_books"


# Forms -----------------------------------------------------------------------------------------


class BankDetailsForm(ConsoleForm):
    holder_name = forms.CharField(label="Name on the bank account", max_length=22)
    routing_number = forms.CharField(
        max_length=9, help_text="Nine digits; the last is a check digit"
    )
    account_number = forms.CharField(
        label="Bank account number",
        max_length=17,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
        help_text="Never shown again after saving: pages show the last four digits",
    )
    account_type = forms.ChoiceField(choices=AccountType.choices, widget=forms.RadioSelect)
    prenote = forms.BooleanField(
        required=False,
        initial=True,
        label="Send a prenote (a $0 test entry) before the first debit",
    )


class EnrolForm(BankDetailsForm):
    start_date = forms.DateField(label="First due date to debit", widget=DateInput())


class ChangeBankForm(BankDetailsForm):
    reason = forms.CharField(max_length=200, help_text="E.g. “customer called: new bank”")


class ReasonForm(ConsoleForm):
    reason = forms.CharField(max_length=200)


class BuildForm(ConsoleForm):
    due_date = forms.DateField(label="Due date (effective entry date)", widget=DateInput())
    prenotes = forms.BooleanField(required=False, initial=True, label="Include prenotes")
    refunds = forms.BooleanField(required=False, initial=True, label="Include ACH refunds")


class ReturnsForm(ConsoleForm):
    file = forms.FileField(label="Returns / NOC file from the bank (.ach)")


class RefundForm(ConsoleForm):
    idempotency_key = forms.CharField(widget=forms.HiddenInput)
    amount = AmountField(label="Amount ($)")
    reason = forms.ChoiceField(choices=Refund.Reason.choices)
    method = forms.ChoiceField(choices=Refund.Method.choices, widget=forms.RadioSelect)
    payment = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        label="Card payment (for a refund to the card)",
        help_text="The money goes back to the card of this payment, through the card processor",
    )
    memo = forms.CharField(max_length=200, required=False)

    def __init__(self, *args, card_payments=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["idempotency_key"].initial = f"console:{uuid.uuid4()}"
        self.card_payments = {p.pk: p for p in card_payments}
        self.fields["payment"].choices = [("", "—")] + [
            (p.pk, f"Payment {p.pk}: {p.tender_detail or 'card'}, {format_cents(p.amount_cents)} "
             f"on {localdate(p.received_at):%b %-d, %Y}")
            for p in card_payments
        ]  # fmt: skip


class DecisionForm(ConsoleForm):
    note = forms.CharField(
        max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required to reject",
    )  # fmt: skip


def _run(form, call, aliases=None):
    try:
        return call()
    except ValidationError as exc:
        add_operation_errors(form, exc, aliases=aliases)
        return None


# Hub -------------------------------------------------------------------------------------------


@staff_required(perm=VIEW)
def hub(request):
    number = request.GET.get("account", "").strip()
    if number:
        try:
            account = customer_queries.get_account(number=number)
        except (customer_queries.AccountNotFound, ValidationError):
            messages.error(request, f"There is no account {number}.")
        else:
            return redirect("console:autopay", number=account.number)
    return render(
        request,
        "console/banking/hub.html",
        {
            "waiting_files": AchFile.objects.filter(status=AchFile.Status.BUILT),
            "pending_refunds": Refund.objects.filter(status=Refund.Status.PENDING).select_related("account", "maker"),
            "approved_refunds": Refund.objects.filter(status=Refund.Status.APPROVED).select_related("account"),
            "suspended": AutopayEnrolment.objects.filter(status=AutopayEnrolment.Status.SUSPENDED).select_related("account")[:50],
            "imports": AchReturnImport.objects.all()[:10],
        },
    )  # fmt: skip


# Autopay on an account -----------------------------------------------------------------------


def _live(account) -> AutopayEnrolment | None:
    return (
        AutopayEnrolment.objects.filter(account=account)
        .exclude(status=AutopayEnrolment.Status.CANCELLED)
        .first()
    )


@staff_required(perm=VIEW)
def autopay_page(request, number: str, form=None, change_form=None):
    account = _account(number)
    enrolment = _live(account)
    can_change = request.user.has_perm(CHANGE)
    if enrolment is None and form is None:
        form = EnrolForm(initial={"start_date": local_today(), "account_type": "checking"})
    if enrolment is not None and change_form is None:
        change_form = ChangeBankForm(
            initial={"holder_name": enrolment.holder_name, "account_type": enrolment.account_type}
        )
    return render(
        request,
        "console/banking/autopay.html",
        {
            "account": account,
            "account_url": account_url(account.number),
            "enrolment": enrolment,
            "form": form,
            "change_form": change_form,
            "reason_form": ReasonForm(),
            "can_change": can_change,
            "entries": AchEntry.objects.filter(account=account).select_related("ach_file").order_by("-id")[:24],
            "history": AutopayEnrolment.objects.filter(account=account, status=AutopayEnrolment.Status.CANCELLED),
            "balance_cents": ledger_queries.get_balance_cents(account_id=account.pk),
        },
    )  # fmt: skip


@staff_required(perm=CHANGE)
@require_POST
def autopay_enrol(request, number: str):
    account = _account(number)
    form = EnrolForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        enrolment = _run(
            form,
            lambda: autopay.enrol_autopay(
                account=account, holder_name=data["holder_name"], routing_number=data["routing_number"],
                account_number=data["account_number"], account_type=data["account_type"],
                start_date=data["start_date"], prenote=data["prenote"], actor=request.user, at=clock.now(),
            ),
        )  # fmt: skip
        if enrolment is not None:
            messages.success(request, f"Autopay set up to {enrolment.masked_account}.")
            return redirect("console:autopay", number=account.number)
    return autopay_page(request, number, form=form)


@staff_required(perm=CHANGE)
@require_POST
def autopay_change(request, number: str):
    account = _account(number)
    enrolment = _live(account)
    if enrolment is None:
        raise Http404("No autopay on this account")
    form = ChangeBankForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        changed = _run(
            form,
            lambda: autopay.change_bank_details(
                enrolment=enrolment, routing_number=data["routing_number"], account_number=data["account_number"],
                account_type=data["account_type"], holder_name=data["holder_name"], prenote=data["prenote"],
                reason=data["reason"], actor=request.user, at=clock.now(),
            ),
        )  # fmt: skip
        if changed is not None:
            messages.success(
                request,
                f"Bank details changed to {changed.masked_account}. Refunds to this bank account "
                "wait out the cooling-off period.",
            )
            return redirect("console:autopay", number=account.number)
    return autopay_page(request, number, change_form=form)


@staff_required(perm=CHANGE)
@require_POST
def autopay_status(request, number: str, action: str):
    account = _account(number)
    enrolment = _live(account)
    if enrolment is None:
        raise Http404("No autopay on this account")
    operation = {
        "suspend": autopay.suspend_autopay,
        "resume": autopay.resume_autopay,
        "cancel": autopay.cancel_autopay,
    }.get(action)
    if operation is None:
        raise Http404("No such action")
    reason = request.POST.get("reason", "").strip() or ("Resumed" if action == "resume" else "")
    try:
        operation(enrolment=enrolment, reason=reason, actor=request.user, at=clock.now())
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, f"Autopay {action}{'d' if action.endswith('e') else 'ed'}.")
    return redirect("console:autopay", number=account.number)


# ACH files -----------------------------------------------------------------------------------


@staff_required(perm=VIEW)
def ach_files(request, form=None):
    preview = None
    day = _date_param(request.GET.get("preview"))
    if day is not None:
        # What a file for that day would hold, and what is left out and why (nothing written).
        preview = ach.plan_export(due_date=day)
    return render(
        request,
        "console/banking/ach_files.html",
        {
            "files": AchFile.objects.all()[:60],
            "form": form or BuildForm(initial={"due_date": day or local_today()}),
            "can_build": request.user.has_perm(BUILD),
            "preview": preview,
            "preview_debit_cents": sum(p.amount_cents for p in preview.debits) if preview else 0,
        },
    )


@staff_required(perm=BUILD)
@require_POST
def ach_build(request):
    form = BuildForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        built = _run(
            form,
            lambda: ach.build_export(
                due_date=data["due_date"], prenotes=data["prenotes"], refunds=data["refunds"],
                actor=request.user, at=clock.now(),
            ),
            aliases={"date": "due_date"},
        )  # fmt: skip
        if built is not None:
            messages.success(
                request,
                f"Built {built.file_name}: a different person must release it before it is sent.",
            )
            return redirect("console:ach_file", pk=built.pk)
    return ach_files(request, form=form)


def _can_release(user, ach_file: AchFile) -> bool:
    return (
        ach_file.status == AchFile.Status.BUILT
        and ach_file.built_by_id != user.pk
        and user.has_perm(APPROVE)
    )


@staff_required(perm=VIEW)
def ach_file_detail(request, pk: int):
    ach_file = get_object_or_404(AchFile, pk=pk)
    return render(
        request,
        "console/banking/ach_file.html",
        {
            "file": ach_file,
            "entries": ach_file.entries.select_related("account").order_by("trace_number")[:500],
            "more": max(ach_file.entry_count - 500, 0),
            "can_release": _can_release(request.user, ach_file),
            "can_cancel": ach_file.status == AchFile.Status.BUILT and request.user.has_perm(BUILD),
            "can_download": request.user.has_perm(APPROVE),
            "run": ach_file.release_run,
            "can_resume": ach_file.release_run is not None
            and ach_file.release_run.status != "succeeded"
            and request.user.has_perm(APPROVE),
            "reason_form": ReasonForm(),
        },
    )


@staff_required(perm=APPROVE)
@require_POST
def ach_release(request, pk: int):
    ach_file = get_object_or_404(AchFile, pk=pk)
    try:
        ach_file = ach.release_file(
            ach_file=ach_file, actor=request.user, at=clock.now(), note=request.POST.get("note", "")
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        run = ach_file.release_run
        if run is not None and run.status != "succeeded":
            messages.error(
                request,
                f"Released, but posting stopped: {run.message}. Fix the cause and resume.",
            )
            return redirect("console:ach_file", pk=pk)
        messages.success(
            request,
            f"Released {ach_file.file_name}: {ach_file.entry_count} entries; debits posted as payments.",
        )
    return redirect("console:ach_file", pk=pk)


@staff_required(perm=APPROVE)
@require_POST
def ach_resume(request, pk: int):
    ach_file = get_object_or_404(AchFile, pk=pk)
    try:
        ach_file = ach.resume_release(ach_file=ach_file, at=clock.now())
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        run = ach_file.release_run
        if run is not None and run.status == "succeeded":
            messages.success(request, f"Posting of {ach_file.file_name} finished.")
        else:
            messages.error(request, f"Posting stopped again: {run.message if run else ''}")
    return redirect("console:ach_file", pk=pk)


@staff_required(perm=BUILD)
@require_POST
def ach_cancel(request, pk: int):
    ach_file = get_object_or_404(AchFile, pk=pk)
    try:
        ach.cancel_file(
            ach_file=ach_file,
            actor=request.user,
            at=clock.now(),
            reason=request.POST.get("reason", ""),
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(
            request, f"Cancelled {ach_file.file_name}; its entries can go in the next file."
        )
    return redirect("console:ach_file", pk=pk)


@staff_required(perm=APPROVE)
def ach_download(request, pk: int):
    ach_file = get_object_or_404(AchFile, pk=pk)
    if ach_file.status == AchFile.Status.CANCELLED:
        raise Http404("A cancelled file is not sent")
    response = HttpResponse(ach_file.content, content_type="text/plain; charset=ascii")
    response["Content-Disposition"] = f'attachment; filename="{ach_file.file_name}"'
    return response


# Returns -------------------------------------------------------------------------------------


@staff_required(perm=VIEW)
def returns_page(request, form=None, error: str = ""):
    return render(
        request,
        "console/banking/returns.html",
        {
            "form": form or ReturnsForm(),
            "imports": AchReturnImport.objects.all()[:50],
            "can_import": request.user.has_perm(BUILD),
            "error": error,
        },
    )


@staff_required(perm=BUILD)
@require_POST
def returns_import(request):
    form = ReturnsForm(request.POST, request.FILES)
    if not form.is_valid():
        return returns_page(request, form=form)
    upload = form.cleaned_data["file"]
    try:
        result = ach.import_returns(
            data=upload.read(), file_name=upload.name, actor=request.user, at=clock.now()
        )
    except nacha.NachaError as exc:
        return returns_page(
            request, form=form, error=f"{upload.name} refused, nothing posted — {exc}"
        )
    except ValidationError as exc:
        return returns_page(
            request,
            form=form,
            error=f"{upload.name} refused, nothing posted — {' '.join(exc.messages)}",
        )
    if result.replayed:
        messages.info(request, f"{upload.name} was imported before: nothing changed.")
    else:
        messages.success(request, f"Imported {upload.name}.")
    return redirect("console:ach_returns_detail", pk=result.imported.pk)


@staff_required(perm=VIEW)
def returns_detail(request, pk: int):
    imported = get_object_or_404(AchReturnImport, pk=pk)
    return render(
        request,
        "console/banking/returns_detail.html",
        {
            "imported": imported,
            "items": imported.items.select_related("entry__account", "work_item"),
        },
    )


# Refunds -------------------------------------------------------------------------------------


def _give_back_to_card(request, refund: Refund) -> None:
    """An approved card refund goes to the card at once; the message says what happened."""
    if refund.method != Refund.Method.CARD or refund.status != Refund.Status.APPROVED:
        return
    try:
        refund = refunds.issue_card_refund(refund=refund, actor=request.user, at=clock.now())
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return
    if refund.status == Refund.Status.ISSUED:
        assert refund.payment is not None
        messages.success(
            request,
            f"{format_cents(refund.amount_cents)} given back to {refund.payment.tender_detail or 'the card'} "
            f"(processor {refund.processor_ref}).",
        )
    elif refund.method == Refund.Method.CHECK:
        messages.error(
            request,
            f"{refund.processor_message} The refund is now a check to the mailing address: issue it.",
        )
    else:
        messages.warning(request, refund.processor_message)


@staff_required(perm=REQUEST_REFUND)
def refund_new(request, number: str):
    account = _account(number)
    card_payments = refunds.list_card_payments(account=account)
    wanted = request.GET.get("payment", "")
    initial = {}
    if wanted.isdigit() and int(wanted) in {p.pk for p in card_payments}:
        initial = {"payment": int(wanted), "method": Refund.Method.CARD}
    form = RefundForm(request.POST or None, initial=initial, card_payments=card_payments)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        payment = form.card_payments.get(data["payment"]) if data["payment"] else None
        refund = _run(
            form,
            lambda: refunds.request_refund(
                account=account, amount_cents=data["amount"], reason=data["reason"], method=data["method"],
                memo=data["memo"], actor=request.user, at=clock.now(), idempotency_key=data["idempotency_key"],
                payment=payment,
            ),
            aliases={"amount_cents": "amount"},
        )  # fmt: skip
        if refund is not None:
            if refund.status == Refund.Status.PENDING:
                messages.warning(
                    request,
                    f"Refund {refund.pk} waits for approval by someone with a higher limit.",
                )
            elif refund.method == Refund.Method.CARD:
                _give_back_to_card(request, refund)
            else:
                messages.success(
                    request, f"Refund {refund.pk} approved: {format_cents(refund.amount_cents)}."
                )
            return redirect("console:refund", pk=refund.pk)
    today = local_today()
    return render(
        request,
        "console/banking/refund_new.html",
        {
            "account": account,
            "account_url": account_url(account.number),
            "form": form,
            "credit": refunds.available_credit(account=account, as_of=today),
            "limit_cents": limit_cents(request.user, "refund"),
            "enrolment": _live(account),
            "card_payments": card_payments,
            "refunds": Refund.objects.filter(account=account)[:20],
        },
    )


def _can_decide(user, refund: Refund) -> bool:
    return (
        refund.status == Refund.Status.PENDING
        and refund.maker_id != user.pk
        and user.has_perm(APPROVE)
        and refund.amount_cents <= limit_cents(user, "refund")
    )


@staff_required(perm=VIEW)
def refund_detail(request, pk: int, form=None):
    refund = get_object_or_404(
        Refund.objects.select_related("account", "maker", "checker", "payment"), pk=pk
    )
    return render(
        request,
        "console/banking/refund.html",
        {
            "refund": refund,
            "account_url": account_url(refund.account.number),
            "form": form or DecisionForm(),
            "can_decide": _can_decide(request.user, refund),
            "can_cancel": refund.status == Refund.Status.PENDING
            and refund.maker_id == request.user.pk,
            "can_issue": refund.status == Refund.Status.APPROVED
            and refund.method == Refund.Method.CHECK
            and request.user.has_perm(ISSUE),
            "can_issue_card": refund.status == Refund.Status.APPROVED
            and refund.method == Refund.Method.CARD
            and request.user.has_perm(REQUEST_REFUND),
            "checks": refund.checks.all(),
            "ach_entries": refund.ach_entries.select_related("ach_file"),
        },
    )


@staff_required(perm=APPROVE)
@require_POST
def refund_decide(request, pk: int):
    refund = get_object_or_404(Refund, pk=pk)
    form = DecisionForm(request.POST)
    form.is_valid()
    note = form.cleaned_data.get("note", "")
    approve = request.POST.get("decision") == "approve"
    call = refunds.approve_refund if approve else refunds.reject_refund
    if (
        _run(form, lambda: call(refund=refund, actor=request.user, at=clock.now(), note=note))
        is None
    ):
        return refund_detail(request, pk, form=form)
    messages.success(request, f"Refund {pk} {'approved' if approve else 'rejected'}.")
    if approve:
        _give_back_to_card(request, refund)
    return redirect("console:refund", pk=pk)


@staff_required(perm=REQUEST_REFUND)
@require_POST
def refund_cancel(request, pk: int):
    refund = get_object_or_404(Refund, pk=pk)
    form = DecisionForm()
    if (
        _run(form, lambda: refunds.cancel_refund(refund=refund, actor=request.user, at=clock.now()))
        is None
    ):
        return refund_detail(request, pk, form=form)
    messages.success(request, f"Refund {pk} cancelled.")
    return redirect("console:refund", pk=pk)


@staff_required(perm=ISSUE)
@require_POST
def refund_issue_check(request, pk: int):
    refund = get_object_or_404(Refund, pk=pk)
    try:
        check = refunds.issue_check(refund=refund, actor=request.user, at=clock.now())
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(
            request,
            f"Check {check.number} issued to {check.payee_name} for {format_cents(check.amount_cents)}.",
        )
    return redirect("console:refund", pk=pk)


@staff_required(perm=REQUEST_REFUND)
@require_POST
def refund_issue_card(request, pk: int):
    """Ask the processor (again) for an approved card refund: the same key every time, so the
    card is credited once however often this is pressed."""
    refund = get_object_or_404(Refund, pk=pk)
    if refund.method != Refund.Method.CARD or refund.status != Refund.Status.APPROVED:
        messages.error(request, f"Refund {pk} is not an approved card refund.")
    else:
        _give_back_to_card(request, refund)
    return redirect("console:refund", pk=pk)


@staff_required(perm=VIEW)
def refund_list(request):
    status = request.GET.get("status", "pending")
    rows = Refund.objects.select_related("account", "maker")
    if status in Refund.Status.values:
        rows = rows.filter(status=status)
    return render(
        request,
        "console/banking/refunds.html",
        {"rows": [(r, _can_decide(request.user, r)) for r in rows[:200]], "status": status, "statuses": Refund.Status.choices},
    )  # fmt: skip


# Check register and positive pay -----------------------------------------------------------------


@staff_required(perm=ISSUE)
def check_register(request):
    day = _date_param(request.GET.get("date")) or local_today()
    return render(
        request,
        "console/banking/checks.html",
        {"checks": RefundCheck.objects.select_related("refund__account")[:300], "day": day, "reason_form": ReasonForm()},
    )  # fmt: skip


@staff_required(perm=ISSUE)
@require_POST
def check_void(request, pk: int):
    check = get_object_or_404(RefundCheck, pk=pk)
    try:
        refunds.void_check(
            check=check, reason=request.POST.get("reason", ""), actor=request.user, at=clock.now()
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, f"Check {check.number} void; the refund can be issued again.")
    return redirect("console:check_register")


@staff_required(perm=ISSUE)
def positive_pay(request):
    day = _date_param(request.GET.get("date"))
    if day is None:
        raise Http404("Give ?date=YYYY-MM-DD")
    response = HttpResponse(refunds.positive_pay_csv(issue_date=day), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="positive-pay-{day.isoformat()}.csv"'
    return response


def _date_param(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None
