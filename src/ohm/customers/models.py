"""Persons and customer accounts: who the utility serves and who pays."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from ohm.core import validators
from ohm.core.crypto import EncryptedTextField

LANGUAGES = [
    ("en", "English"),
    ("es", "Spanish"),
    ("zh", "Chinese"),
    ("vi", "Vietnamese"),
    ("tl", "Tagalog"),
    ("ko", "Korean"),
    ("ru", "Russian"),
]


class MailingAddress(models.Model):
    """A US mailing address, validated field by field."""

    address_line1 = models.CharField("street address", max_length=120)
    address_line2 = models.CharField("unit / suite / PO box", max_length=120, blank=True)
    city = models.CharField(max_length=80)
    state = models.CharField(max_length=2, default="CA", validators=[validators.validate_state])
    postal_code = models.CharField(
        "ZIP code", max_length=10, validators=[validators.validate_postal_code]
    )

    class Meta:
        abstract = True

    @property
    def mailing_lines(self) -> list[str]:
        lines = [self.address_line1]
        if self.address_line2:
            lines.append(self.address_line2)
        lines.append(f"{self.city}, {self.state} {self.postal_code}")
        return lines


class Person(MailingAddress):
    class Kind(models.TextChoices):
        INDIVIDUAL = "individual", "Individual"
        BUSINESS = "business", "Business"

    class Identity(models.TextChoices):
        UNVERIFIED = "unverified", "Not verified"
        VERIFIED = "verified", "Verified"
        FAILED = "failed", "Verification failed"

    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.INDIVIDUAL)
    first_name = models.CharField(max_length=80, blank=True)
    middle_name = models.CharField(max_length=80, blank=True)
    last_name = models.CharField(max_length=80, blank=True)
    suffix = models.CharField(max_length=10, blank=True)
    business_name = models.CharField(max_length=160, blank=True)
    preferred_language = models.CharField(max_length=5, choices=LANGUAGES, default="en")
    # Sensitive: encrypted at rest, masked on screen unless the role has core.view_sensitive.
    date_of_birth = EncryptedTextField(blank=True, help_text="ISO date, encrypted")
    ssn_last4 = EncryptedTextField(
        "SSN last four", blank=True, validators=[validators.validate_last4]
    )
    tax_id = EncryptedTextField("tax id (EIN)", blank=True)
    identity_status = models.CharField(
        max_length=12, choices=Identity.choices, default=Identity.UNVERIFIED
    )
    identity_verified_at = models.DateTimeField(null=True, blank=True)
    identity_method = models.CharField(
        max_length=60,
        blank=True,
        help_text="How identity was verified, e.g. driver licence, credit bureau",
    )
    created_at = models.DateTimeField()

    class Meta:
        permissions = [("view_sensitive_person", "See a person's unmasked sensitive fields")]
        indexes = [models.Index(fields=["last_name", "first_name"])]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        if self.kind == self.Kind.BUSINESS:
            return self.business_name
        parts = [self.first_name, self.middle_name, self.last_name, self.suffix]
        return " ".join(p for p in parts if p)

    def clean(self) -> None:
        if self.kind == self.Kind.BUSINESS and not self.business_name.strip():
            raise ValidationError({"business_name": "A business needs its name."})
        if self.kind == self.Kind.INDIVIDUAL and not (
            self.first_name.strip() and self.last_name.strip()
        ):
            errors = {}
            if not self.first_name.strip():
                errors["first_name"] = "An individual needs a first name."
            if not self.last_name.strip():
                errors["last_name"] = "An individual needs a last name."
            raise ValidationError(errors)


class Phone(models.Model):
    class Kind(models.TextChoices):
        MOBILE = "mobile", "Mobile"
        HOME = "home", "Home"
        WORK = "work", "Work"

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="phones")
    number = models.CharField(
        max_length=20, validators=[validators.validate_phone], help_text="E.164, e.g. +15105550123"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.MOBILE)
    is_primary = models.BooleanField(default=False)
    sms_consent = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["number"])]

    def __str__(self) -> str:
        return validators.format_phone(self.number)


class Email(models.Model):
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="emails")
    address = models.EmailField(max_length=254)
    is_primary = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.address


class Account(MailingAddress):
    """A customer account: who is billed, where the bill goes, and how the utility treats it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACTIVE = "active", "Active"
        FINAL = "final", "Final"
        CLOSED = "closed", "Closed"

    number = models.CharField(
        max_length=10,
        unique=True,
        validators=[validators.validate_account_number],
        help_text="Nine digits and a Luhn check digit",
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    bill_cycle = models.PositiveSmallIntegerField(help_text="1 to 20")
    opened_date = models.DateField()
    final_date = models.DateField(null=True, blank=True)
    closed_date = models.DateField(null=True, blank=True)
    # Flags that change how billing, collections and field work treat the account.
    medical_baseline = models.BooleanField(
        default=False, help_text="Extra baseline allowance for medical equipment"
    )
    life_support = models.BooleanField(
        default=False,
        help_text="Life-support equipment at the premise: never disconnect without the special process",
    )
    cash_only = models.BooleanField(
        default=False, help_text="Checks and ACH refused after returned payments"
    )
    do_not_disconnect = models.BooleanField(default=False)
    do_not_disconnect_reason = models.CharField(max_length=200, blank=True)
    do_not_disconnect_until = models.DateField(null=True, blank=True)
    # Communication preferences.
    paperless = models.BooleanField(default=False)
    language = models.CharField(max_length=5, choices=LANGUAGES, default="en")
    notify_by_email = models.BooleanField(default=True)
    notify_by_sms = models.BooleanField(default=False)
    notify_by_mail = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(bill_cycle__gte=1, bill_cycle__lte=20),
                name="account_bill_cycle_1_to_20",
            ),
        ]

    def __str__(self) -> str:
        return f"Account {self.number}"

    @property
    def formatted_number(self) -> str:
        return f"{self.number[:4]}-{self.number[4:9]}-{self.number[9:]}"

    def clean(self) -> None:
        errors = {}
        if self.bill_cycle is not None and not 1 <= self.bill_cycle <= 20:
            errors["bill_cycle"] = (
                f"Bill cycle {self.bill_cycle} does not exist: cycles are 1 to 20."
            )
        if self.do_not_disconnect and not self.do_not_disconnect_reason.strip():
            errors["do_not_disconnect_reason"] = "Say why the account must not be disconnected."
        if self.do_not_disconnect_until and self.do_not_disconnect_until < self.opened_date:
            errors["do_not_disconnect_until"] = (
                "The do-not-disconnect expiry is before the account opened."
            )
        if errors:
            raise ValidationError(errors)


class AccountPerson(models.Model):
    """A person's role on an account, for a period of dates."""

    class Role(models.TextChoices):
        MAIN = "main", "Main customer"
        CO_APPLICANT = "co_applicant", "Co-applicant"
        LANDLORD = "landlord", "Landlord"
        THIRD_PARTY = "third_party", "Third-party notification contact"
        AUTHORIZED = "authorized", "Authorized to discuss the account"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="account_persons")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="account_roles")
    role = models.CharField(max_length=15, choices=Role.choices)
    start_date = models.DateField()
    end_date = models.DateField(
        null=True, blank=True, help_text="Exclusive; empty while the role lasts"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(role="main", end_date__isnull=True),
                name="one_current_main_person_per_account",
            ),
            models.UniqueConstraint(
                fields=["account", "person", "role"],
                condition=Q(end_date__isnull=True),
                name="no_duplicate_current_account_role",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} — {self.get_role_display()} on {self.account}"


class AccountAlert(models.Model):
    """A banner on the account that every CSR must see before acting."""

    class Kind(models.TextChoices):
        LIFE_SUPPORT = "life_support", "Life support"
        MEDICAL = "medical", "Medical baseline"
        CASH_ONLY = "cash_only", "Cash only"
        BANKRUPTCY = "bankruptcy", "Bankruptcy"
        DISPUTE = "dispute", "Bill dispute"
        SAFETY = "safety", "Field safety (dog, hazard)"
        FRAUD = "fraud", "Identity or fraud concern"
        OTHER = "other", "Other"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=15, choices=Kind.choices)
    note = models.CharField(max_length=300, blank=True)
    start_date = models.DateField()
    end_date = models.DateField(null=True, blank=True, help_text="Exclusive; empty while it lasts")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.get_kind_display()

    def clean(self) -> None:
        if self.end_date and self.end_date <= self.start_date:
            raise ValidationError({"end_date": "The alert must end after it starts."})


class InteractionReason(models.Model):
    """Code table of why customers contact the utility."""

    code = models.CharField(max_length=30, unique=True)
    label = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=100)

    class Meta:
        ordering = ["sort_order", "label"]

    def __str__(self) -> str:
        return self.label


class Interaction(models.Model):
    """One contact with a customer, whatever the channel. Never edited."""

    class Channel(models.TextChoices):
        PHONE = "phone", "Phone"
        EMAIL = "email", "Email"
        MAIL = "mail", "Mail"
        IN_PERSON = "in_person", "In person"
        PORTAL = "portal", "Portal"
        SMS = "sms", "Text message"
        FIELD = "field", "Field visit"

    class Direction(models.TextChoices):
        INBOUND = "inbound", "Inbound"
        OUTBOUND = "outbound", "Outbound"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="interactions")
    person = models.ForeignKey(
        Person, null=True, blank=True, on_delete=models.PROTECT, related_name="interactions"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    direction = models.CharField(
        max_length=10, choices=Direction.choices, default=Direction.INBOUND
    )
    reason = models.ForeignKey(InteractionReason, on_delete=models.PROTECT)
    note = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["account", "-occurred_at"])]

    def __str__(self) -> str:
        return f"{self.get_channel_display()}: {self.reason}"
