"""Roles: staff duties as Django groups, each with permissions and money limits.

A person may hold several roles; their limit for a kind of transaction is the highest of
their roles'. Above it, a transaction waits for a different person with a high enough limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.models import Group, Permission

VIEW_RECORDS = [
    "customers.view_person",
    "customers.view_account",
    "customers.view_accountperson",
    "customers.view_interaction",
    "customers.view_accountalert",
    "premises.view_premise",
    "premises.view_servicepoint",
    "metering.view_meter",
    "metering.view_meterinstallation",
    "agreements.view_serviceagreement",
    "rates.view_rateschedule",
    "rates.view_rateversion",
    "workqueue.view_workitem",
    "billing.view_bill",
]
SERVE_CUSTOMERS = [
    "customers.add_person",
    "customers.change_person",
    "customers.add_account",
    "customers.change_account",
    "customers.add_accountperson",
    "customers.change_accountperson",
    "customers.add_interaction",
    "customers.add_accountalert",
    "customers.change_accountalert",
    "agreements.add_serviceagreement",
    "agreements.change_serviceagreement",
    "workqueue.change_workitem",
    "workqueue.add_workitem",
]
LEAD = ["workqueue.assign_workitem", "core.view_audit"]
BOOKS = ["ledger.view_books"]
ADJUST = ["financials.post_adjustment", "financials.assess_fee", "financials.transfer_balance"]
APPROVE = ["financials.approve_request"]
RUN_BILLING = ["billing.run_bills", "billing.review_bill"]
TAKE_PAYMENTS = ["payments.view_payment", "payments.take_payment"]
SERVE_PAYMENTS = TAKE_PAYMENTS + ["payments.apply_payment", "payments.transfer_payment"]
MANAGE_PAYMENTS = SERVE_PAYMENTS + [
    "payments.reverse_payment",
    "payments.import_payments",
    "payments.sign_off_drawer",
]
WRITE_OFF = ["financials.write_off"]
FIELD_WORK = [
    "metering.change_meter",
    "metering.add_meterinstallation",
    "metering.change_meterinstallation",
    "premises.change_servicepoint",
    "customers.add_interaction",
    "workqueue.change_workitem",
]
RECORD_KEEPING = [
    "premises.add_premise",
    "premises.change_premise",
    "premises.add_servicepoint",
    "premises.change_servicepoint",
    "metering.add_meter",
    "metering.change_meter",
    "metering.add_meterinstallation",
    "metering.change_meterinstallation",
]


@dataclass(frozen=True)
class Role:
    slug: str
    name: str
    permissions: list[str] = field(default_factory=list)
    adjust_limit_cents: int = 0
    refund_limit_cents: int = 0
    write_off_limit_cents: int = 0


ROLES: list[Role] = [
    Role("csr", "CSR", VIEW_RECORDS + SERVE_CUSTOMERS + ADJUST + SERVE_PAYMENTS, 50_00, 0, 0),
    Role(
        "lead_csr",
        "Lead CSR",
        VIEW_RECORDS
        + SERVE_CUSTOMERS
        + LEAD
        + ADJUST
        + APPROVE
        + SERVE_PAYMENTS
        + ["payments.reverse_payment"],
        500_00,
        250_00,
        100_00,
    ),
    Role(
        "supervisor",
        "Supervisor",
        VIEW_RECORDS
        + SERVE_CUSTOMERS
        + LEAD
        + RECORD_KEEPING
        + BOOKS
        + ADJUST
        + APPROVE
        + WRITE_OFF
        + RUN_BILLING
        + MANAGE_PAYMENTS
        + ["core.view_sensitive", "rates.approve_rateversion"],
        5_000_00,
        2_500_00,
        1_000_00,
    ),
    Role(
        "cashier",
        "Cashier",
        VIEW_RECORDS + ["customers.add_interaction"] + TAKE_PAYMENTS,
        0,
        0,
        0,
    ),
    Role(
        "billing_analyst",
        "Billing analyst",
        VIEW_RECORDS
        + RECORD_KEEPING
        + BOOKS
        + RUN_BILLING
        + [
            "financials.post_adjustment",
            "financials.assess_fee",
            "ledger.close_period",
            "rates.add_rateschedule",
            "rates.change_rateschedule",
            "rates.add_rateversion",
            "rates.change_rateversion",
            "customers.add_interaction",
            "workqueue.change_workitem",
            "payments.view_payment",
            "payments.import_payments",
            "payments.reverse_payment",
        ],
        1_000_00,
        0,
        0,
    ),
    Role(
        "collections",
        "Collections",
        VIEW_RECORDS + SERVE_CUSTOMERS + BOOKS + ADJUST + WRITE_OFF + SERVE_PAYMENTS,
        250_00,
        0,
        500_00,
    ),
    Role(
        "field_technician",
        "Field technician",
        [
            "premises.view_premise",
            "premises.view_servicepoint",
            "metering.view_meter",
            "metering.view_meterinstallation",
            "customers.view_account",
            "workqueue.view_workitem",
        ]
        + FIELD_WORK,
        0,
        0,
        0,
    ),
    Role(
        "investigator",
        "Investigator",
        VIEW_RECORDS
        + [
            "customers.add_interaction",
            "customers.add_accountalert",
            "core.view_sensitive",
            "workqueue.change_workitem",
        ],
        0,
        0,
        0,
    ),
    Role("administrator", "Administrator", ["*"], 100_000_00, 100_000_00, 100_000_00),
]
ROLE_BY_SLUG = {role.slug: role for role in ROLES}


class UnknownPermission(LookupError):
    """A role names a permission that no installed app defines."""


def _permission(label: str) -> Permission:
    app_label, codename = label.split(".", 1)
    try:
        return Permission.objects.get(content_type__app_label=app_label, codename=codename)
    except Permission.DoesNotExist as exc:
        raise UnknownPermission(label) from exc


def ensure_roles() -> list[Group]:
    """Create or refresh every role's group, permissions and limits (idempotent)."""
    from ohm.core.models import RoleLimit

    # One read of every permission: looking each label up alone made this ~200 queries,
    # and it runs for every test that makes staff.
    every = {
        f"{p.content_type.app_label}.{p.codename}": p
        for p in Permission.objects.select_related("content_type")
    }
    groups = []
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role.name)
        if role.permissions == ["*"]:
            perms = list(every.values())
        else:
            missing = [label for label in role.permissions if label not in every]
            if missing:
                raise UnknownPermission(missing[0])
            perms = [every[label] for label in role.permissions]
        group.permissions.set(perms)
        RoleLimit.objects.update_or_create(
            group=group,
            defaults={
                "adjust_limit_cents": role.adjust_limit_cents,
                "refund_limit_cents": role.refund_limit_cents,
                "write_off_limit_cents": role.write_off_limit_cents,
            },
        )
        groups.append(group)
    return groups


def role_group(slug: str) -> Group:
    return Group.objects.get(name=ROLE_BY_SLUG[slug].name)


def limit_cents(user, kind: str) -> int:
    """The highest ``kind`` limit ("adjust", "refund", "write_off") among the user's roles."""
    from ohm.core.models import RoleLimit

    values = RoleLimit.objects.filter(group__user=user).values_list(
        f"{kind}_limit_cents", flat=True
    )
    return max(values, default=0)


def role_names(user) -> list[str]:
    return sorted(user.groups.values_list("name", flat=True))
