"""Writes to rate schedules and versions: every change validated, locked and audited.

The life of a version: a billing analyst creates a draft (typed in the console, copied from an
earlier version, or imported from a URDB record), edits it while it is a draft, and a
supervisor approves it — a different person from its author. Approved versions are never
edited; a rate change is a new version with a later effective date, and an approved version
that has not taken effect yet can be withdrawn (then replaced by a new draft).

Every document is checked by ``ohm.rates.tariff.tariff_from_document`` before it is stored;
a refusal is an ``InvalidTariffDocument`` that names the field of the document at fault.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from ohm.core import audit
from ohm.core.localtime import localdate
from ohm.rates import tariff as tariffs
from ohm.rates.models import RateSchedule, RateVersion

SCHEDULE_FIELDS = [
    "code",
    "name",
    "customer_class",
    "description",
    "is_active",
    "requires_interval_meter",
    "required_program",
]
VERSION_FIELDS = ["number", "effective_date", "status", "notes", "source", "source_label"]


class InvalidTariffDocument(ValidationError):
    """The tariff document was refused; ``field`` is the document path at fault
    (``energyratestructure[0][1].rate``), ``message`` says why."""

    def __init__(self, *, field: str, message: str):
        self.field = field or "document"
        self.reason = message
        super().__init__({"document": [f"{self.field}: {message}" if field else message]})


class VersionNotEditable(ValidationError):
    """Only drafts change; an approved, withdrawn or discarded version stays as it is."""


class ApprovalRefused(ValidationError):
    """The version cannot be approved (its author approving, a date clash, a back date
    without a reason)."""


def check_document(document: Any) -> tariffs.Tariff:
    """The tariff a document describes, or ``InvalidTariffDocument``."""
    if not isinstance(document, dict):
        raise InvalidTariffDocument(field="", message="A tariff document is a JSON object.")
    try:
        return tariffs.tariff_from_document(document)
    except tariffs.TariffError as exc:
        raise InvalidTariffDocument(field=exc.field, message=exc.message) from exc


def _actor_fields(actor) -> tuple[Any, str]:
    user = actor if getattr(actor, "pk", None) is not None else None
    return user, (getattr(actor, "username", "") or "system")[:150]


def _lock_version(version: RateVersion) -> RateVersion:
    return RateVersion.objects.select_for_update().select_related("schedule").get(pk=version.pk)


# -- schedules ----------------------------------------------------------------------------


@transaction.atomic
def create_rate_schedule(
    *,
    code: str,
    name: str,
    customer_class: str,
    description: str = "",
    requires_interval_meter: bool = False,
    required_program: str = "",
    actor,
    at: datetime,
) -> RateSchedule:
    """A new schedule (no prices yet: add a version)."""
    schedule = RateSchedule(
        code=code.strip().upper(),
        name=name.strip(),
        customer_class=customer_class,
        description=description,
        requires_interval_meter=requires_interval_meter,
        required_program=required_program,
    )
    schedule.full_clean()
    schedule.save()
    audit.record(
        "rates.schedule.created",
        subject=schedule,
        actor=actor,
        at=at,
        after=audit.snapshot(schedule, SCHEDULE_FIELDS),
    )
    return schedule


@transaction.atomic
def update_rate_schedule(
    *, schedule: RateSchedule, actor, at: datetime, **changes: Any
) -> RateSchedule:
    """Change a schedule's name, description, openness or eligibility (not its code)."""
    unknown = set(changes) - (set(SCHEDULE_FIELDS) - {"code"})
    if unknown:
        raise ValidationError(f"These schedule fields cannot be changed: {sorted(unknown)}")
    schedule = RateSchedule.objects.select_for_update().get(pk=schedule.pk)
    before = audit.snapshot(schedule, SCHEDULE_FIELDS)
    for name, value in changes.items():
        setattr(schedule, name, value)
    schedule.full_clean()
    schedule.save()
    old, new = audit.changed_fields(before, audit.snapshot(schedule, SCHEDULE_FIELDS))
    if new:
        audit.record(
            "rates.schedule.changed", subject=schedule, actor=actor, at=at, before=old, after=new
        )
    return schedule


# -- versions -----------------------------------------------------------------------------


def _next_number(schedule: RateSchedule) -> int:
    # The schedule row is locked by the caller, so two drafts cannot take the same number.
    top = RateVersion.objects.filter(schedule=schedule).aggregate(top=Max("number"))["top"]
    return (top or 0) + 1


@transaction.atomic
def create_draft_version(
    *,
    schedule: RateSchedule,
    effective_date: date,
    document: dict,
    notes: str = "",
    source: str = RateVersion.Source.CONSOLE,
    source_label: str = "",
    actor,
    at: datetime,
) -> RateVersion:
    """A new draft version of ``schedule`` with a checked document.

    :raises InvalidTariffDocument: naming the field of the document at fault.
    """
    check_document(document)
    schedule = RateSchedule.objects.select_for_update().get(pk=schedule.pk)
    user, label = _actor_fields(actor)
    version = RateVersion.objects.create(
        schedule=schedule,
        number=_next_number(schedule),
        effective_date=effective_date,
        document=document,
        notes=notes,
        source=source,
        source_label=source_label[:300],
        created_at=at,
        created_by=user,
        created_by_label=label,
        updated_at=at,
    )
    audit.record(
        "rates.version.created",
        subject=version,
        actor=actor,
        at=at,
        after={**audit.snapshot(version, VERSION_FIELDS), "document": document},
    )
    return version


@transaction.atomic
def copy_version(
    *, version: RateVersion, effective_date: date, actor, at: datetime, notes: str = ""
) -> RateVersion:
    """A new draft starting from ``version``'s document: how a rate change begins."""
    return create_draft_version(
        schedule=version.schedule,
        effective_date=effective_date,
        document=version.document,
        notes=notes or f"Copied from version {version.number}.",
        source=RateVersion.Source.COPY,
        source_label=f"{version.schedule.code} v{version.number}",
        actor=actor,
        at=at,
    )


@transaction.atomic
def update_draft_version(
    *,
    version: RateVersion,
    actor,
    at: datetime,
    document: dict | None = None,
    effective_date: date | None = None,
    notes: str | None = None,
) -> RateVersion:
    """Change a draft's document, effective date or notes.

    :raises VersionNotEditable: unless the version is a draft.
    :raises InvalidTariffDocument: naming the field of the document at fault.
    """
    version = _lock_version(version)
    if not version.is_editable:
        raise VersionNotEditable(
            f"Version {version.number} is {version.get_status_display().lower()}: only drafts "
            "change. Copy it to a new version instead."
        )
    if document is not None:
        check_document(document)
    before = {**audit.snapshot(version, VERSION_FIELDS), "document": version.document}
    if document is not None:
        version.document = document
    if effective_date is not None:
        version.effective_date = effective_date
    if notes is not None:
        version.notes = notes
    version.updated_at = at
    version.save()
    after = {**audit.snapshot(version, VERSION_FIELDS), "document": version.document}
    old, new = audit.changed_fields(before, after)
    if new:
        audit.record(
            "rates.version.changed", subject=version, actor=actor, at=at, before=old, after=new
        )
    return version


@transaction.atomic
def approve_version(
    *, version: RateVersion, actor, at: datetime, backdated_reason: str = ""
) -> RateVersion:
    """Publish a draft: from its effective date it prices every agreement on the schedule.

    The author may not approve their own draft. A version effective before today (local
    date of ``at``) changes prices already in force, so it needs ``backdated_reason``.

    :raises VersionNotEditable: unless the version is a draft.
    :raises ApprovalRefused: for the author, a date another approved version has, or a back
        date without a reason.
    :raises InvalidTariffDocument: if the document no longer passes the checks.
    """
    version = _lock_version(version)
    if not version.is_editable:
        raise VersionNotEditable(
            f"Version {version.number} is {version.get_status_display().lower()}; only a draft "
            "can be approved."
        )
    user, label = _actor_fields(actor)
    if user is not None and version.created_by_id == user.pk:
        raise ApprovalRefused(
            "You wrote this version: a different person (a supervisor) approves it."
        )
    clash = RateVersion.objects.filter(
        schedule=version.schedule,
        status=RateVersion.Status.APPROVED,
        effective_date=version.effective_date,
    ).first()
    if clash is not None:
        raise ApprovalRefused(
            {
                "effective_date": f"Version {clash.number} is already approved from "
                f"{clash.effective_date:%b %-d, %Y}. Withdraw it first or pick another date."
            }
        )
    if version.effective_date < localdate(at) and not backdated_reason.strip():
        raise ApprovalRefused(
            {
                "backdated_reason": "This version takes effect before today: say why prices "
                "already in force change (bills already issued are rebilled, not changed)."
            }
        )
    check_document(version.document)
    version.status = RateVersion.Status.APPROVED
    version.approved_at = at
    version.approved_by = user
    version.approved_by_label = label
    version.updated_at = at
    version.save()
    audit.record(
        "rates.version.approved",
        subject=version,
        actor=actor,
        at=at,
        after={"status": version.status, "effective_date": version.effective_date},
        reason=backdated_reason.strip(),
    )
    return version


@transaction.atomic
def withdraw_version(*, version: RateVersion, reason: str, actor, at: datetime) -> RateVersion:
    """Take back an approved version that has not taken effect yet (local date of ``at``).

    :raises VersionNotEditable: unless approved and still in the future.
    """
    version = _lock_version(version)
    if version.status != RateVersion.Status.APPROVED:
        raise VersionNotEditable("Only an approved version can be withdrawn.")
    if version.effective_date <= localdate(at):
        raise VersionNotEditable(
            f"Version {version.number} is in effect since {version.effective_date:%b %-d, %Y}: "
            "it priced service and stays. Approve a new version to change the rate."
        )
    if not reason.strip():
        raise ValidationError({"reason": "Say why the version is withdrawn."})
    version.status = RateVersion.Status.WITHDRAWN
    version.withdrawn_reason = reason.strip()[:300]
    version.updated_at = at
    version.save()
    audit.record(
        "rates.version.withdrawn",
        subject=version,
        actor=actor,
        at=at,
        before={"status": RateVersion.Status.APPROVED},
        after={"status": version.status},
        reason=version.withdrawn_reason,
    )
    return version


@transaction.atomic
def discard_draft(*, version: RateVersion, actor, at: datetime) -> RateVersion:
    """Set a draft aside; it stays in the history, marked discarded."""
    version = _lock_version(version)
    if not version.is_editable:
        raise VersionNotEditable("Only a draft can be discarded.")
    version.status = RateVersion.Status.DISCARDED
    version.updated_at = at
    version.save()
    audit.record(
        "rates.version.discarded",
        subject=version,
        actor=actor,
        at=at,
        before={"status": RateVersion.Status.DRAFT},
        after={"status": version.status},
    )
    return version


def _urdb_start_date(record: dict) -> date | None:
    start = record.get("startdate")
    if isinstance(start, bool) or not isinstance(start, int | float):
        return None
    return localdate(datetime.fromtimestamp(start, tz=UTC))


@transaction.atomic
def import_urdb_version(
    *,
    schedule: RateSchedule,
    record: Any,
    actor,
    at: datetime,
    effective_date: date | None = None,
    notes: str = "",
) -> RateVersion:
    """A URDB record (one object of the OpenEI ``utility_rates`` API) as a new draft of
    ``schedule``, effective from ``effective_date`` or else the record's ``startdate``.

    :raises InvalidTariffDocument: when the record cannot price (the parser's field and reason).
    """
    if isinstance(record, dict) and isinstance(record.get("items"), list):
        items = record["items"]
        if len(items) != 1:
            raise InvalidTariffDocument(
                field="items",
                message=f"The file holds {len(items)} URDB records; import one at a time.",
            )
        record = items[0]
    if not isinstance(record, dict):
        raise InvalidTariffDocument(field="", message="A URDB record is a JSON object.")
    try:
        tariff = tariffs.parse_urdb(record)
    except tariffs.TariffError as exc:
        raise InvalidTariffDocument(field=exc.field, message=exc.message) from exc
    when = effective_date or _urdb_start_date(record)
    if when is None:
        raise ValidationError(
            {"effective_date": "The record has no startdate: give the date it takes effect."}
        )
    label = " · ".join(
        str(part) for part in (record.get("utility"), record.get("name")) if part
    ) or str(record.get("label") or "")
    return create_draft_version(
        schedule=schedule,
        effective_date=when,
        document=tariffs.tariff_to_document(tariff),
        notes=notes or f"Imported from URDB: {label}".strip(),
        source=RateVersion.Source.URDB,
        source_label=str(record.get("uri") or record.get("label") or ""),
        actor=actor,
        at=at,
    )
