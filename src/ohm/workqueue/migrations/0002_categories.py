from django.db import migrations

# (code, label, team (a role's group name), priority, business days to resolve)
CATEGORIES = [
    ("general", "General follow-up", "CSR", 3, 3),
    ("callback", "Call the customer back", "CSR", 2, 1),
    ("identity_review", "Identity verification review", "Supervisor", 2, 2),
    ("account_review", "Account review", "Lead CSR", 3, 5),
    ("meter_exception", "Meter data exception", "Billing analyst", 3, 3),
    ("field_followup", "Field follow-up", "Field technician", 3, 5),
    ("investigation", "Possible unauthorized usage", "Investigator", 2, 10),
    ("collections_review", "Collections review", "Collections", 3, 5),
]


def add_categories(apps, schema_editor):
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
        ("workqueue", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [migrations.RunPython(add_categories, migrations.RunPython.noop)]
