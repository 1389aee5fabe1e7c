"""Console forms check what people type before any operation runs."""

from datetime import date

import pytest
from django import forms as django_forms
from django.core.exceptions import ValidationError

from ohm.console import forms
from ohm.customers.models import Account

TODAY = date(2026, 3, 3)

PERSON = {
    "kind": "individual",
    "first_name": "Ana",
    "last_name": "Reyes",
    "preferred_language": "en",
    "address_line1": "44 Harbor View Dr",
    "city": "Port Marisol",
    "state": "ca",
    "postal_code": "94501-1234",
    "phone": "510.555.0199",
    "phone_kind": "mobile",
    "bill_cycle": "7",
    "opened_date": "2026-03-03",
}


class TestNewCustomerForm:
    def test_normalizes_the_phone_and_the_state(self):
        form = forms.NewCustomerForm(PERSON, today=TODAY)

        assert form.is_valid(), form.errors
        assert form.cleaned_data["phone"] == "+15105550199"
        assert form.cleaned_data["state"] == "CA"
        assert form.phones() == [{"number": "+15105550199", "kind": "mobile", "sms_consent": False}]

    def test_needs_a_business_name_for_a_business(self):
        form = forms.NewCustomerForm(
            {**PERSON, "kind": "business", "first_name": "", "last_name": ""}, today=TODAY
        )

        assert form.errors["business_name"] == ["A business needs its name."]

    def test_needs_first_and_last_name_for_an_individual(self):
        form = forms.NewCustomerForm({**PERSON, "first_name": "", "last_name": " "}, today=TODAY)

        assert set(form.errors) == {"first_name", "last_name"}

    def test_refuses_an_unknown_state(self):
        form = forms.NewCustomerForm({**PERSON, "state": "QQ"}, today=TODAY)

        assert "not a US state code" in form.errors["state"][0]

    def test_refuses_an_impossible_date(self):
        form = forms.NewCustomerForm({**PERSON, "opened_date": "2026-02-30"}, today=TODAY)

        assert "opened_date" in form.errors

    def test_needs_an_email_for_paperless_billing(self):
        form = forms.NewCustomerForm({**PERSON, "paperless": "on"}, today=TODAY)

        assert form.errors["email"] == ["Paperless billing needs an email address."]

    def test_refuses_an_ssn_that_is_not_four_digits(self):
        form = forms.NewCustomerForm({**PERSON, "ssn_last4": "12a4"}, today=TODAY)

        assert form.errors["ssn_last4"] == ["Enter exactly the last four digits."]

    def test_puts_the_focus_on_the_first_field(self):
        form = forms.NewCustomerForm(today=TODAY)

        focused = [
            name for name, field in form.fields.items() if field.widget.attrs.get("autofocus")
        ]
        assert focused == ["kind"]


class TestAccountForm:
    DATA = {
        "address_line1": "1 A St",
        "city": "Port Marisol",
        "state": "CA",
        "postal_code": "94501",
        "bill_cycle": "3",
        "language": "en",
        "reason": "asked",
    }

    def test_needs_a_reason_and_an_expiry_for_do_not_disconnect(self):
        form = forms.AccountForm({**self.DATA, "do_not_disconnect": "on"}, today=TODAY)

        assert set(form.errors) == {"do_not_disconnect_reason", "do_not_disconnect_until"}

    def test_refuses_an_expiry_in_the_past(self):
        data = {
            **self.DATA,
            "do_not_disconnect": "on",
            "do_not_disconnect_reason": "medical",
            "do_not_disconnect_until": "2026-01-01",
        }

        form = forms.AccountForm(data, today=TODAY)

        assert form.errors["do_not_disconnect_until"] == [
            "The do-not-disconnect expiry is in the past."
        ]

    def test_refuses_a_bill_cycle_outside_1_to_20(self):
        form = forms.AccountForm({**self.DATA, "bill_cycle": "0"}, today=TODAY)

        assert "bill_cycle" in form.errors


class TestAccountStatusForm:
    def test_offers_the_allowed_moves_but_accepts_any_status_for_the_operation_to_judge(self):
        account = Account(status=Account.Status.ACTIVE)

        form = forms.AccountStatusForm(
            {"status": "closed", "effective_date": "2026-03-03", "reason": "x"},
            account=account,
            today=TODAY,
        )

        assert [value for value, _ in form.fields["status"].widget.choices] == ["final"]
        assert form.is_valid()


class TestStopServiceForm:
    def test_refuses_a_stop_on_or_before_the_start(self):
        form = forms.StopServiceForm(
            {"end_date": "2026-03-01", "reason": "moving"}, start_date=date(2026, 3, 1), today=TODAY
        )

        assert form.errors["end_date"] == ["Service must stop after it started (2026-03-01)."]


class TestAlertForm:
    def test_refuses_an_end_before_the_start(self):
        form = forms.AlertForm(
            {"kind": "dispute", "start_date": "2026-03-03", "end_date": "2026-03-03"}, today=TODAY
        )

        assert form.errors["end_date"] == ["The alert must end after it starts."]


class TestWorkStatusForm:
    def test_needs_a_resolution_to_close(self):
        form = forms.WorkStatusForm({"status": "done", "resolution": " "})

        assert form.errors["resolution"] == ["Say how the item was resolved."]

    def test_needs_no_resolution_to_wait(self):
        form = forms.WorkStatusForm({"status": "waiting"})

        assert form.is_valid()


@pytest.mark.django_db
class TestPremiseForm:
    def test_refuses_a_bad_zip(self):
        data = {
            "address_line1": "9 Seawall Way",
            "city": "Port Marisol",
            "state": "CA",
            "postal_code": "ABCDE",
            "premise_type": "single_family",
            "baseline_territory": "T",
            "heat_source": "gas",
            "route": "R1",
            "read_sequence": "1",
        }

        form = forms.PremiseForm(data)

        assert "not a ZIP code" in form.errors["postal_code"][0]


class TestAddOperationErrors:
    class Form(django_forms.Form):
        status = django_forms.CharField(required=False)
        number = django_forms.CharField(required=False)

    def test_puts_each_message_on_the_field_it_names(self):
        form = self.Form({})
        form.is_valid()

        forms.add_operation_errors(
            form,
            ValidationError({"status": "No.", "phone": "Bad phone."}),
            aliases={"phone": "number"},
        )

        assert form.errors["status"] == ["No."]
        assert form.errors["number"] == ["Bad phone."]

    def test_puts_unknown_fields_and_plain_messages_on_top(self):
        form = self.Form({})
        form.is_valid()

        forms.add_operation_errors(form, ValidationError({"account": "Closed."}))
        forms.add_operation_errors(form, ValidationError("Something else."))

        assert form.non_field_errors() == ["Account: Closed.", "Something else."]


class TestFocus:
    def test_moves_the_focus_to_the_first_field_in_error(self):
        form = forms.NewCustomerForm({**PERSON, "postal_code": "9"}, today=TODAY)

        form.is_valid()

        focused = [
            name for name, field in form.fields.items() if field.widget.attrs.get("autofocus")
        ]
        assert focused == ["postal_code"]
