"""The account page — the CSR's home — and logging an interaction from it."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from ohm.agreements import queries as agreement_queries
from ohm.console.forms_core import InteractionForm
from ohm.console.views import books
from ohm.console.views.auth import staff_required
from ohm.core import clock
from ohm.core.localtime import localdate
from ohm.core.models import AuditEvent
from ohm.customers import operations as customer_operations
from ohm.customers import queries as customer_queries
from ohm.customers.models import Account, AccountPerson
from ohm.metering import queries as metering_queries
from ohm.workqueue import queries as work_queries

INTERACTIONS_SHOWN = 20
AUDIT_EVENTS_SHOWN = 10
RECENT_SESSION_KEY = "console_recent_accounts"
RECENT_KEPT = 10


def _account_or_404(number: str) -> Account:
    try:
        return customer_queries.get_account(number=number)
    except (ValidationError, customer_queries.AccountNotFound) as exc:
        raise Http404(f"No account {number}") from exc


def remember_viewed(request, number: str) -> None:
    """Keep the latest ``RECENT_KEPT`` account numbers this user opened, latest first."""
    recent = [n for n in request.session.get(RECENT_SESSION_KEY, []) if n != number]
    request.session[RECENT_SESSION_KEY] = [number, *recent][:RECENT_KEPT]


@dataclass
class ServicePointView:
    point: object
    agreements: list = field(default_factory=list)
    installations: list = field(default_factory=list)


@dataclass
class PremiseView:
    premise: object
    points: dict[int, ServicePointView] = field(default_factory=dict)


def _premises(account: Account, agreements) -> list[PremiseView]:
    """Premises → service points → (agreements, meters) for the agreements on the account."""
    premises: dict[int, PremiseView] = {}
    for agreement in agreements:
        point = agreement.service_point
        premise = premises.setdefault(point.premise_id, PremiseView(point.premise))
        premise.points.setdefault(point.pk, ServicePointView(point)).agreements.append(agreement)
    points = {pk: view for p in premises.values() for pk, view in p.points.items()}
    if points:
        installations = metering_queries.list_installations(
            service_point_ids=list(points)
        ).order_by("-installed_at")
        for installation in installations:
            points[installation.service_point_id].installations.append(installation)
    return list(premises.values())


def _interactions_context(
    request, account: Account, *, form: InteractionForm | None = None
) -> dict:
    rows = list(customer_queries.list_interactions(account=account)[: INTERACTIONS_SHOWN + 1])
    return {
        "account": account,
        "interactions": rows[:INTERACTIONS_SHOWN],
        "more_interactions": len(rows) > INTERACTIONS_SHOWN,
        "interaction_form": form,
        "can_log": request.user.has_perm("customers.add_interaction"),
    }


@staff_required(perm="customers.view_account")
def account_page(request, number: str):
    account = _account_or_404(number)
    today = localdate(clock.now())
    links = list(customer_queries.list_current_account_persons(account=account, as_of=today))
    agreements = list(agreement_queries.list_agreements(account_id=account.pk))
    can_see_audit = request.user.has_perm("core.view_audit")
    context = {
        **_interactions_context(request, account),
        "today": today,
        "banners": customer_queries.list_banners(account=account, as_of=today),
        "links": links,
        "main_person": next(
            (link.person for link in links if link.role == AccountPerson.Role.MAIN), None
        ),
        "agreements": agreements,
        "premises": _premises(account, agreements),
        "work_items": [
            w for w in work_queries.list_account_work(account_id=account.pk)[:20] if not w.is_closed
        ],
        "notify_by": [
            name
            for name, on in (
                ("Email", account.notify_by_email),
                ("Text", account.notify_by_sms),
                ("Mail", account.notify_by_mail),
            )
            if on
        ],
        "balance": books.balance_card(account_id=account.pk, as_of=today),
        "can_see_sensitive": request.user.has_perm("core.view_sensitive"),
        "can_see_audit": can_see_audit,
        "audit_events": list(AuditEvent.objects.filter(account_id=account.pk)[:AUDIT_EVENTS_SHOWN])
        if can_see_audit
        else [],
    }
    remember_viewed(request, account.number)
    return render(request, "console/account.html", context)


@staff_required(perm="customers.add_interaction")
@require_http_methods(["GET", "POST"])
def log_interaction(request, number: str):
    """GET: the inline form. POST: log it and answer with the refreshed interactions section
    (htmx), or go back to the account page (plain form post)."""
    account = _account_or_404(number)
    today = localdate(clock.now())
    persons = [
        link.person
        for link in customer_queries.list_current_account_persons(account=account, as_of=today)
    ]
    form = InteractionForm(request.POST or None, persons=persons)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                customer_operations.log_interaction(
                    account=account,
                    channel=form.cleaned_data["channel"],
                    reason_code=form.cleaned_data["reason"],
                    note=form.cleaned_data["note"],
                    person=form.selected_person(),
                    occurred_at=clock.now(),
                    actor=request.user,
                )
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                if not request.htmx:
                    return redirect("console:account", number=account.number)
                return render(
                    request,
                    "console/partials/core_interactions.html",
                    _interactions_context(request, account),
                )
        status = 422
    context = _interactions_context(request, account, form=form)
    template = (
        "console/partials/core_interactions.html"
        if request.htmx
        else "console/account_interaction.html"
    )
    return render(request, template, context, status=status)


def _add_errors(form: InteractionForm, exc: ValidationError) -> None:
    """An operation's errors onto the form field they name (the rest onto the form)."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for name, errors in exc.message_dict.items():
        form.add_error(name if name in form.fields else None, errors)
