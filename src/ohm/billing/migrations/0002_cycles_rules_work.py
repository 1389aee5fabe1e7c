"""The twenty bill cycles, the bill exception rules, and the work category held bills go to."""

from django.db import migrations

# (code, label, threshold)
RULES = [
    ("high_usage", "Usage per day above N × the account's 12-month average", "3"),
    ("low_usage", "Usage per day below N × the account's 12-month average", "0.2"),
    ("zero_usage", "No usage at an active premise", ""),
    ("estimated_streak", "Estimated N bills in a row (this one included)", "3"),
    ("negative_line", "A charge line below zero that is not a credit or discount", ""),
    ("implausible_total", "New charges above N dollars", "5000"),
    ("missing_rate", "No rate version in effect for part of the period", ""),
    ("missing_reads", "Share of the period's intervals with no reading above N", "0.1"),
]


def add(apps, schema_editor):
    cycle = apps.get_model("billing", "BillCycle")
    rule = apps.get_model("billing", "BillExceptionRule")
    group = apps.get_model("auth", "Group")
    category = apps.get_model("workqueue", "WorkCategory")
    for number in range(1, 21):
        cycle.objects.get_or_create(
            number=number, defaults={"name": f"Cycle {number}", "read_business_day": number}
        )
    for code, label, threshold in RULES:
        rule.objects.get_or_create(code=code, defaults={"label": label, "threshold": threshold})
    team, _ = group.objects.get_or_create(name="Billing analyst")
    category.objects.get_or_create(
        code="bill_exception",
        defaults={
            "label": "Bill held for review",
            "team": team,
            "default_priority": 2,
            "due_days": 2,
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_initial"),
        ("workqueue", "0002_categories"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [migrations.RunPython(add, migrations.RunPython.noop)]
