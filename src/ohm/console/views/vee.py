"""Meter data pages: the VEE exception queue, resolving an exception, and the analyst's
interval edit form (values, or an estimate by linear interpolation or same-weekday profile,
always with a reason; every change is a new version and an audit event)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode

from ohm.console.forms import add_operation_errors
from ohm.console.views.auth import staff_required
from ohm.core import clock
from ohm.core.localtime import day_bounds, localdate, to_local, utility_zone
from ohm.core.permissions import ROLE_BY_SLUG
from ohm.metering import queries as metering_queries
from ohm.metering import vee_operations
from ohm.metering.models import Meter, MeterChannel
from ohm.metering.vee_config import RULES
from ohm.metering.vee_operations import EstimationMethod, Resolution, VeeException
from ohm.workqueue.models import WorkItem

AGES = [(0, "Any age"), (1, "1 day or older"), (3, "3 days or older"), (7, "A week or older")]
#: Rows of intervals shown on one page of the edit form (a 5-minute channel's day is 288).
MAX_ROWS = 300
#: Intervals shown on an exception's page; the edit form shows any day in full.
EXCEPTION_ROWS = 48


def may_edit_reads(user) -> bool:
    """Billing analysts (and whoever is given ``metering.change_intervalday``) edit reads."""
    return (
        user.has_perm("metering.change_intervalday")
        or user.groups.filter(name=ROLE_BY_SLUG["billing_analyst"].name).exists()
    )


# -- the queue ------------------------------------------------------------------------------


@staff_required
@permission_required(["workqueue.view_workitem", "metering.view_meter"], raise_exception=True)
def exception_queue(request):
    now = clock.now()
    rule = request.GET.get("rule", "")
    if rule not in vee_operations.RULE_LABELS:
        rule = ""
    meter_class = request.GET.get("meter_class", "")
    if meter_class not in RULES:
        meter_class = ""
    try:
        age = int(request.GET.get("age") or 0)
    except ValueError:
        age = 0
    route = (request.GET.get("route") or "").strip().upper()
    include_closed = request.GET.get("closed") == "1"
    exceptions = metering_queries.list_vee_exceptions(
        filters=metering_queries.ExceptionFilters(
            rule=rule,
            route=route,
            meter_class=meter_class,
            min_age_days=age or None,
            include_closed=include_closed,
        ),
        as_of=now,
    )
    return render(
        request,
        "console/meter/exceptions.html",
        {
            "utility_tz": settings.UTILITY_TIME_ZONE,
            "exceptions": exceptions,
            "rules": sorted(vee_operations.RULE_LABELS.items(), key=lambda pair: pair[1]),
            "meter_classes": [(name, name.replace("_", " ")) for name in RULES],
            "ages": AGES,
            "rule": rule,
            "meter_class": meter_class,
            "age": age,
            "route": route,
            "closed": include_closed,
            "today": localdate(now),
        },
    )


# -- resolving one --------------------------------------------------------------------------


class ResolveForm(forms.Form):
    action = forms.ChoiceField(
        choices=list(Resolution.LABELS.items()), widget=forms.RadioSelect, label="Resolution"
    )
    method = forms.ChoiceField(
        choices=[("", "—")] + EstimationMethod.CHOICES,
        required=False,
        label="Estimation method",
        help_text="For an estimate: linear between the readings on each side, or the same weekday and time of the last 4 weeks.",
    )
    reason = forms.CharField(
        max_length=250,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Say why the exception is resolved this way."},
    )

    def clean(self):
        data = super().clean()
        if data.get("action") == Resolution.ESTIMATE and not data.get("method"):
            self.add_error("method", "Choose how to estimate.")
        return data


def _exception(item_id: int) -> VeeException:
    item = get_object_or_404(WorkItem.objects.select_related("category", "assignee"), pk=item_id)
    try:
        return vee_operations.get_vee_exception(item)
    except WorkItem.DoesNotExist as exc:
        raise Http404(f"#{item_id} is not a VEE exception") from exc


def _edit_url(exception: VeeException, *, item: bool = True) -> str:
    start, end = to_local(exception.start_at), to_local(exception.end_at)
    params: dict[str, str | int] = {
        "channel": exception.channel_number,
        "day": start.date().isoformat(),
    }
    if exception.first_day == exception.last_day and end.date() == start.date():
        params |= {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}
    if item:
        params["item"] = exception.item.pk
    return (
        reverse("console:interval_edit", kwargs={"serial": exception.serial})
        + "?"
        + urlencode(params)
    )


@staff_required
@permission_required(["workqueue.view_workitem", "metering.view_meter"], raise_exception=True)
def exception_detail(request, item_id: int):
    exception = _exception(item_id)
    can_resolve = request.user.has_perm("workqueue.change_workitem") and exception.is_open
    form = ResolveForm(request.POST or None, initial={"action": Resolution.ACCEPT})
    if request.method == "POST":
        if not can_resolve:
            raise PermissionDenied("You may not resolve this exception.")
        if form.is_valid():
            data = form.cleaned_data
            if data["action"] != Resolution.ACCEPT and not may_edit_reads(request.user):
                form.add_error(None, "Only a billing analyst may change reads.")
            elif data["action"] == Resolution.EDIT:
                return redirect(_edit_url(exception))
            else:
                try:
                    vee_operations.resolve_vee_exception(
                        exception=exception,
                        action=data["action"],
                        method=data.get("method") or "",
                        reason=data["reason"],
                        actor=request.user,
                        at=clock.now(),
                    )
                except ValidationError as exc:
                    add_operation_errors(form, exc)
                else:
                    messages.success(request, f"#{exception.item.pk} resolved and closed.")
                    return redirect("console:vee_exception", item_id=exception.item.pk)
    channel = get_object_or_404(MeterChannel, pk=exception.channel_id)
    show_start = exception.start_at
    show_end = min(
        exception.end_at,
        show_start + timedelta(minutes=EXCEPTION_ROWS * (channel.interval_minutes or 60)),
    )
    return render(
        request,
        "console/meter/exception_detail.html",
        {
            "utility_tz": settings.UTILITY_TIME_ZONE,
            "exception": exception,
            "item": exception.item,
            "channel": channel,
            "rows": metering_queries.list_interval_history(
                channel=channel, start_at=show_start, end_at=show_end
            ),
            "truncated": show_end < exception.end_at,
            "form": form,
            "can_resolve": can_resolve,
            "can_edit": may_edit_reads(request.user),
            "edit_url": _edit_url(exception),
        },
    )


# -- the analyst's edit form ----------------------------------------------------------------

_NUMBER_SPLIT = re.compile(r"[\s,;]+")


class IntervalEditForm(forms.Form):
    channel = forms.TypedChoiceField(coerce=int, label="Channel")
    day = forms.DateField(label="Local day", widget=forms.DateInput(attrs={"type": "date"}))
    start = forms.TimeField(
        required=False,
        label="From",
        widget=forms.TimeInput(attrs={"type": "time"}),
        help_text="Empty: the start of the day",
    )
    end = forms.TimeField(
        required=False,
        label="To",
        widget=forms.TimeInput(attrs={"type": "time"}),
        help_text="Empty: the end of the day",
    )
    action = forms.ChoiceField(
        label="Change",
        choices=[
            ("values", "Enter new values"),
            (EstimationMethod.LINEAR, "Estimate: linear interpolation"),
            (EstimationMethod.PROFILE, "Estimate: same-weekday profile"),
        ],
        initial="values",
    )
    values = forms.CharField(
        required=False,
        label="New values",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One per interval in the span, in order, kWh (kW for demand), separated by commas, spaces or new lines.",
    )
    reason = forms.CharField(
        max_length=250,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Say why the reads are being changed."},
    )
    item = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, meter: Meter, **kwargs):
        super().__init__(*args, **kwargs)
        self.meter = meter
        self.channels = {c.number: c for c in meter.channels.filter(interval_minutes__isnull=False)}
        choices = [(n, str(c)) for n, c in self.channels.items()]
        self.fields["channel"].choices = choices  # type: ignore[attr-defined]

    def span(self) -> tuple[datetime, datetime]:
        """The edit's ``[start, end)`` in UTC, from the local day and times."""
        day: date = self.cleaned_data["day"]
        start_at, end_at = day_bounds(day)
        zone = utility_zone()
        if self.cleaned_data.get("start"):
            start_at = datetime.combine(day, self.cleaned_data["start"], tzinfo=zone).astimezone(
                UTC
            )
        if self.cleaned_data.get("end") and self.cleaned_data["end"] != time(0, 0):
            end_at = datetime.combine(day, self.cleaned_data["end"], tzinfo=zone).astimezone(UTC)
        return start_at, end_at

    def clean_values(self) -> list[float]:
        text = (self.cleaned_data.get("values") or "").strip()
        numbers = []
        for position, token in enumerate((t for t in _NUMBER_SPLIT.split(text) if t), start=1):
            try:
                number = float(token)
            except ValueError:
                raise ValidationError(
                    f"Value {position} (“{token}”) is not a number.", code="not_a_number"
                ) from None
            if number != number or number in (float("inf"), float("-inf")):
                raise ValidationError(f"Value {position} (“{token}”) is not a number.")
            if number < 0:
                raise ValidationError(
                    f"Value {position} ({token}) is negative; an interval's energy cannot be."
                )
            numbers.append(number)
        return numbers

    def clean(self):
        data = super().clean()
        if (
            data.get("action") == "values"
            and not data.get("values")
            and "values" not in self.errors
        ):
            self.add_error("values", "Enter the new values, or choose an estimate.")
        if data.get("day") and "start" not in self.errors and "end" not in self.errors:
            start_at, end_at = self.span()
            if end_at <= start_at:
                self.add_error("end", "The span must end after it starts.")
        return data


def _span_view(meter: Meter, initial: dict) -> IntervalEditForm:
    """The GET parameters as a form that only has to name a channel and a day."""
    view = IntervalEditForm(initial, meter=meter)
    view.fields["reason"].required = False
    view.is_valid()
    return view


def _open_exception(item_id, meter: Meter) -> VeeException | None:
    if not item_id:
        return None
    try:
        exception = vee_operations.get_vee_exception(int(item_id))
    except (WorkItem.DoesNotExist, ValueError):
        return None
    return exception if exception.meter_id == meter.pk and exception.is_open else None


@staff_required
@permission_required("metering.view_meter", raise_exception=True)
def interval_edit(request, serial: str):
    """Pick a channel and a local day (or part of it), see each interval's value, quality and
    earlier versions, and — as a billing analyst — enter new values or ask for an estimate,
    with a reason. Opened from an exception (``item``), saving also resolves it."""
    meter = get_object_or_404(Meter, serial=serial.upper())
    can_edit = may_edit_reads(request.user)
    today = localdate(clock.now())
    initial = {
        "channel": request.GET.get("channel") or 1,
        "day": request.GET.get("day") or (today - timedelta(days=1)).isoformat(),
        "start": request.GET.get("start") or "",
        "end": request.GET.get("end") or "",
        "item": request.GET.get("item") or "",
        "action": "values",
    }
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Only a billing analyst may change reads.")
        form = IntervalEditForm(request.POST, meter=meter)
        exception = _open_exception(request.POST.get("item"), meter)
        if form.is_valid():
            data = form.cleaned_data
            target = form.channels[data["channel"]]
            start_at, end_at = form.span()
            resolves = exception is not None and exception.channel_id == target.pk
            try:
                if resolves and exception is not None:
                    estimate = data["action"] != "values"
                    vee_operations.resolve_vee_exception(
                        exception=exception,
                        action=Resolution.ESTIMATE if estimate else Resolution.EDIT,
                        method=data["action"] if estimate else "",
                        values=data["values"],
                        start_at=start_at,
                        end_at=end_at,
                        reason=data["reason"],
                        actor=request.user,
                        at=clock.now(),
                    )
                else:
                    _change(form, target, start_at, end_at, request.user)
            except ValidationError as exc:
                add_operation_errors(
                    form, exc, aliases={"start_at": "start", "end_at": "end", "method": "action"}
                )
            else:
                messages.success(
                    request,
                    "Saved as a new version; the earlier one is kept."
                    + (
                        f" #{exception.item.pk} is resolved and closed."
                        if resolves and exception is not None
                        else ""
                    ),
                )
                params = {"channel": data["channel"], "day": data["day"].isoformat()}
                if data.get("start"):
                    params["start"] = data["start"].strftime("%H:%M")
                if data.get("end"):
                    params["end"] = data["end"].strftime("%H:%M")
                return redirect(
                    reverse("console:interval_edit", kwargs={"serial": meter.serial})
                    + "?"
                    + urlencode(params)
                )
        shown = _span_view(meter, {**initial, **request.POST.dict()})
    else:
        form = IntervalEditForm(initial=initial, meter=meter)
        exception = _open_exception(initial["item"], meter)
        shown = _span_view(meter, initial)
    rows: list = []
    versions: list = []
    channel: MeterChannel | None = None
    data = getattr(shown, "cleaned_data", {})
    if data.get("day") and data.get("channel") in shown.channels:
        channel = shown.channels[data["channel"]]
        start_at, end_at = shown.span()
        if end_at > start_at:
            step = timedelta(minutes=channel.interval_minutes or 60)
            end_at = min(end_at, start_at + MAX_ROWS * step)
            rows = metering_queries.list_interval_history(
                channel=channel, start_at=start_at, end_at=end_at
            )
            versions = metering_queries.list_day_versions(
                channel=channel, start_at=start_at, end_at=end_at
            )
    return render(
        request,
        "console/meter/interval_edit.html",
        {
            "utility_tz": settings.UTILITY_TIME_ZONE,
            "meter": meter,
            "form": form,
            "rows": rows,
            "versions": versions,
            "channel": channel,
            "can_edit": can_edit,
            "exception": exception,
        },
    )


def _change(form: IntervalEditForm, channel: MeterChannel, start_at, end_at, user) -> None:
    data = form.cleaned_data
    if data["action"] == "values":
        vee_operations.edit_intervals(
            channel=channel,
            start_at=start_at,
            end_at=end_at,
            values=data["values"],
            reason=data["reason"],
            actor=user,
            at=clock.now(),
        )
    else:
        vee_operations.estimate_intervals(
            channel=channel,
            start_at=start_at,
            end_at=end_at,
            method=data["action"],
            reason=data["reason"],
            actor=user,
            at=clock.now(),
        )
