"""Console forms for the pages that create and change records and work the queues.

Forms check what a person typed (phone, ZIP, state, email, dates that cannot be); the
operations check the business rules. ``add_operation_errors`` puts an operation's
``ValidationError`` next to the field it names, so both kinds of message read the same.
"""

from __future__ import annotations

from datetime import date

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from ohm.core import validators
from ohm.customers.models import LANGUAGES, Account, AccountAlert, AccountPerson, Person, Phone
from ohm.customers.operations import ALLOWED_TRANSITIONS
from ohm.premises.models import Premise, ServicePoint
from ohm.rates.models import RateSchedule
from ohm.workqueue.models import WorkCategory, WorkItem


def add_operation_errors(
    form: forms.Form, exc: ValidationError, *, aliases: dict | None = None
) -> None:
    """Attach an operation's errors to the fields they name; unknown names go on top.

    ``aliases`` maps an operation's field name to the form's (e.g. ``to_status`` → ``status``).
    """
    aliases = aliases or {}
    if not hasattr(exc, "error_dict"):
        for message in exc.messages:
            form.add_error(None, message)
        return
    for name, messages in exc.message_dict.items():
        field = aliases.get(name, name)
        for message in messages:
            if field in form.fields:
                form.add_error(field, message)
            else:
                form.add_error(
                    None,
                    message
                    if name == "__all__"
                    else f"{name.replace('_', ' ').capitalize()}: {message}",
                )
    focus_first_error(form)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


def _date_field(label: str, *, required: bool = True, help_text: str = "") -> forms.DateField:
    return forms.DateField(label=label, required=required, widget=DateInput(), help_text=help_text)


def _autofocus(form: forms.Form) -> None:
    for field in form.fields.values():
        if not isinstance(field.widget, forms.HiddenInput):
            field.widget.attrs.setdefault("autofocus", True)
            return


def focus_first_error(form: forms.Form) -> None:
    """Shown again with errors, the form puts the cursor on the first field to fix."""
    errors = form.errors if form.is_bound else {}
    wrong = [name for name in form.fields if name in errors]
    if wrong:
        for field in form.fields.values():
            field.widget.attrs.pop("autofocus", None)
        form.fields[wrong[0]].widget.attrs["autofocus"] = True


class ConsoleForm(forms.Form):
    """Every console form: the first visible field has the focus."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _autofocus(self)

    def full_clean(self) -> None:
        super().full_clean()
        focus_first_error(self)


class AddressForm(ConsoleForm):
    """A US mailing address, each part checked the way the records check it."""

    address_line1 = forms.CharField(label="Street address", max_length=120)
    address_line2 = forms.CharField(label="Unit / suite / PO box", max_length=120, required=False)
    city = forms.CharField(max_length=80)
    state = forms.CharField(max_length=2, initial="CA")
    postal_code = forms.CharField(label="ZIP code", max_length=10)

    def clean_state(self) -> str:
        value = (self.cleaned_data.get("state") or "").strip().upper()
        if value or self.fields["state"].required:
            validators.validate_state(value)
        return value

    def clean_postal_code(self) -> str:
        value = (self.cleaned_data.get("postal_code") or "").strip()
        if value or self.fields["postal_code"].required:
            validators.validate_postal_code(value)
        return value

    def address(self) -> dict[str, str]:
        return {
            name: self.cleaned_data[name]
            for name in ("address_line1", "address_line2", "city", "state", "postal_code")
        }


def _clean_phone(value: str) -> str:
    value = (value or "").strip()
    return validators.normalize_phone(value) if value else ""


class PersonFieldsForm(AddressForm):
    kind = forms.ChoiceField(choices=Person.Kind.choices, initial=Person.Kind.INDIVIDUAL)
    first_name = forms.CharField(max_length=80, required=False)
    middle_name = forms.CharField(max_length=80, required=False)
    last_name = forms.CharField(max_length=80, required=False)
    suffix = forms.CharField(max_length=10, required=False)
    business_name = forms.CharField(max_length=160, required=False)
    preferred_language = forms.ChoiceField(choices=LANGUAGES, initial="en")
    date_of_birth = _date_field("Date of birth", required=False)
    ssn_last4 = forms.CharField(label="SSN last four", max_length=4, required=False)
    tax_id = forms.CharField(label="Tax id (EIN)", max_length=12, required=False)

    field_order = [
        "kind",
        "first_name",
        "middle_name",
        "last_name",
        "suffix",
        "business_name",
        "preferred_language",
        "address_line1",
        "address_line2",
        "city",
        "state",
        "postal_code",
    ]

    def __init__(self, *args, today: date, **kwargs):
        self.today = today
        super().__init__(*args, **kwargs)

    def clean_date_of_birth(self) -> date | None:
        born = self.cleaned_data.get("date_of_birth")
        if born and born >= self.today:
            raise ValidationError("The date of birth is not in the past.")
        if born and born.year < 1900:
            raise ValidationError(f"{born.year} is not a plausible year of birth.")
        return born

    def clean_ssn_last4(self) -> str:
        value = (self.cleaned_data.get("ssn_last4") or "").strip()
        validators.validate_last4(value)
        return value

    def clean_tax_id(self) -> str:
        value = (self.cleaned_data.get("tax_id") or "").strip()
        if value and len([c for c in value if c.isdigit()]) != 9:
            raise ValidationError("A tax id (EIN) has nine digits, e.g. 12-3456789.")
        return value

    def check_names(self) -> None:
        data = self.cleaned_data
        if data.get("kind") == Person.Kind.BUSINESS:
            if not data.get("business_name", "").strip():
                self.add_error("business_name", "A business needs its name.")
        else:
            if not data.get("first_name", "").strip():
                self.add_error("first_name", "An individual needs a first name.")
            if not data.get("last_name", "").strip():
                self.add_error("last_name", "An individual needs a last name.")

    def person_fields(self) -> dict:
        names = [n for n in self.field_order if n in self.fields]
        fields = {name: self.cleaned_data[name] for name in names}
        for name in ("ssn_last4", "tax_id"):
            if name in self.fields:
                fields[name] = self.cleaned_data[name]
        if "date_of_birth" in self.fields:
            born = self.cleaned_data["date_of_birth"]
            fields["date_of_birth"] = born.isoformat() if born else ""
        return fields


class NewCustomerForm(PersonFieldsForm):
    """A person and their first account, or a new account for a person already on file."""

    existing_person = forms.IntegerField(widget=forms.HiddenInput, required=False)
    phone = forms.CharField(
        max_length=30, required=False, help_text="US numbers need no country code"
    )
    phone_kind = forms.ChoiceField(
        label="Phone kind", choices=Phone.Kind.choices, initial=Phone.Kind.MOBILE
    )
    sms_consent = forms.BooleanField(label="Agrees to text messages", required=False)
    email = forms.EmailField(max_length=254, required=False)
    bill_cycle = forms.IntegerField(min_value=1, max_value=20, help_text="1 to 20")
    opened_date = _date_field("Opened")
    paperless = forms.BooleanField(required=False)
    notify_by_email = forms.BooleanField(label="Notify by email", required=False, initial=True)
    notify_by_sms = forms.BooleanField(label="Notify by text", required=False)
    notify_by_mail = forms.BooleanField(label="Notify by mail", required=False, initial=True)

    PERSON_ONLY = [
        "kind",
        "first_name",
        "middle_name",
        "last_name",
        "suffix",
        "business_name",
        "preferred_language",
        "address_line1",
        "address_line2",
        "city",
        "state",
        "postal_code",
        "date_of_birth",
        "ssn_last4",
        "tax_id",
        "phone",
        "phone_kind",
        "sms_consent",
        "email",
    ]

    def __init__(self, *args, existing: Person | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.existing = existing
        self.fields["opened_date"].initial = self.today
        if existing is not None:
            self.fields["existing_person"].initial = existing.pk
            for name in self.PERSON_ONLY:
                del self.fields[name]
            for field in self.fields.values():
                field.widget.attrs.pop("autofocus", None)
            _autofocus(self)

    def clean_phone(self) -> str:
        return _clean_phone(self.cleaned_data.get("phone", ""))

    def clean_opened_date(self) -> date:
        opened = self.cleaned_data["opened_date"]
        if opened.year < 1900:
            raise ValidationError(f"{opened.year} is not a plausible year.")
        return opened

    def clean(self):
        data = super().clean()
        if self.existing is None:
            self.check_names()
            if data.get("notify_by_sms") and not data.get("phone"):
                self.add_error("phone", "Text notifications need a mobile phone number.")
        if data.get("notify_by_email") and self.existing is None and not data.get("email"):
            self.add_error("email", "Email notifications need an email address.")
        if data.get("paperless") and self.existing is None and not data.get("email"):
            self.add_error("email", "Paperless billing needs an email address.")
        return data

    def phones(self) -> list[dict]:
        data = self.cleaned_data
        if not data.get("phone"):
            return []
        return [
            {
                "number": data["phone"],
                "kind": data["phone_kind"],
                "sms_consent": data["sms_consent"],
            }
        ]

    def emails(self) -> list[str]:
        return [self.cleaned_data["email"]] if self.cleaned_data.get("email") else []

    def preferences(self) -> dict:
        names = ["paperless", "notify_by_email", "notify_by_sms", "notify_by_mail"]
        return {name: self.cleaned_data[name] for name in names}


class PersonForm(PersonFieldsForm):
    """Edit a person. Sensitive fields appear only for roles allowed to see them unmasked."""

    identity_status = forms.ChoiceField(
        label="Identity verification", choices=Person.Identity.choices
    )
    identity_method = forms.CharField(
        label="Verified how",
        max_length=60,
        required=False,
        help_text="e.g. driver licence, credit bureau",
    )
    reason = forms.CharField(
        max_length=200, required=False, help_text="Why the change, for the audit trail"
    )

    def __init__(self, *args, can_view_sensitive: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not can_view_sensitive:
            for name in ("date_of_birth", "ssn_last4", "tax_id"):
                del self.fields[name]

    def clean(self):
        data = super().clean()
        self.check_names()
        if (
            data.get("identity_status") == Person.Identity.VERIFIED
            and not data.get("identity_method", "").strip()
        ):
            self.add_error("identity_method", "Say how the identity was verified.")
        return data

    def changes(self, person: Person) -> dict:
        fields = self.person_fields()
        fields["identity_status"] = self.cleaned_data["identity_status"]
        fields["identity_method"] = self.cleaned_data["identity_method"]
        return {name: value for name, value in fields.items() if getattr(person, name) != value}


def person_initial(person: Person, *, can_view_sensitive: bool) -> dict:
    names = PersonFieldsForm.field_order + ["identity_status", "identity_method"]
    initial = {name: getattr(person, name) for name in names}
    if can_view_sensitive:
        initial["ssn_last4"], initial["tax_id"] = person.ssn_last4, person.tax_id
        try:
            initial["date_of_birth"] = (
                date.fromisoformat(person.date_of_birth) if person.date_of_birth else None
            )
        except ValueError:
            initial["date_of_birth"] = None
    return initial


class PhoneForm(ConsoleForm):
    number = forms.CharField(label="Phone", max_length=30)
    kind = forms.ChoiceField(choices=Phone.Kind.choices, initial=Phone.Kind.MOBILE)
    sms_consent = forms.BooleanField(label="Agrees to texts", required=False)
    is_primary = forms.BooleanField(label="Primary", required=False)

    def clean_number(self) -> str:
        return _clean_phone(self.cleaned_data["number"])


class EmailForm(ConsoleForm):
    address = forms.EmailField(label="Email", max_length=254)
    is_primary = forms.BooleanField(label="Primary", required=False)


class AccountForm(AddressForm):
    bill_cycle = forms.IntegerField(min_value=1, max_value=20, help_text="1 to 20")
    language = forms.ChoiceField(choices=LANGUAGES)
    paperless = forms.BooleanField(required=False)
    notify_by_email = forms.BooleanField(label="Notify by email", required=False)
    notify_by_sms = forms.BooleanField(label="Notify by text", required=False)
    notify_by_mail = forms.BooleanField(label="Notify by mail", required=False)
    medical_baseline = forms.BooleanField(
        required=False, help_text="Extra baseline allowance for medical equipment"
    )
    life_support = forms.BooleanField(
        required=False, help_text="Never disconnect without the special process"
    )
    cash_only = forms.BooleanField(required=False, help_text="Checks and ACH refused")
    do_not_disconnect = forms.BooleanField(label="Do not disconnect", required=False)
    do_not_disconnect_reason = forms.CharField(
        label="Do-not-disconnect reason", max_length=200, required=False
    )
    do_not_disconnect_until = _date_field("Do-not-disconnect expires", required=False)
    reason = forms.CharField(max_length=200, help_text="Why the change, for the audit trail")

    FIELDS = [
        "address_line1",
        "address_line2",
        "city",
        "state",
        "postal_code",
        "bill_cycle",
        "language",
        "paperless",
        "notify_by_email",
        "notify_by_sms",
        "notify_by_mail",
        "medical_baseline",
        "life_support",
        "cash_only",
        "do_not_disconnect",
        "do_not_disconnect_reason",
        "do_not_disconnect_until",
    ]

    def __init__(self, *args, today: date, **kwargs):
        self.today = today
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        if data.get("do_not_disconnect"):
            if not (data.get("do_not_disconnect_reason") or "").strip():
                self.add_error(
                    "do_not_disconnect_reason", "Say why the account must not be disconnected."
                )
            until = data.get("do_not_disconnect_until")
            if until is None and "do_not_disconnect_until" not in self.errors:
                self.add_error(
                    "do_not_disconnect_until", "Give the date the do-not-disconnect expires."
                )
            elif until is not None and until < self.today:
                self.add_error(
                    "do_not_disconnect_until", "The do-not-disconnect expiry is in the past."
                )
        return data

    def changes(self, account: Account) -> dict:
        values = {name: self.cleaned_data[name] for name in self.FIELDS}
        return {name: value for name, value in values.items() if getattr(account, name) != value}


def account_initial(account: Account) -> dict:
    return {name: getattr(account, name) for name in AccountForm.FIELDS}


class AccountStatusForm(ConsoleForm):
    status = forms.ChoiceField(label="New status", choices=Account.Status.choices)
    effective_date = _date_field("Effective")
    reason = forms.CharField(max_length=200)

    def __init__(self, *args, account: Account, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = ALLOWED_TRANSITIONS.get(account.status, set())
        # The field accepts any status so that a refused move gets the operation's own
        # message; the menu offers only the moves the lifecycle allows.
        self.fields["status"].widget.choices = [
            (v, label) for v, label in Account.Status.choices if v in allowed
        ]
        self.fields["effective_date"].initial = today


class AlertForm(ConsoleForm):
    kind = forms.ChoiceField(choices=AccountAlert.Kind.choices)
    note = forms.CharField(max_length=300, required=False, widget=forms.Textarea(attrs={"rows": 2}))
    start_date = _date_field("Starts")
    end_date = _date_field(
        "Ends", required=False, help_text="The first day it no longer applies; empty while it lasts"
    )

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["start_date"].initial = today

    def clean(self):
        data = super().clean()
        start, end = data.get("start_date"), data.get("end_date")
        if start and end and end <= start:
            self.add_error("end_date", "The alert must end after it starts.")
        return data


class EndForm(ConsoleForm):
    """End a dated record (alert, role) on a date: the first day it no longer applies."""

    end_date = _date_field("Ends", required=False)
    reason = forms.CharField(max_length=200, required=False)


class AccountPersonForm(ConsoleForm):
    """Add a person in a role: one already on file, or a new one typed here."""

    person = forms.IntegerField(
        label="Person id",
        required=False,
        help_text="Pick from the list, or type a new person below",
    )
    role = forms.ChoiceField(
        choices=AccountPerson.Role.choices, initial=AccountPerson.Role.AUTHORIZED
    )
    start_date = _date_field("Starts")
    first_name = forms.CharField(max_length=80, required=False)
    last_name = forms.CharField(max_length=80, required=False)
    business_name = forms.CharField(max_length=160, required=False)
    phone = forms.CharField(max_length=30, required=False)
    email = forms.EmailField(max_length=254, required=False)

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["start_date"].initial = today

    def clean_phone(self) -> str:
        return _clean_phone(self.cleaned_data.get("phone", ""))

    def clean(self):
        data = super().clean()
        person_id = data.get("person")
        typed = any(
            (data.get(n) or "").strip() for n in ("first_name", "last_name", "business_name")
        )
        if person_id:
            if typed:
                self.add_error("person", "Pick a person on file or type a new one, not both.")
            else:
                data["person_obj"] = Person.objects.filter(pk=person_id).first()
                if data["person_obj"] is None:
                    self.add_error("person", f"No person has id {person_id}.")
        elif not typed:
            self.add_error("person", "Pick a person on file or type a new one.")
        elif not data.get("business_name", "").strip():
            if not data.get("first_name", "").strip():
                self.add_error(
                    "first_name", "A new person needs a first name (or a business name)."
                )
            if not data.get("last_name", "").strip():
                self.add_error("last_name", "A new person needs a last name (or a business name).")
        return data

    def new_person_fields(self, account: Account) -> dict:
        data = self.cleaned_data
        business = data["business_name"].strip()
        fields = {
            "kind": Person.Kind.BUSINESS if business else Person.Kind.INDIVIDUAL,
            "first_name": data["first_name"].strip(),
            "last_name": data["last_name"].strip(),
            "business_name": business,
            "preferred_language": account.language,
            # A contact typed here gets the account's mailing address until someone edits it.
            "address_line1": account.address_line1,
            "address_line2": account.address_line2,
            "city": account.city,
            "state": account.state,
            "postal_code": account.postal_code,
        }
        return fields


class PremiseForm(ConsoleForm):
    address_line1 = forms.CharField(label="Street address", max_length=120)
    unit = forms.CharField(max_length=20, required=False)
    city = forms.CharField(max_length=80)
    state = forms.CharField(max_length=2, initial="CA")
    postal_code = forms.CharField(label="ZIP code", max_length=10)
    premise_type = forms.ChoiceField(label="Type", choices=Premise.Type.choices)
    baseline_territory = forms.ChoiceField(choices=Premise.TERRITORIES)
    heat_source = forms.ChoiceField(choices=Premise.HeatSource.choices)
    route = forms.CharField(label="Meter route", max_length=10)
    read_sequence = forms.IntegerField(min_value=1)
    meter_location = forms.CharField(
        max_length=120, required=False, help_text="e.g. left side of garage"
    )
    access_notes = forms.CharField(
        max_length=200, required=False, help_text="Gate codes, dogs, keys"
    )

    clean_state = AddressForm.clean_state
    clean_postal_code = AddressForm.clean_postal_code

    PREMISE_FIELDS = [
        "address_line1",
        "unit",
        "city",
        "state",
        "postal_code",
        "premise_type",
        "baseline_territory",
        "heat_source",
    ]

    def premise_fields(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.PREMISE_FIELDS}

    def service_point_fields(self) -> dict:
        return {
            name: self.cleaned_data[name]
            for name in ("route", "read_sequence", "meter_location", "access_notes")
        }


class StartServiceForm(ConsoleForm):
    service_point = forms.ModelChoiceField(
        queryset=ServicePoint.objects.select_related("premise"),
        widget=forms.RadioSelect,
        error_messages={
            "required": "Pick the service point to serve.",
            "invalid_choice": "That service point does not exist.",
        },
    )
    rate_schedule = forms.ModelChoiceField(
        label="Rate", queryset=RateSchedule.objects.filter(is_active=True)
    )
    start_date = _date_field("Starts")

    def __init__(self, *args, today: date, service_points=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["start_date"].initial = today
        # Offer only the points found by address, never the whole territory.
        self.fields["service_point"].widget.choices = [
            (p.pk, f"{p.number} at {p.premise}") for p in service_points or []
        ]


class StopServiceForm(ConsoleForm):
    end_date = _date_field("Stops", help_text="The first day not served")
    reason = forms.CharField(max_length=200)

    def __init__(self, *args, start_date: date, today: date, **kwargs):
        self.start_date = start_date
        super().__init__(*args, **kwargs)
        self.fields["end_date"].initial = today

    def clean_end_date(self) -> date:
        end = self.cleaned_data["end_date"]
        if end <= self.start_date:
            raise ValidationError(f"Service must stop after it started ({self.start_date}).")
        return end


class WorkItemForm(ConsoleForm):
    category = forms.ModelChoiceField(queryset=WorkCategory.objects.all(), to_field_name="code")
    title = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    priority = forms.TypedChoiceField(
        choices=[("", "Category default")] + list(WorkItem.Priority.choices),
        coerce=int,
        required=False,
        empty_value=None,
    )
    due_date = _date_field("Due", required=False, help_text="Empty: the category's usual time")

    def __init__(self, *args, today: date, **kwargs):
        self.today = today
        super().__init__(*args, **kwargs)

    def clean_due_date(self) -> date | None:
        due = self.cleaned_data.get("due_date")
        if due and due < self.today:
            raise ValidationError("The due date is in the past.")
        return due


class WorkNoteForm(ConsoleForm):
    text = forms.CharField(label="Note", widget=forms.Textarea(attrs={"rows": 3}))


class WorkStatusForm(forms.Form):
    status = forms.ChoiceField(choices=WorkItem.Status.choices)
    resolution = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required when closing (done or cancelled)",
    )

    def clean(self):
        data = super().clean()
        closing = data.get("status") in (WorkItem.Status.DONE, WorkItem.Status.CANCELLED)
        if closing and not (data.get("resolution") or "").strip():
            self.add_error("resolution", "Say how the item was resolved.")
        return data


class WorkAssignForm(forms.Form):
    assignee = forms.ModelChoiceField(
        queryset=get_user_model().objects.none(), required=False, empty_label="(unassigned)"
    )

    def __init__(self, *args, item: WorkItem, **kwargs):
        super().__init__(*args, **kwargs)
        assignee = self.fields["assignee"]
        assert isinstance(assignee, forms.ModelChoiceField)
        assignee.queryset = (
            get_user_model().objects.filter(is_active=True, groups=item.team).order_by("username")
        )
