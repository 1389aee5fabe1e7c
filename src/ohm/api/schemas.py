"""What the API returns. Dates are ISO 8601; datetimes are ISO 8601 in UTC; a value not on
file is ``null``."""

from __future__ import annotations

from datetime import date, datetime

from ninja import Schema


class ErrorOut(Schema):
    detail: str


class FieldErrorOut(Schema):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorOut(Schema):
    detail: list[FieldErrorOut]


class MailingAddressOut(Schema):
    address_line1: str
    address_line2: str
    city: str
    state: str
    postal_code: str
    lines: list[str]


class AccountFlagsOut(Schema):
    medical_baseline: bool
    life_support: bool
    cash_only: bool
    do_not_disconnect: bool
    do_not_disconnect_reason: str
    do_not_disconnect_until: date | None


class AccountPreferencesOut(Schema):
    paperless: bool
    language: str
    notify_by_email: bool
    notify_by_sms: bool
    notify_by_mail: bool


class AccountPersonOut(Schema):
    id: int
    name: str
    role: str
    role_label: str
    start_date: date


class AgreementOut(Schema):
    number: str
    status: str
    service_point: str
    premise_number: str
    premise_address: str
    rate_code: str
    start_date: date
    end_date: date | None


class BannerOut(Schema):
    kind: str
    label: str
    note: str
    severity: str  # "danger", "warning" or "info"


class AccountOut(Schema):
    number: str
    formatted_number: str
    status: str
    bill_cycle: int
    opened_date: date
    final_date: date | None
    closed_date: date | None
    mailing_address: MailingAddressOut
    flags: AccountFlagsOut
    preferences: AccountPreferencesOut
    persons: list[AccountPersonOut]
    agreements: list[AgreementOut]
    banners: list[BannerOut]


class AccountSummaryOut(Schema):
    number: str
    status: str
    bill_cycle: int
    name: str
    opened_date: date


class AccountPageOut(Schema):
    count: int
    limit: int
    offset: int
    items: list[AccountSummaryOut]


class PhoneOut(Schema):
    number: str  # E.164, e.g. +15105550142
    kind: str
    is_primary: bool
    sms_consent: bool


class EmailOut(Schema):
    address: str
    is_primary: bool


class PersonAccountOut(Schema):
    number: str
    role: str


class PersonOut(Schema):
    id: int
    kind: str
    name: str
    first_name: str
    middle_name: str
    last_name: str
    suffix: str
    business_name: str
    preferred_language: str
    identity_status: str
    identity_verified_at: datetime | None
    identity_method: str
    mailing_address: MailingAddressOut
    phones: list[PhoneOut]
    emails: list[EmailOut]
    # Masked ("••••••••", or the last four of a tax id) unless the user has
    # core.view_sensitive; null when not on file.
    date_of_birth: str | None
    ssn_last4: str | None
    tax_id: str | None
    sensitive_masked: bool
    accounts: list[PersonAccountOut]


class InstalledMeterOut(Schema):
    serial: str
    make: str
    model: str
    kind: str
    installed_at: datetime


class ServicePointOut(Schema):
    number: str
    meter_location: str
    route: str
    read_sequence: int
    energized: bool
    status: str
    access_notes: str
    meter: InstalledMeterOut | None


class PremiseOut(Schema):
    number: str
    address_line1: str
    unit: str
    city: str
    state: str
    postal_code: str
    one_line: str
    premise_type: str
    baseline_territory: str
    heat_source: str
    latitude: str | None  # decimal degrees, as a string so no precision is lost
    longitude: str | None
    service_points: list[ServicePointOut]


class MeterChannelOut(Schema):
    number: int
    measure: str
    interval_minutes: int | None


class MeterInstallationOut(Schema):
    service_point: str
    premise_number: str
    premise_address: str
    installed_at: datetime
    install_reading: int | None


class MeterOut(Schema):
    serial: str
    make: str
    model: str
    kind: str
    form: str
    multiplier: str  # decimal, as a string so no precision is lost
    dials: int
    status: str
    purchased_date: date | None
    channels: list[MeterChannelOut]
    installation: MeterInstallationOut | None


class SearchResultOut(Schema):
    account_number: str
    name: str
    service_address: str
    status: str
    phone: str
    meter_serials: list[str]


class SearchOut(Schema):
    query: str
    count: int
    items: list[SearchResultOut]


#: The error responses every endpoint documents (see ``ohm.api.errors`` for the shape).
ERRORS: dict[int, type[Schema]] = {
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    422: ValidationErrorOut,
}
