from django.db import migrations

REASONS = [
    ("high_bill", "High bill inquiry", 10),
    ("billing_question", "Billing question", 20),
    ("payment", "Payment or payment arrangement", 30),
    ("start_service", "Start service", 40),
    ("stop_service", "Stop service", 50),
    ("transfer_service", "Transfer service", 60),
    ("outage", "Outage or power quality", 70),
    ("disconnect_notice", "Disconnect notice", 80),
    ("program", "Assistance or program enrolment", 90),
    ("meter", "Meter question or access", 100),
    ("account_update", "Account or contact update", 110),
    ("complaint", "Complaint", 120),
    ("identity", "Identity verification", 130),
    ("other", "Other", 999),
]


def add_reasons(apps, schema_editor):
    reason = apps.get_model("customers", "InteractionReason")
    for code, label, order in REASONS:
        reason.objects.update_or_create(code=code, defaults={"label": label, "sort_order": order})


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]
    operations = [migrations.RunPython(add_reasons, migrations.RunPython.noop)]
