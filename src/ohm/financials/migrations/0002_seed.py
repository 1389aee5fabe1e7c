from datetime import date

from django.db import migrations

# (code, label, direction, GL role of the other side, line category of a charge)
REASONS = [
    ("billing_error", "Billing error", "both", "billing_adjustments", "charge"),
    ("meter_error", "Meter error", "both", "billing_adjustments", "charge"),
    ("courtesy_credit", "Courtesy credit", "credit", "billing_adjustments", "charge"),
    ("fee_waiver", "Fee waiver", "credit", "billing_adjustments", "charge"),
    ("tax_correction", "Tax correction", "both", "tax_uut", "charge"),
    ("estimated_bill", "Estimated-bill correction", "both", "billing_adjustments", "charge"),
    ("deposit_correction", "Deposit correction", "both", "deposits_held", "deposit"),
    ("other", "Other (say why in the memo)", "both", "billing_adjustments", "charge"),
]

# (kind, flat amount, late rate in basis points, minimum past due, floor, cap)
FEES = [
    ("late", 0, 150, 10_00, 1_00, 50_00),
    ("returned_payment", 25_00, 0, 0, 0, None),
    ("reconnect", 50_00, 0, 0, 0, None),
    ("field_trip", 30_00, 0, 0, 0, None),
]


def seed(apps, schema_editor):
    reason = apps.get_model("financials", "AdjustmentReason")
    for code, label, direction, gl_role, category in REASONS:
        reason.objects.update_or_create(
            code=code,
            defaults={
                "label": label,
                "direction": direction,
                "gl_role": gl_role,
                "line_category": category,
            },
        )
    fee = apps.get_model("financials", "FeeSchedule")
    for kind, amount, rate, minimum, floor, cap in FEES:
        fee.objects.update_or_create(
            kind=kind,
            effective_date=date(2000, 1, 1),
            defaults={
                "amount_cents": amount,
                "rate_basis_points": rate,
                "minimum_past_due_cents": minimum,
                "floor_cents": floor,
                "cap_cents": cap,
            },
        )
    group = apps.get_model("auth", "Group")
    category = apps.get_model("workqueue", "WorkCategory")
    team, _ = group.objects.get_or_create(name="Lead CSR")
    category.objects.update_or_create(
        code="approval",
        defaults={
            "label": "Approve a financial transaction",
            "team": team,
            "default_priority": 2,
            "due_days": 1,
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("financials", "0001_initial"),
        ("workqueue", "0002_categories"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
