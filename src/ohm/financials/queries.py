"""Reads for financial transactions: pending requests, what approval a request will need."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from ohm.core.models import RoleLimit
from ohm.core.money import format_cents
from ohm.core.permissions import limit_cents
from ohm.financials import policies
from ohm.financials.models import AdjustmentReason, FinancialRequest


def list_pending_requests(*, account_id: int | None = None) -> QuerySet[FinancialRequest]:
    """Requests waiting for a decision, oldest first."""
    rows = FinancialRequest.objects.filter(status=FinancialRequest.Status.PENDING)
    if account_id is not None:
        rows = rows.filter(account_id=account_id)
    return rows.select_related("account", "maker", "work_item").order_by("made_at", "id")


def list_requests(*, account_id: int) -> QuerySet[FinancialRequest]:
    return (
        FinancialRequest.objects.filter(account_id=account_id)
        .select_related("maker", "checker", "journal_entry")
        .order_by("-made_at", "-id")
    )


def get_request(*, pk: int) -> FinancialRequest:
    """:raises FinancialRequest.DoesNotExist:"""
    return FinancialRequest.objects.select_related(
        "account", "maker", "checker", "journal_entry", "work_item"
    ).get(pk=pk)


def list_active_reasons() -> QuerySet[AdjustmentReason]:
    return AdjustmentReason.objects.filter(is_active=True).order_by("label")


@dataclass(frozen=True)
class ApprovalNeeded:
    needed: bool
    limit_cents: int
    approver_roles: list[str]
    message: str


def roles_with_limit(*, limit_kind: str, amount_cents: int) -> list[str]:
    """Names of the roles whose ``limit_kind`` limit covers ``amount_cents``, lowest first."""
    field = f"{limit_kind}_limit_cents"
    rows = RoleLimit.objects.filter(**{f"{field}__gte": amount_cents})
    # Only roles that may approve; until roles hold the permission, every covering role.
    approvers = rows.filter(
        group__permissions__content_type__app_label="financials",
        group__permissions__codename="approve_request",
    )
    if approvers.exists():
        rows = approvers
    return list(rows.order_by(field, "group__name").values_list("group__name", flat=True))


def approval_needed(*, user, kind: str, amount_cents: int) -> ApprovalNeeded:
    """What it takes for ``user`` to post a ``kind`` of ``amount_cents``, in words for a form."""
    limit_kind = policies.LIMIT_KIND.get(kind)
    if limit_kind is None:
        return ApprovalNeeded(False, 0, [], "Posts at once: no approval needed.")
    limit = limit_cents(user, limit_kind)
    if amount_cents <= limit:
        return ApprovalNeeded(
            False, limit, [], f"Within your {format_cents(limit)} limit: posts at once."
        )
    roles = roles_with_limit(limit_kind=limit_kind, amount_cents=amount_cents)
    if not roles:
        who = "no role's limit covers it"
    else:
        shown = [name for name in roles if name != "Administrator"][:2] or roles[:1]
        who = " or ".join(_article(name) for name in shown) + " must approve"
    return ApprovalNeeded(True, limit, roles, f"Above your {format_cents(limit)} limit: {who}.")


def _article(name: str) -> str:
    """ "Lead CSR" -> "a lead CSR": lower case, acronyms kept."""
    words = " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in name.split())
    return f"{'an' if words[:1] in 'aeiou' else 'a'} {words}"
