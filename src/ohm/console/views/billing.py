"""Billing in the console: the cycle calendar, launching a bill run and watching its progress
(any ``BatchRun``: the progress view is generic), the held-bill queue, a bill's detail with its
lines, determinants, PDF and explanation, and release / cancel / rebill."""

from __future__ import annotations

import json
from datetime import date

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from ohm.billing import calendar, operations, presentment, queries, runs
from ohm.billing.models import Bill
from ohm.console.views.auth import staff_required
from ohm.core import batchrun, clock
from ohm.core.localtime import localdate
from ohm.core.models import BatchRun
from ohm.customers import queries as customer_queries
from ohm.payments.scanline import build_scan_line

VIEW = "billing.view_bill"
RUN = "billing.run_bills"
REVIEW = "billing.review_bill"


def _today() -> date:
    return localdate(clock.now())


class RunForm(forms.Form):
    cycle = forms.IntegerField(min_value=1, max_value=20)
    as_of = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500, widget=forms.TextInput(attrs={"size": 50}))


@staff_required(perm=VIEW)
def home(request):
    today = _today()
    rows = queries.list_cycle_calendar(as_of=today)
    latest_runs = {}
    for run in BatchRun.objects.filter(kind=runs.KIND).order_by("-created_at", "-id")[:200]:
        latest_runs.setdefault(int(run.parameters.get("cycle", 0)), run)
    return render(
        request,
        "console/billing/home.html",
        {
            "rows": [(row, latest_runs.get(row.cycle.number)) for row in rows],
            "today": today,
            "held_count": queries.list_held_bills().count(),
            "form": RunForm(initial={"as_of": today}),
            "can_run": request.user.has_perm(RUN),
        },
    )


@staff_required(perm=VIEW)
def cycle_calendar(request, cycle: int):
    from ohm.billing.models import BillCycle

    row = get_object_or_404(BillCycle, number=cycle)
    year = int(request.GET.get("year") or _today().year)
    return render(
        request,
        "console/billing/calendar.html",
        {"cycle": row, "year": year, "dates": calendar.calendar_for_year(row.rule, year)},
    )


@require_POST
@staff_required(perm=RUN)
def start_run(request):
    form = RunForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a cycle (1–20) and an as-of date.")
        return redirect("console:billing_home")
    try:
        run = runs.plan_bill_run(
            cycle=form.cleaned_data["cycle"],
            as_of=form.cleaned_data["as_of"],
            actor=request.user,
            at=clock.now(),
        )
    except (calendar.NoSuchCycle, runs.CycleNotActive) as error:
        messages.error(request, str(error))
        return redirect("console:billing_home")
    if run.status in (BatchRun.Status.SUCCEEDED, BatchRun.Status.CANCELLED):
        messages.info(request, f"Cycle {run.parameters['cycle']} for that read date already ran.")
    else:
        batchrun.execute_batch_run.enqueue(run.pk)
        messages.success(
            request,
            ("Resumed" if getattr(run, "resumed", False) else "Started")
            + f" run {run.pk}: {run.total_items:,} accounts.",
        )
    return redirect("console:batch_run", run_id=run.pk)


def _run_context(run: BatchRun) -> dict:
    progress = batchrun.get_progress(run)
    return {
        "run": run,
        "progress": progress,
        "totals": batchrun.summed_results(run),
        "polling": run.status in (BatchRun.Status.PLANNED, BatchRun.Status.RUNNING),
        "failed_chunks": run.chunks.filter(status="failed").order_by("sequence")[:5],
    }


@staff_required(perm=VIEW)
def run_detail(request, run_id: int):
    run = get_object_or_404(BatchRun, pk=run_id)
    return render(
        request,
        "console/billing/run.html",
        _run_context(run) | {"can_run": request.user.has_perm(RUN)},
    )


@staff_required(perm=VIEW)
def run_progress(request, run_id: int):
    """The htmx partial the run page polls every second while the run goes on."""
    run = get_object_or_404(BatchRun, pk=run_id)
    return render(request, "console/billing/_run_progress.html", _run_context(run))


@require_POST
@staff_required(perm=RUN)
def resume_run(request, run_id: int):
    run = get_object_or_404(BatchRun, pk=run_id)
    if run.status in (BatchRun.Status.SUCCEEDED, BatchRun.Status.CANCELLED):
        messages.info(request, f"Run {run.pk} is {run.get_status_display().lower()}.")
    else:
        batchrun.execute_batch_run.enqueue(run.pk)
        messages.success(request, f"Run {run.pk} queued to resume.")
    return redirect("console:batch_run", run_id=run.pk)


@require_POST
@staff_required(perm=RUN)
def cancel_run(request, run_id: int):
    run = get_object_or_404(BatchRun, pk=run_id)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why the run is cancelled.")
        return redirect("console:batch_run", run_id=run.pk)
    try:
        batchrun.cancel_run(
            run=run, actor=request.user, at=clock.now(), reason=form.cleaned_data["reason"]
        )
    except batchrun.RunNotResumable as error:
        messages.error(request, str(error))
    return redirect("console:batch_run", run_id=run.pk)


@staff_required(perm=VIEW)
def exceptions(request):
    cycle = request.GET.get("cycle")
    bills = queries.list_held_bills(cycle=int(cycle) if cycle and cycle.isdigit() else None)
    return render(
        request, "console/billing/exceptions.html", {"bills": bills[:500], "cycle": cycle}
    )


def _bill_or_404(number: str) -> Bill:
    try:
        return queries.get_bill(number=number)
    except queries.BillNotFound as exc:
        raise Http404(str(exc)) from exc


@staff_required(perm=VIEW)
def bill_detail(request, number: str):
    bill = _bill_or_404(number)
    explained = queries.explain_bill(bill)
    segments = list(bill.segments.select_related("agreement__service_point__premise"))
    lines = bill.line_list()
    chart = {
        "labels": [f"{day:%b %-d}" for day, _ in explained.profile.daily],
        "kwh": [float(kwh) for _, kwh in explained.profile.daily],
        "hours": [float(kwh) for kwh in explained.profile.hourly],
    }
    return render(
        request,
        "console/billing/bill.html",
        {
            "bill": bill,
            "segments": [
                (s, [line for line in lines if line.segment_id == s.pk]) for s in segments
            ],
            "explanation": explained.explanation,
            "previous": explained.previous,
            "last_year": explained.last_year,
            "chart_json": json.dumps(chart),
            "messages_text": [
                presentment.message_text(m, language="en", due_date=bill.due_date)
                for m in bill.messages or []
            ],
            "reason_form": ReasonForm(),
            "can_review": request.user.has_perm(REVIEW),
            "replaced_by": Bill.objects.filter(replaces=bill).first(),
        },
    )


@staff_required(perm=VIEW)
def bill_pdf(request, number: str):
    bill = _bill_or_404(number)
    pdf = presentment.bill_pdf(bill, scan_line=build_scan_line)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="bill-{bill.number}.pdf"'
    return response


def _act(request, number: str, call, done: str):
    bill = _bill_or_404(number)
    form = ReasonForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a reason.")
        return redirect("console:bill", number=bill.number)
    try:
        result = call(
            bill=bill, actor=request.user, at=clock.now(), reason=form.cleaned_data["reason"]
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("console:bill", number=bill.number)
    messages.success(request, done.format(bill=result))
    return redirect("console:bill", number=result.number)


@require_POST
@staff_required(perm=REVIEW)
def release(request, number: str):
    return _act(request, number, operations.release_bill, "Bill {bill.number} released and posted.")


@require_POST
@staff_required(perm=REVIEW)
def cancel(request, number: str):
    return _act(request, number, operations.cancel_bill, "Bill {bill.number} is {bill.status}.")


@require_POST
@staff_required(perm=REVIEW)
def rebill(request, number: str):
    return _act(request, number, operations.rebill, "Rebilled as {bill.number} ({bill.status}).")


@staff_required(perm=VIEW)
def account_bills(request, number: str):
    """The account page's Bills card (loaded by htmx)."""
    try:
        account = customer_queries.get_account(number=number)
    except (ValidationError, customer_queries.AccountNotFound) as exc:
        raise Http404(f"No account {number}") from exc
    bills = list(queries.list_bills(account_id=account.pk)[:13])
    return render(
        request,
        "console/billing/_account_bills.html",
        {"account": account, "bills": bills, "all_url": reverse("console:billing_home")},
    )
