"""Rate pages: the schedules list, a schedule's version history, the version editor with its
preview bill, URDB import and export, approval, and the rate comparison on the account page.

Who does what: everyone who sees records sees rates; a billing analyst
(``rates.change_rateversion``) writes and edits drafts and imports URDB records; a supervisor
(``rates.approve_rateversion``) approves or withdraws them — never their own draft.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from ohm.agreements import queries as agreement_queries
from ohm.agreements import rate_comparison
from ohm.console.forms import add_operation_errors
from ohm.console.views import rates_forms as rf
from ohm.console.views.auth import staff_required
from ohm.core import clock
from ohm.core.localtime import localdate, utility_zone
from ohm.rates import calc, operations, queries
from ohm.rates import tariff as tariffs
from ohm.rates.models import RateSchedule, RateVersion

VIEW = "rates.view_rateschedule"
EDIT = "rates.change_rateversion"
APPROVE = "rates.approve_rateversion"
SCHEDULE_EDIT = "rates.change_rateschedule"
SCHEDULE_ADD = "rates.add_rateschedule"

#: Colours of TOU periods 0…9 in the 12 × 24 grids (period numbers repeat after ten).
PERIOD_COLOURS = [
    "#dbeafe",
    "#fde68a",
    "#fca5a5",
    "#bbf7d0",
    "#ddd6fe",
    "#fed7aa",
    "#a5f3fc",
    "#f5d0fe",
    "#d9f99d",
    "#e5e7eb",
]


def _today() -> date:
    return localdate(clock.now())


def _schedule(code: str) -> RateSchedule:
    try:
        return queries.get_schedule(code=code)
    except queries.ScheduleNotFound as exc:
        raise Http404(str(exc)) from exc


def _version(code: str, number: int) -> RateVersion:
    schedule = _schedule(code)
    try:
        return queries.get_version(schedule=schedule, number=number)
    except RateVersion.DoesNotExist as exc:
        raise Http404(f"{schedule.code} has no version {number}.") from exc


def _in_effect(schedule: RateSchedule, today: date) -> RateVersion | None:
    try:
        return queries.get_version_in_effect(schedule=schedule, on_date=today)
    except queries.NoVersionInEffect:
        return None


def version_url(version: RateVersion) -> str:
    return reverse(
        "console:rate_version", kwargs={"code": version.schedule.code, "number": version.number}
    )


# -- schedules ----------------------------------------------------------------------------


@staff_required(perm=VIEW)
def schedule_list(request):
    today = _today()
    rows = []
    schedules = list(queries.list_schedules())
    versions = RateVersion.objects.filter(schedule__in=schedules).order_by("-effective_date")
    by_schedule: dict[int, list[RateVersion]] = {}
    for version in versions:
        by_schedule.setdefault(version.schedule_id, []).append(version)
    for schedule in schedules:
        mine = by_schedule.get(schedule.pk, [])
        approved = [v for v in mine if v.status == RateVersion.Status.APPROVED]
        current = next((v for v in approved if v.effective_date <= today), None)
        upcoming = [v for v in approved if v.effective_date > today]
        rows.append(
            {
                "schedule": schedule,
                "current": current,
                "upcoming": upcoming[-1] if upcoming else None,
                "drafts": sum(1 for v in mine if v.status == RateVersion.Status.DRAFT),
                "versions": len(mine),
            }
        )
    return render(request, "console/rates/list.html", {"rows": rows, "today": today})


@staff_required(perm=SCHEDULE_ADD)
@require_http_methods(["GET", "POST"])
def schedule_new(request):
    form = rf.ScheduleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            schedule = _create_schedule(request, form)
        except ValidationError as exc:
            add_operation_errors(form, exc)
        else:
            messages.success(
                request, f"Rate schedule {schedule.code} created: add its first version."
            )
            return redirect("console:rate_schedule", code=schedule.code)
    return render(
        request,
        "console/rates/schedule_form.html",
        {"form": form, "title": "New rate schedule"},
        status=422 if form.errors else 200,
    )


def _create_schedule(request, form) -> RateSchedule:
    data = form.cleaned_data
    return operations.create_rate_schedule(
        code=data["code"],
        name=data["name"],
        customer_class=data["customer_class"],
        description=data["description"],
        requires_interval_meter=data["requires_interval_meter"],
        required_program=data["required_program"] or "",
        actor=request.user,
        at=clock.now(),
    )


@staff_required(perm=SCHEDULE_EDIT)
@require_http_methods(["GET", "POST"])
def schedule_edit(request, code: str):
    schedule = _schedule(code)
    initial = {
        name: getattr(schedule, name)
        for name in (
            "code",
            "name",
            "customer_class",
            "description",
            "requires_interval_meter",
            "required_program",
            "is_active",
        )
    }
    form = rf.ScheduleForm(request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            operations.update_rate_schedule(
                schedule=schedule,
                name=data["name"],
                customer_class=data["customer_class"],
                description=data["description"],
                requires_interval_meter=data["requires_interval_meter"],
                required_program=data["required_program"] or "",
                is_active=data["is_active"],
                actor=request.user,
                at=clock.now(),
            )
        except ValidationError as exc:
            add_operation_errors(form, exc)
        else:
            messages.success(request, f"{schedule.code} saved.")
            return redirect("console:rate_schedule", code=schedule.code)
    return render(
        request,
        "console/rates/schedule_form.html",
        {"form": form, "schedule": schedule, "title": f"Edit {schedule.code}"},
        status=422 if form.errors else 200,
    )


@staff_required(perm=VIEW)
def schedule_detail(request, code: str):
    schedule = _schedule(code)
    today = _today()
    versions = list(queries.list_versions(schedule=schedule))
    current = _in_effect(schedule, today)
    return render(
        request,
        "console/rates/schedule.html",
        {
            "schedule": schedule,
            "versions": versions,
            "current": current,
            "today": today,
            "can_edit": request.user.has_perm(EDIT),
            "can_edit_schedule": request.user.has_perm(SCHEDULE_EDIT),
            "agreements": schedule.service_agreements.filter(status="active").count(),
        },
    )


# -- URDB import and export ---------------------------------------------------------------


@staff_required(perm=EDIT)
@require_http_methods(["GET", "POST"])
def urdb_import(request, code: str):
    schedule = _schedule(code)
    form = rf.UrdbImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            version = operations.import_urdb_version(
                schedule=schedule,
                record=form.cleaned_data["file"],
                effective_date=form.cleaned_data["effective_date"],
                notes=form.cleaned_data["notes"],
                actor=request.user,
                at=clock.now(),
            )
        except operations.InvalidTariffDocument as exc:
            form.add_error(
                "file",
                f"Refused: {exc.field}: {exc.reason}" if exc.field != "document" else exc.reason,
            )
        except ValidationError as exc:
            add_operation_errors(form, exc)
        else:
            messages.success(
                request,
                f"Imported as draft version {version.number}: check it, then ask a supervisor "
                "to approve it.",
            )
            return redirect(version_url(version))
    return render(
        request,
        "console/rates/import.html",
        {"form": form, "schedule": schedule},
        status=422 if form.errors else 200,
    )


@staff_required(perm=VIEW)
def version_export(request, code: str, number: int):
    version = _version(code, number)
    record = queries.export_urdb(version)
    response = HttpResponse(
        json.dumps(record, indent=1, ensure_ascii=False) + "\n",
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{queries.urdb_filename(version)}"'
    return response


# -- versions -----------------------------------------------------------------------------


def colour_of(period) -> str:
    return PERIOD_COLOURS[period % len(PERIOD_COLOURS)] if isinstance(period, int) else "#fff"


def _grid_rows(rows) -> list[tuple[str, list[tuple[int, str]]]]:
    """A 12 × 24 schedule as (month, [(period, colour)]) rows for ``_grid.html``."""
    if not isinstance(rows, list) or len(rows) != 12:
        return []
    return [
        (month, [(p, colour_of(p)) for p in row] if isinstance(row, list) else [])
        for month, row in zip(rf.MONTHS, rows, strict=True)
    ]


def _tiers(structure) -> list[tuple[int, str, list[dict]]]:
    if not isinstance(structure, list):
        return []
    return [
        (period, colour_of(period), tiers)
        for period, tiers in enumerate(structure)
        if isinstance(tiers, list)
    ]


def _baseline_table(ohm: dict) -> dict | None:
    """Allowances as rows by territory and heat source, columns by season (kWh/day)."""
    baseline = ohm.get("baseline")
    if not isinstance(baseline, dict):
        return None
    seasons = [str(s.get("name")) for s in baseline.get("seasons") or [] if isinstance(s, dict)]
    cells: dict[tuple[str, str], dict[str, str]] = {}
    for item in baseline.get("allowances") or []:
        if isinstance(item, dict):
            key = (str(item.get("territory")), str(item.get("heat_source")))
            cells.setdefault(key, {})[str(item.get("season"))] = str(item.get("kwh_per_day"))
    return {
        "tier_percents": baseline.get("tier_percents") or [],
        "seasons": [
            (s.get("name"), ", ".join(rf.MONTHS[m - 1] for m in s.get("months") or []))
            for s in baseline.get("seasons") or []
            if isinstance(s, dict)
        ],
        "medical": baseline.get("medical_kwh_per_day"),
        "rows": [
            (territory, heat, [values.get(season, "—") for season in seasons])
            for (territory, heat), values in sorted(cells.items())
        ],
    }


def _percent_charges(ohm: dict) -> list[tuple[str, dict]]:
    return [
        (label, item)
        for key, label in rf.PERCENT_KINDS
        for item in ohm.get(key) or []
        if isinstance(item, dict)
    ]


def version_context(version: RateVersion) -> dict:
    document = version.document if isinstance(version.document, dict) else {}
    fixed = document.get("fixedchargefirstmeter", document.get("fixedmonthlycharge"))
    ohm = rf.ohm_of(document)
    return {
        "version": version,
        "schedule": version.schedule,
        "document": document,
        "fixed_charge": fixed,
        "fixed_units": document.get("fixedchargeunits") or "$/month",
        "energy_tiers": _tiers(document.get("energyratestructure")),
        "demand_tiers": _tiers(document.get("demandratestructure")),
        "flat_tiers": _tiers(document.get("flatdemandstructure")),
        "flat_months": list(zip(rf.MONTHS, document.get("flatdemandmonths") or [], strict=False)),
        "grids": [
            (label, _grid_rows(document.get(key)))
            for label, key in (
                ("Energy, weekdays", "energyweekdayschedule"),
                ("Energy, weekends", "energyweekendschedule"),
                ("Demand, weekdays", "demandweekdayschedule"),
                ("Demand, weekends", "demandweekendschedule"),
            )
            if document.get(key)
        ],
        "extensions": json.dumps(document.get("ohm"), indent=2) if document.get("ohm") else "",
        "baseline": _baseline_table(ohm),
        "percent_charges": _percent_charges(ohm),
        "net_metering": ohm.get("net_metering"),
        "per_day": ohm.get("customer_charge_per_day"),
        "colours": PERIOD_COLOURS,
        "hours": list(range(24)),
    }


@staff_required(perm=VIEW)
def version_detail(request, code: str, number: int):
    version = _version(code, number)
    today = _today()
    user = request.user
    is_author = version.created_by_id is not None and version.created_by_id == user.pk
    context = {
        **version_context(version),
        "today": today,
        "in_effect": _in_effect(version.schedule, today),
        "can_edit": user.has_perm(EDIT) and version.is_editable,
        "can_copy": user.has_perm(EDIT),
        "can_approve": user.has_perm(APPROVE) and version.is_editable and not is_author,
        "is_author": is_author,
        "can_withdraw": user.has_perm(APPROVE)
        and version.status == RateVersion.Status.APPROVED
        and version.effective_date > today,
        "needs_reason": version.effective_date < today,
        "preview": rf_preview_form(version),
    }
    return render(request, "console/rates/version.html", context)


@staff_required(perm=EDIT)
@require_http_methods(["GET", "POST"])
def version_new(request, code: str):
    """A new draft: a blank tariff, or a copy of ``?from=N``."""
    schedule = _schedule(code)
    source = request.GET.get("from") or request.POST.get("from")
    base: RateVersion | None = None
    if source:
        try:
            base = queries.get_version(schedule=schedule, number=int(source))
        except (ValueError, RateVersion.DoesNotExist) as exc:
            raise Http404(f"{schedule.code} has no version {source}.") from exc
    document = dict(base.document) if base else _blank_document(schedule)
    return _editor(request, schedule=schedule, version=None, document=document, base=base)


def _blank_document(schedule: RateSchedule) -> dict:
    """A one-period flat rate at zero: the smallest document the checks accept."""
    return {
        "name": schedule.name,
        "label": schedule.code,
        "fixedchargefirstmeter": 0,
        "fixedchargeunits": "$/month",
        "energyratestructure": [[{"rate": 0, "unit": "kWh"}]],
        "energyweekdayschedule": [[0] * 24 for _ in range(12)],
        "energyweekendschedule": [[0] * 24 for _ in range(12)],
    }


@staff_required(perm=EDIT)
@require_http_methods(["GET", "POST"])
def version_edit(request, code: str, number: int):
    version = _version(code, number)
    if not version.is_editable:
        messages.error(
            request,
            f"Version {version.number} is {version.get_status_display().lower()}: copy it to a "
            "new version to change the rate.",
        )
        return redirect(version_url(version))
    return _editor(
        request,
        schedule=version.schedule,
        version=version,
        document=dict(version.document),
        base=None,
    )


def _editor(request, *, schedule, version, document, base):
    today = _today()
    initial = rf.initial_from_document(
        document,
        effective_date=version.effective_date if version else today,
        notes=version.notes if version else (f"Copied from version {base.number}." if base else ""),
    )
    posted = request.method == "POST"
    form = rf.VersionForm(request.POST if posted else None, initial=initial)
    sets = rf.formsets(request.POST if posted else None, document=document)
    status = 200
    if posted:
        if form.is_valid() and all(s.is_valid() for s in sets.values()):
            new_document = rf.document_from_forms(document, form, sets)
            try:
                saved = _save_version(request, schedule, version, base, form, new_document)
            except operations.InvalidTariffDocument as exc:
                rf.place_document_error(form, sets, field=exc.field, message=exc.reason)
            except ValidationError as exc:
                add_operation_errors(form, exc)
            else:
                messages.success(request, f"Draft version {saved.number} saved.")
                return redirect(version_url(saved))
        status = 422
    return render(
        request,
        "console/rates/version_edit.html",
        {
            "schedule": schedule,
            "version": version,
            "base": base,
            "form": form,
            "sets": sets,
            "months": rf.MONTHS,
            "colours": PERIOD_COLOURS,
            "hours": list(range(24)),
        },
        status=status,
    )


def _save_version(request, schedule, version, base, form, document) -> RateVersion:
    data = form.cleaned_data
    if version is None:
        return operations.create_draft_version(
            schedule=schedule,
            effective_date=data["effective_date"],
            document=document,
            notes=data["notes"],
            source=RateVersion.Source.COPY if base else RateVersion.Source.CONSOLE,
            source_label=f"{schedule.code} v{base.number}" if base else "",
            actor=request.user,
            at=clock.now(),
        )
    return operations.update_draft_version(
        version=version,
        document=document,
        effective_date=data["effective_date"],
        notes=data["notes"],
        actor=request.user,
        at=clock.now(),
    )


def _decided(request, version: RateVersion, action) -> HttpResponse:
    try:
        action()
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect(version_url(version))


@staff_required(perm=APPROVE)
@require_POST
def version_approve(request, code: str, number: int):
    version = _version(code, number)

    def approve():
        operations.approve_version(
            version=version,
            backdated_reason=request.POST.get("backdated_reason", ""),
            actor=request.user,
            at=clock.now(),
        )
        messages.success(
            request,
            f"Version {version.number} approved: it prices {version.schedule.code} from "
            f"{version.effective_date:%b %-d, %Y}.",
        )

    return _decided(request, version, approve)


@staff_required(perm=APPROVE)
@require_POST
def version_withdraw(request, code: str, number: int):
    version = _version(code, number)

    def withdraw():
        operations.withdraw_version(
            version=version,
            reason=request.POST.get("reason", ""),
            actor=request.user,
            at=clock.now(),
        )
        messages.success(request, f"Version {version.number} withdrawn.")

    return _decided(request, version, withdraw)


@staff_required(perm=EDIT)
@require_POST
def version_discard(request, code: str, number: int):
    version = _version(code, number)

    def discard():
        operations.discard_draft(version=version, actor=request.user, at=clock.now())
        messages.success(request, f"Draft version {version.number} discarded.")

    return _decided(request, version, discard)


@staff_required(perm=EDIT)
@require_POST
def version_copy(request, code: str, number: int):
    version = _version(code, number)
    try:
        effective = date.fromisoformat(request.POST.get("effective_date", ""))
    except ValueError:
        messages.error(request, "Give the date the new version takes effect (YYYY-MM-DD).")
        return redirect(version_url(version))
    try:
        copy = operations.copy_version(
            version=version, effective_date=effective, actor=request.user, at=clock.now()
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(version_url(version))
    messages.success(request, f"Draft version {copy.number} made from version {version.number}.")
    return redirect(
        reverse("console:rate_version_edit", kwargs={"code": code, "number": copy.number})
    )


# -- preview bill -------------------------------------------------------------------------


def _preview_initial(version: RateVersion) -> dict:
    month = max(version.effective_date, _today().replace(day=1)) if version else _today()
    return {
        "month": month.replace(day=1),
        "kwh": 500,
        "peak_percent": 25,
        "peak_kw": 5,
        "territory": "T",
        "heat_source": "gas",
    }


def rf_preview_form(version: RateVersion) -> rf.PreviewForm:
    return rf.PreviewForm(initial=_preview_initial(version), auto_id="preview_%s")


@staff_required(perm=VIEW)
def version_preview(request, code: str, number: int):
    """The preview bill (an htmx fragment): the version's bill lines for the sample month."""
    version = _version(code, number)
    data = request.GET.copy()
    for name, value in _preview_initial(version).items():
        data.setdefault(name, str(value))
    form = rf.PreviewForm(data, auto_id="preview_%s")
    context: dict = {"version": version, "form": form}
    if form.is_valid():
        d = form.cleaned_data
        sample = queries.SampleUsage(
            month=d["month"],
            kwh=d["kwh"],
            peak_share=d["peak_percent"] / 100,
            peak_kw=d["peak_kw"],
            exported_kwh=d["exported_kwh"] or Decimal(0),
            territory=d["territory"] or None,
            heat_source=d["heat_source"] or None,
            medical=d["medical"],
            programs=frozenset(p.strip().upper() for p in d["programs"].split(",") if p.strip()),
        )
        try:
            bill = queries.preview_bill(version, sample, zone=utility_zone())
        except (tariffs.TariffError, calc.RatingError) as exc:
            context["error"] = f"{exc.field}: {exc.message}"
        else:
            start, end = queries.month_bounds(sample.month)
            context.update({"bill": bill, "start": start, "end": end, "sample": sample})
    return render(request, "console/rates/_preview.html", context, status=200)


# -- rate comparison on the account page --------------------------------------------------


def _comparison_rows(comparison: rate_comparison.RateComparison) -> list[dict]:
    rows = []
    for option in comparison.options:
        rows.append(
            {
                "option": option,
                "months": list(
                    zip(
                        option.month_cents,
                        comparison.difference_cents(option),
                        strict=True,
                    )
                ),
                "year_difference": None
                if option.is_current
                else comparison.year_difference_cents(option),
            }
        )
    return rows


def _chart_data(comparison: rate_comparison.RateComparison) -> dict:
    return {
        "labels": [m.start_date.strftime("%b %Y") for m in comparison.months],
        "kwh": [round(m.delivered_kwh, 1) for m in comparison.months],
        "series": [
            {
                "code": o.schedule.code,
                "current": o.is_current,
                "dollars": [None if c is None else c / 100 for c in o.month_cents],
            }
            for o in comparison.options
            if not o.problem
        ],
    }


@staff_required(perm="customers.view_account")
def account_comparison(request, number: str):
    """The account page's rate comparison panel (htmx fragment): per open agreement, the
    last 12 months under the current rate and every eligible one."""
    from ohm.console.views.account import _account_or_404

    _forbid_unless(request, VIEW)
    account = _account_or_404(number)
    today = _today()
    agreements = [
        a
        for a in agreement_queries.list_agreements(account_id=account.pk).select_related(
            "account", "service_point__premise"
        )
        if a.status in ("active", "pending_stop")
    ]
    comparisons = []
    for agreement in agreements:
        comparison = rate_comparison.compare_rates(agreement=agreement, as_of=today)
        comparisons.append(
            {
                "comparison": comparison,
                "rows": _comparison_rows(comparison),
                "chart": _chart_data(comparison),
                "chart_id": f"rate-chart-{agreement.pk}",
                "data_id": f"rate-chart-{agreement.pk}-data",
            }
        )
    return render(
        request,
        "console/rates/_comparison.html" if request.htmx else "console/rates/comparison.html",
        {"account": account, "comparisons": comparisons, "today": today},
    )


def _forbid_unless(request, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied
