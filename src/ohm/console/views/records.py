"""Console pages that create and change customer, premise and service records.

Each form post makes one domain call (the new customer and new premise pages make two, in
one transaction), puts the operation's errors next to the fields they name, and on success
returns to the record with a message. Bad input writes nothing and shows the form again.
"""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST

from ohm.agreements import operations as agreement_operations
from ohm.agreements import queries as agreement_queries
from ohm.agreements.models import ServiceAgreement
from ohm.console import forms
from ohm.console.views.auth import staff_required
from ohm.core import clock
from ohm.core.crypto import mask_all, mask_tail
from ohm.core.localtime import localdate
from ohm.customers import operations as customer_operations
from ohm.customers import queries as customer_queries
from ohm.customers.models import Account, AccountAlert, AccountPerson, Email, Person, Phone
from ohm.metering import queries as metering_queries
from ohm.premises import operations as premise_operations
from ohm.premises.addresses import normalize_words
from ohm.premises.models import Premise, ServicePoint

PICKER_LIMIT = 20


def local_today() -> date:
    return localdate(clock.now())


def account_url(number: str) -> str:
    try:
        return reverse("console:account", kwargs={"number": number})
    except NoReverseMatch:
        # The account page lives in urls_core; until it is wired the path is still right.
        return f"/console/accounts/{number}/"


def _account(number: str) -> Account:
    try:
        return customer_queries.get_account(number=number)
    except (customer_queries.AccountNotFound, ValidationError) as exc:
        raise Http404(f"No account {number}") from exc


def _find_persons(query: str):
    query = query.strip()
    if not query:
        return Person.objects.none()
    return (
        Person.objects.filter(last_name__istartswith=query)
        | Person.objects.filter(business_name__istartswith=query)
    ).order_by("last_name", "first_name", "business_name")[:PICKER_LIMIT]


def _find_premises(query: str):
    words = normalize_words(query)
    if not words:
        return Premise.objects.none()
    rows = Premise.objects.all()
    for word in words:
        rows = rows.filter(address_key__contains=word)
    return rows.prefetch_related("service_points").order_by("address_line1", "unit")[:PICKER_LIMIT]


def _flash_errors(request, form) -> None:
    """For the small buttons that post from another page: the errors travel as messages."""
    for field, errors in form.errors.items():
        messages.error(
            request, f"{field.replace('_', ' ').capitalize()}: {' '.join(str(e) for e in errors)}"
        )


# --- customers -------------------------------------------------------------------------------


@staff_required
@permission_required(["customers.add_person", "customers.add_account"], raise_exception=True)
def new_customer(request):
    """A new person and their account, or a new account for a person already on file."""
    today = local_today()
    existing_id = request.POST.get("existing_person") or request.GET.get("person")
    existing = (
        get_object_or_404(Person, pk=existing_id) if existing_id and existing_id.isdigit() else None
    )
    form = forms.NewCustomerForm(request.POST or None, today=today, existing=existing)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        at = clock.now()
        try:
            with transaction.atomic():
                person = existing or customer_operations.create_person(
                    actor=request.user,
                    at=at,
                    phones=form.phones(),
                    emails=form.emails(),
                    **form.person_fields(),
                )
                account = customer_operations.open_account(
                    main_person=person,
                    bill_cycle=data["bill_cycle"],
                    opened_date=data["opened_date"],
                    actor=request.user,
                    at=at,
                    **form.preferences(),
                )
        except ValidationError as exc:
            forms.add_operation_errors(form, exc)
        else:
            messages.success(request, f"Opened account {account.formatted_number} for {person}.")
            return redirect(account_url(account.number))
    person_query = request.GET.get("person_q", "")
    return render(
        request,
        "console/records/customer_new.html",
        {
            "form": form,
            "existing": existing,
            "person_query": person_query,
            "persons": _find_persons(person_query),
        },
    )


def _person_context(request, person: Person, **extra) -> dict:
    can_view_sensitive = request.user.has_perm("core.view_sensitive")
    sensitive = {
        "date_of_birth": person.date_of_birth
        if can_view_sensitive
        else mask_all(person.date_of_birth),
        "ssn_last4": person.ssn_last4 if can_view_sensitive else mask_all(person.ssn_last4),
        "tax_id": person.tax_id if can_view_sensitive else mask_tail(person.tax_id, visible=2),
    }
    context = {
        "person": person,
        "roles": person.account_roles.select_related("account").order_by(
            F("end_date").desc(nulls_first=True), "-start_date"
        ),
        "phones": person.phones.order_by("-is_primary", "id"),
        "emails": person.emails.order_by("-is_primary", "id"),
        "sensitive": sensitive,
        "can_view_sensitive": can_view_sensitive,
        "can_change": request.user.has_perm("customers.change_person"),
        "phone_form": forms.PhoneForm(prefix="phone"),
        "email_form": forms.EmailForm(prefix="email"),
    }
    context["phone_form"].fields["number"].widget.attrs.pop("autofocus", None)
    context["email_form"].fields["address"].widget.attrs.pop("autofocus", None)
    context.update(extra)
    return context


@staff_required
@permission_required("customers.view_person", raise_exception=True)
def person_detail(request, pk: int):
    person = get_object_or_404(Person, pk=pk)
    return render(request, "console/records/person_detail.html", _person_context(request, person))


@staff_required
@permission_required("customers.change_person", raise_exception=True)
def person_edit(request, pk: int):
    person = get_object_or_404(Person, pk=pk)
    can_view_sensitive = request.user.has_perm("core.view_sensitive")
    initial = forms.person_initial(person, can_view_sensitive=can_view_sensitive)
    form = forms.PersonForm(
        request.POST or None,
        initial=initial,
        today=local_today(),
        can_view_sensitive=can_view_sensitive,
    )
    if request.method == "POST" and form.is_valid():
        changes = form.changes(person)
        if not changes:
            messages.info(request, "Nothing changed.")
            return redirect("console:person", pk=person.pk)
        try:
            customer_operations.update_person(
                person=person,
                changes=changes,
                actor=request.user,
                at=clock.now(),
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            forms.add_operation_errors(form, exc)
        else:
            messages.success(request, f"Saved {person}.")
            return redirect("console:person", pk=person.pk)
    return render(request, "console/records/person_edit.html", {"form": form, "person": person})


@require_POST
@staff_required
@permission_required("customers.change_person", raise_exception=True)
def phone_add(request, pk: int):
    person = get_object_or_404(Person, pk=pk)
    form = forms.PhoneForm(request.POST, prefix="phone")
    if form.is_valid():
        data = form.cleaned_data
        try:
            phone = customer_operations.add_phone(
                person=person,
                number=data["number"],
                kind=data["kind"],
                is_primary=data["is_primary"],
                sms_consent=data["sms_consent"],
                actor=request.user,
                at=clock.now(),
            )
        except ValidationError as exc:
            forms.add_operation_errors(form, exc, aliases={"phone": "number"})
        else:
            messages.success(request, f"Added {phone} for {person}.")
            return redirect("console:person", pk=person.pk)
    return render(
        request,
        "console/records/person_detail.html",
        _person_context(request, person, phone_form=form),
    )


@require_POST
@staff_required
@permission_required("customers.change_person", raise_exception=True)
def phone_remove(request, pk: int, phone_id: int):
    phone = get_object_or_404(Phone, pk=phone_id, person_id=pk)
    customer_operations.remove_phone(
        phone=phone, actor=request.user, at=clock.now(), reason=request.POST.get("reason", "")
    )
    messages.success(request, f"Removed {phone}.")
    return redirect("console:person", pk=pk)


@require_POST
@staff_required
@permission_required("customers.change_person", raise_exception=True)
def email_add(request, pk: int):
    person = get_object_or_404(Person, pk=pk)
    form = forms.EmailForm(request.POST, prefix="email")
    if form.is_valid():
        try:
            email = customer_operations.add_email(
                person=person,
                address=form.cleaned_data["address"],
                is_primary=form.cleaned_data["is_primary"],
                actor=request.user,
                at=clock.now(),
            )
        except ValidationError as exc:
            forms.add_operation_errors(form, exc, aliases={"email": "address"})
        else:
            messages.success(request, f"Added {email} for {person}.")
            return redirect("console:person", pk=person.pk)
    return render(
        request,
        "console/records/person_detail.html",
        _person_context(request, person, email_form=form),
    )


@require_POST
@staff_required
@permission_required("customers.change_person", raise_exception=True)
def email_remove(request, pk: int, email_id: int):
    email = get_object_or_404(Email, pk=email_id, person_id=pk)
    customer_operations.remove_email(
        email=email, actor=request.user, at=clock.now(), reason=request.POST.get("reason", "")
    )
    messages.success(request, f"Removed {email}.")
    return redirect("console:person", pk=pk)


# --- accounts --------------------------------------------------------------------------------


@staff_required
@permission_required("customers.change_account", raise_exception=True)
def account_edit(request, number: str):
    account = _account(number)
    form = forms.AccountForm(
        request.POST or None, initial=forms.account_initial(account), today=local_today()
    )
    if request.method == "POST" and form.is_valid():
        changes = form.changes(account)
        if not changes:
            messages.info(request, "Nothing changed.")
            return redirect(account_url(account.number))
        try:
            customer_operations.update_account(
                account=account,
                changes=changes,
                actor=request.user,
                at=clock.now(),
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            forms.add_operation_errors(form, exc)
        else:
            messages.success(request, f"Saved account {account.formatted_number}.")
            return redirect(account_url(account.number))
    return render(
        request,
        "console/records/account_edit.html",
        {"form": form, "account": account, "account_url": account_url(account.number)},
    )


@staff_required
@permission_required("customers.change_account", raise_exception=True)
def account_status(request, number: str):
    account = _account(number)
    form = forms.AccountStatusForm(request.POST or None, account=account, today=local_today())
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            customer_operations.change_account_status(
                account=account,
                to_status=data["status"],
                effective_date=data["effective_date"],
                actor=request.user,
                at=clock.now(),
                reason=data["reason"],
            )
        except ValidationError as exc:
            forms.add_operation_errors(form, exc)
        else:
            messages.success(
                request,
                f"Account {account.formatted_number} is now {Account.Status(data['status']).label.lower()}.",
            )
            return redirect(account_url(account.number))
    return render(
        request,
        "console/records/account_status.html",
        {
            "form": form,
            "account": account,
            "account_url": account_url(account.number),
            "allowed": bool(customer_operations.ALLOWED_TRANSITIONS.get(account.status)),
        },
    )


@staff_required
@permission_required("customers.add_accountalert", raise_exception=True)
def alert_new(request, number: str):
    account = _account(number)
    form = forms.AlertForm(request.POST or None, today=local_today())
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            alert = customer_operations.add_alert(
                account=account,
                kind=data["kind"],
                note=data["note"],
                start_date=data["start_date"],
                end_date=data["end_date"],
                actor=request.user,
                at=clock.now(),
            )
        except ValidationError as exc:
            forms.add_operation_errors(form, exc)
        else:
            messages.success(request, f"Added the {alert.get_kind_display().lower()} alert.")
            return redirect(account_url(account.number))
    return render(
        request,
        "console/records/alert_new.html",
        {
            "form": form,
            "account": account,
            "account_url": account_url(account.number),
            "alerts": customer_queries.list_current_alerts(account=account, as_of=local_today()),
        },
    )


@require_POST
@staff_required
@permission_required("customers.change_accountalert", raise_exception=True)
def alert_end(request, alert_id: int):
    alert = get_object_or_404(AccountAlert.objects.select_related("account"), pk=alert_id)
    form = forms.EndForm(request.POST)
    if form.is_valid():
        try:
            customer_operations.end_alert(
                alert=alert,
                end_date=form.cleaned_data["end_date"] or local_today(),
                actor=request.user,
                at=clock.now(),
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, f"Ended the {alert.get_kind_display().lower()} alert.")
    else:
        _flash_errors(request, form)
    return redirect(account_url(alert.account.number))


@staff_required
@permission_required("customers.add_accountperson", raise_exception=True)
def account_person_new(request, number: str):
    account = _account(number)
    form = forms.AccountPersonForm(
        request.POST or None, today=local_today(), initial={"person": request.GET.get("person")}
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        at = clock.now()
        try:
            with transaction.atomic():
                person = data.get("person_obj") or customer_operations.create_person(
                    actor=request.user,
                    at=at,
                    phones=[{"number": data["phone"], "kind": "mobile"}] if data["phone"] else [],
                    emails=[data["email"]] if data["email"] else [],
                    **form.new_person_fields(account),
                )
                link = customer_operations.add_account_person(
                    account=account,
                    person=person,
                    role=data["role"],
                    start_date=data["start_date"],
                    actor=request.user,
                    at=at,
                )
        except ValidationError as exc:
            forms.add_operation_errors(form, exc)
        else:
            messages.success(request, f"Added {person} as {link.get_role_display().lower()}.")
            return redirect(account_url(account.number))
    person_query = request.GET.get("person_q", "")
    return render(
        request,
        "console/records/account_person_new.html",
        {
            "form": form,
            "account": account,
            "account_url": account_url(account.number),
            "person_query": person_query,
            "persons": _find_persons(person_query),
            "current": customer_queries.list_current_account_persons(
                account=account, as_of=local_today()
            ),
        },
    )


@require_POST
@staff_required
@permission_required("customers.change_accountperson", raise_exception=True)
def account_person_end(request, link_id: int):
    link = get_object_or_404(AccountPerson.objects.select_related("account", "person"), pk=link_id)
    form = forms.EndForm(request.POST)
    if form.is_valid():
        try:
            customer_operations.end_account_person(
                link=link,
                end_date=form.cleaned_data["end_date"] or local_today(),
                actor=request.user,
                at=clock.now(),
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(
                request, f"{link.person} is no longer {link.get_role_display().lower()}."
            )
    else:
        _flash_errors(request, form)
    return redirect(account_url(link.account.number))


# --- service ---------------------------------------------------------------------------------


@staff_required
@permission_required("agreements.add_serviceagreement", raise_exception=True)
def service_start(request, number: str):
    account = _account(number)
    query = request.GET.get("q", "")
    premises = list(_find_premises(query))
    points = [
        point
        for premise in premises
        for point in premise.service_points.all()
        if point.status == ServicePoint.Status.ACTIVE
    ]
    form = forms.StartServiceForm(
        request.POST or None, today=local_today(), service_points=points or None
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            agreement = agreement_operations.start_service(
                account=account,
                service_point=data["service_point"],
                rate_schedule=data["rate_schedule"],
                start_date=data["start_date"],
                actor=request.user,
                at=clock.now(),
            )
        except ValidationError as exc:
            forms.add_operation_errors(form, exc)
        else:
            messages.success(
                request, f"Started service {agreement.number} at {agreement.service_point.premise}."
            )
            return redirect(account_url(account.number))
    chosen = form["service_point"].value() if form.is_bound else None
    if form.is_bound and chosen and not points:
        chosen_point = (
            ServicePoint.objects.select_related("premise").filter(pk=chosen).first()
            if str(chosen).isdigit()
            else None
        )
        if chosen_point:
            form.fields["service_point"].widget.choices = [
                (chosen_point.pk, f"{chosen_point.number} at {chosen_point.premise}")
            ]
    served = set(
        ServiceAgreement.objects.filter(
            service_point__in=points, status__in=agreement_operations.OPEN_STATUSES
        ).values_list("service_point_id", flat=True)
    )
    return render(
        request,
        "console/records/service_start.html",
        {
            "form": form,
            "account": account,
            "account_url": account_url(account.number),
            "query": query,
            "premises": premises,
            "points": points,
            "served": served,
        },
    )


@staff_required
@permission_required("agreements.change_serviceagreement", raise_exception=True)
def service_stop(request, sa_number: str):
    agreement = get_object_or_404(
        ServiceAgreement.objects.select_related(
            "account", "service_point__premise", "rate_schedule"
        ),
        number=sa_number,
    )
    form = forms.StopServiceForm(
        request.POST or None, start_date=agreement.start_date, today=local_today()
    )
    if request.method == "POST" and form.is_valid():
        try:
            agreement_operations.stop_service(
                agreement=agreement,
                end_date=form.cleaned_data["end_date"],
                actor=request.user,
                at=clock.now(),
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            forms.add_operation_errors(form, exc)
        else:
            messages.success(
                request,
                f"Service {agreement.number} stops on {form.cleaned_data['end_date']:%b %-d, %Y}.",
            )
            return redirect(account_url(agreement.account.number))
    return render(
        request,
        "console/records/service_stop.html",
        {
            "form": form,
            "agreement": agreement,
            "account_url": account_url(agreement.account.number),
        },
    )


# --- premises and meters ---------------------------------------------------------------------


@staff_required
@permission_required("premises.view_premise", raise_exception=True)
def premise_detail(request, number: str):
    premise = get_object_or_404(Premise, number=number)
    at = clock.now()
    points = list(premise.service_points.order_by("number"))
    rows = [
        (point, metering_queries.get_installed_meter(service_point_id=point.pk, at=at))
        for point in points
    ]
    return render(
        request,
        "console/records/premise_detail.html",
        {
            "premise": premise,
            "rows": rows,
            "agreements": agreement_queries.list_agreements_at_premise(premise_id=premise.pk),
        },
    )


@staff_required
@permission_required(["premises.add_premise", "premises.add_servicepoint"], raise_exception=True)
def premise_new(request):
    form = forms.PremiseForm(request.POST or None)
    duplicate = None
    if request.method == "POST" and form.is_valid():
        at = clock.now()
        try:
            with transaction.atomic():
                premise = premise_operations.create_premise(
                    actor=request.user, at=at, **form.premise_fields()
                )
                premise_operations.add_service_point(
                    premise=premise, actor=request.user, at=at, **form.service_point_fields()
                )
        except premise_operations.DuplicatePremise as exc:
            duplicate = exc.existing
            forms.add_operation_errors(form, exc)
        except ValidationError as exc:
            forms.add_operation_errors(form, exc)
        else:
            messages.success(request, f"Created premise {premise.number} at {premise.one_line}.")
            return redirect("console:premise", number=premise.number)
    return render(
        request, "console/records/premise_new.html", {"form": form, "duplicate": duplicate}
    )
