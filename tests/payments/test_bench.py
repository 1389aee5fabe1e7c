"""``ohm bench payments`` runs end to end on a small file and ends with one JSON line."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from ohm.payments.models import ImportRun, Payment


@pytest.mark.django_db
def test_the_payments_bench_checks_itself_and_prints_one_json_line(make_staff):
    out, err = io.StringIO(), io.StringIO()

    call_command(
        "bench",
        "payments",
        "--payments",
        "120",
        "--online",
        "5",
        "--ach",
        "30",
        "--check",
        "20",
        stdout=out,
        stderr=err,
    )

    figures = json.loads(out.getvalue().strip().splitlines()[-1])
    assert figures["bench"] == "payments"
    assert figures["payments"] == 120
    assert figures["ach_entries"] == 30
    assert figures["books_balanced"] is True
    assert {"database", "seconds", "online_p95_ms", "ach_seconds"} <= set(figures)
    assert ImportRun.objects.get().reconciled
    assert Payment.objects.count() == 120 + 5
