"""What payments post to and who works its exceptions: the cash over/short GL account and
the work categories for unapplied payments, drawer sign-off and card payments with no answer."""

from django.db import migrations

# (code, name, kind, role)
GL_ACCOUNTS = [("5300", "Cash over and short", "expense", "cash_over_short")]

# (code, label, team (a role's group name), priority, business days to resolve)
CATEGORIES = [
    ("unapplied_payment", "Apply an unapplied payment", "CSR", 2, 2),
    ("drawer_signoff", "Sign off a cash drawer", "Supervisor", 2, 1),
    ("card_unresolved", "Card payment the processor has not confirmed", "Supervisor", 1, 1),
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
        ("payments", "0001_initial"),
        ("ledger", "0002_chart_and_append_only"),
        ("workqueue", "0002_categories"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
