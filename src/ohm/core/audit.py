"""The audit trail: every write a person causes records who, when, what, before/after, why.

``record`` also announces the write to the rest of Ohm (``domain_event``) inside the same
transaction, so listeners such as the search index change atomically with the data.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.dispatch import Signal

from ohm.core.models import AuditEvent

#: Sent after each audit record: ``event`` (dotted name), ``subject`` (model or None),
#: ``account_id`` (int or None).
domain_event = Signal()


class SystemActor:
    """A job or command acting without a person: its name goes in the audit trail."""

    is_authenticated = False
    pk = None

    def __init__(self, name: str):
        self.username = name

    def __str__(self) -> str:
        return self.username


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    return value


def snapshot(instance: models.Model, fields: list[str]) -> dict[str, Any]:
    """The named fields of a row as JSON-able values, for ``before``/``after``."""
    return {name: _jsonable(getattr(instance, name)) for name in fields}


def record(
    event: str,
    *,
    subject: models.Model | None,
    actor,
    at: datetime,
    account_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
) -> AuditEvent:
    """Write one audit event and announce it. ``actor`` is a User or a ``SystemActor``."""
    user = actor if getattr(actor, "pk", None) is not None else None
    row = AuditEvent(
        event=event,
        occurred_at=at,
        actor=user,
        actor_label=getattr(actor, "username", "") or "system",
        subject_type=ContentType.objects.get_for_model(subject) if subject is not None else None,
        subject_id=str(subject.pk) if subject is not None else "",
        subject_label=str(subject)[:200] if subject is not None else "",
        account_id=account_id,
        before=_jsonable(before) if before is not None else None,
        after=_jsonable(after) if after is not None else None,
        reason=reason,
    )
    row.save()
    domain_event.send(sender=AuditEvent, event=event, subject=subject, account_id=account_id)
    return row


def changed_fields(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict, dict]:
    """Only the fields that differ, for a compact before/after."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}
