"""Work queue pages: my work, my teams' queue with "assign next", an item, a new item."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.db.models import F
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from ohm.console import forms
from ohm.console.views.auth import staff_required
from ohm.console.views.records import account_url, local_today
from ohm.core import clock
from ohm.customers.models import Account
from ohm.workqueue import operations as work_operations
from ohm.workqueue import queries as work_queries
from ohm.workqueue.models import WorkCategory, WorkItem


@staff_required
@permission_required("workqueue.view_workitem", raise_exception=True)
def my_work(request):
    items = work_queries.list_my_work(user=request.user).order_by("priority", "due_date", "id")
    return render(request, "console/work/my_work.html", {"items": items, "today": local_today()})


@staff_required
@permission_required("workqueue.view_workitem", raise_exception=True)
def team_queue(request):
    today = local_today()
    team_ids = list(request.user.groups.values_list("pk", flat=True))
    status = request.GET.get("status", "")
    if status in WorkItem.Status.values:
        # Closed items are not in the open queue; a status filter may ask for them.
        items = WorkItem.objects.filter(team_id__in=team_ids, status=status).select_related(
            "category", "team", "assignee"
        )
    else:
        status = ""
        items = work_queries.list_team_queue(team_ids=team_ids)
    category = request.GET.get("category", "")
    if category:
        items = items.filter(category__code=category)
    overdue = request.GET.get("overdue") == "1"
    if overdue:
        items = items.filter(due_date__lt=today)
    items = items.order_by(F("assignee_id").asc(nulls_first=True), "priority", "due_date", "id")[
        :200
    ]
    return render(
        request,
        "console/work/team_queue.html",
        {
            "items": items,
            "today": today,
            "summary": work_queries.summarize_queue(team_ids=team_ids, as_of=today),
            "categories": WorkCategory.objects.filter(team_id__in=team_ids),
            "statuses": WorkItem.Status.choices,
            "status": status,
            "category": category,
            "overdue": overdue,
        },
    )


@require_POST
@staff_required
@permission_required("workqueue.change_workitem", raise_exception=True)
def assign_next(request):
    try:
        item = work_operations.assign_next_work_item(user=request.user, at=clock.now())
    except work_operations.NothingToAssign:
        messages.info(
            request, "Nothing to assign: your teams' queues have no unassigned open items."
        )
        return redirect("console:team_queue")
    messages.success(request, f"Assigned to you: #{item.pk} {item.title}.")
    return redirect("console:work_item", pk=item.pk)


def _item_context(request, item: WorkItem, **extra) -> dict:
    context = {
        "item": item,
        "notes": item.notes.all(),
        "account_url": account_url(item.account_number) if item.account_number else "",
        "note_form": forms.WorkNoteForm(prefix="note"),
        "status_form": forms.WorkStatusForm(prefix="status", initial={"status": item.status}),
        "can_change": request.user.has_perm("workqueue.change_workitem"),
        "can_assign": request.user.has_perm("workqueue.assign_workitem"),
        "today": local_today(),
    }
    context["note_form"].fields["text"].widget.attrs.pop("autofocus", None)
    if context["can_assign"]:
        context["assign_form"] = forms.WorkAssignForm(
            prefix="assign", item=item, initial={"assignee": item.assignee_id}
        )
    context.update(extra)
    return context


def _item(pk: int) -> WorkItem:
    return get_object_or_404(WorkItem.objects.select_related("category", "team", "assignee"), pk=pk)


@staff_required
@permission_required("workqueue.view_workitem", raise_exception=True)
def work_item(request, pk: int):
    item = _item(pk)
    return render(request, "console/work/item_detail.html", _item_context(request, item))


@require_POST
@staff_required
@permission_required("workqueue.change_workitem", raise_exception=True)
def work_note(request, pk: int):
    item = _item(pk)
    form = forms.WorkNoteForm(request.POST, prefix="note")
    if form.is_valid():
        try:
            work_operations.add_work_note(
                item=item, text=form.cleaned_data["text"], actor=request.user, at=clock.now()
            )
        except ValidationError as exc:
            forms.add_operation_errors(form, exc)
        else:
            messages.success(request, "Note added.")
            return redirect("console:work_item", pk=item.pk)
    return render(
        request, "console/work/item_detail.html", _item_context(request, item, note_form=form)
    )


@require_POST
@staff_required
@permission_required("workqueue.change_workitem", raise_exception=True)
def work_status(request, pk: int):
    item = _item(pk)
    form = forms.WorkStatusForm(request.POST, prefix="status")
    if form.is_valid():
        data = form.cleaned_data
        try:
            work_operations.set_work_status(
                item=item,
                status=data["status"],
                resolution=data["resolution"],
                actor=request.user,
                at=clock.now(),
            )
        except ValidationError as exc:
            forms.add_operation_errors(form, exc)
        else:
            messages.success(
                request, f"#{item.pk} is now {WorkItem.Status(data['status']).label.lower()}."
            )
            return redirect("console:work_item", pk=item.pk)
    return render(
        request, "console/work/item_detail.html", _item_context(request, item, status_form=form)
    )


@require_POST
@staff_required
@permission_required(
    ["workqueue.change_workitem", "workqueue.assign_workitem"], raise_exception=True
)
def work_assign(request, pk: int):
    item = _item(pk)
    form = forms.WorkAssignForm(request.POST, prefix="assign", item=item)
    if form.is_valid():
        assignee = form.cleaned_data["assignee"]
        try:
            work_operations.assign_work_item(
                item=item, assignee=assignee, actor=request.user, at=clock.now()
            )
        except ValidationError as exc:
            forms.add_operation_errors(form, exc)
        else:
            messages.success(
                request,
                f"#{item.pk} assigned to {assignee.username}."
                if assignee
                else f"#{item.pk} is unassigned.",
            )
            return redirect("console:work_item", pk=item.pk)
    return render(
        request, "console/work/item_detail.html", _item_context(request, item, assign_form=form)
    )


@staff_required
@permission_required("workqueue.add_workitem", raise_exception=True)
def work_new(request):
    account = None
    number = request.POST.get("account") or request.GET.get("account") or ""
    if number:
        account = Account.objects.filter(
            number="".join(ch for ch in number if ch.isdigit())
        ).first()
    form = forms.WorkItemForm(request.POST or None, today=local_today())
    if request.method == "POST" and form.is_valid() and number and account is None:
        form.add_error(None, f"No account has the number “{number}”.")
    elif request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            item = work_operations.raise_work_item(
                category_code=data["category"].code,
                title=data["title"],
                description=data["description"],
                priority=data["priority"],
                due_date=data["due_date"],
                subject=account,
                account_id=account.pk if account else None,
                account_number=account.number if account else "",
                actor=request.user,
                at=clock.now(),
            )
        except ValidationError as exc:
            forms.add_operation_errors(form, exc)
        else:
            messages.success(request, f"Raised #{item.pk} for the {item.team.name} team.")
            return redirect("console:work_item", pk=item.pk)
    return render(
        request,
        "console/work/item_new.html",
        {
            "form": form,
            "account": account,
            "number": number,
            "account_url": account_url(account.number) if account else "",
        },
    )
