"""What banking posts to and who works its exceptions: the refund-check cash account and the
work categories for autopay problems (returns, notifications of change) and refund approvals."""

from django.db import migrations

# (code, name, kind, role)
GL_ACCOUNTS = [
    ("1020", "Cash — refund checks (disbursement account)", "asset", "cash_disbursements")
]

# (code, label, team (a role's group name), priority, business days to resolve)
CATEGORIES = [
    ("autopay_problem", "Autopay problem: tell the customer", "CSR", 2, 2),
    ("refund_approval", "Approve a refund", "Lead CSR", 2, 2),
]


def seed(apps, schema_editor):
    gl_account = apps.get_model("ledger", "GLAccount")
    for code, name, kind, role in GL_ACCOUNTS:
        if not gl_account.objects.filter(role=role).exists():
            gl_account.objects.get_or_create(
                code=code, defaults={"name": name, "kind": kind, "role": role}
            )
    group = apps.get_model("auth", "Group")
    category = apps.get_model("workqueue", "WorkCategory")
    for code, label, team, priority, days in CATEGORIES:
        team_group, _ = group.objects.get_or_create(name=team)
        category.objects.update_or_create(
            code=code,
            defaults={
                "label": label,
                "team": team_group,
                "default_priority": priority,
                "due_days": days,
            },
        )


class Migration(migrations.Migration):
    dependencies = [
        ("banking", "0001_initial"),
        ("ledger", "0002_chart_and_append_only"),
        ("workqueue", "0002_categories"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
