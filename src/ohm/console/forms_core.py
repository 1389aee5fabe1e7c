"""Forms of the console shell: the second sign-in step, MFA set-up and logging an interaction."""

from __future__ import annotations

from django import forms

from ohm.customers.models import Interaction, InteractionReason


class OTPCodeForm(forms.Form):
    code = forms.CharField(
        label="6-digit code",
        min_length=6,
        max_length=6,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "pattern": "[0-9]{6}",
                "autofocus": True,
            }
        ),
    )

    def clean_code(self) -> str:
        code = self.cleaned_data["code"].strip()
        if not code.isdigit():
            raise forms.ValidationError("The code is six digits from your authenticator app.")
        return code


class InteractionForm(forms.Form):
    """Channel, reason, note and (optionally) which person on the account called."""

    channel = forms.ChoiceField(
        choices=Interaction.Channel.choices, initial=Interaction.Channel.PHONE
    )
    reason = forms.ChoiceField(choices=(), widget=forms.Select(attrs={"autofocus": True}))
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, max_length=4000
    )
    person = forms.TypedChoiceField(
        choices=(), required=False, coerce=int, empty_value=None, label="Who"
    )

    def __init__(self, *args, persons=(), **kwargs):
        super().__init__(*args, **kwargs)
        reasons = InteractionReason.objects.filter(is_active=True).values_list("code", "label")
        self.fields["reason"].choices = [("", "Choose a reason…"), *reasons]
        self.persons = {p.pk: p for p in persons}
        self.fields["person"].choices = [
            ("", "—"),
            *((pk, p.display_name) for pk, p in self.persons.items()),
        ]

    def selected_person(self):
        return self.persons.get(self.cleaned_data.get("person"))
