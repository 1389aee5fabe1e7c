import io
import json

import pytest
from django.core.management import call_command

from ohm.ledger.queries import check_books


@pytest.mark.django_db
class TestLedgerBench:
    def test_a_tiny_run_checks_itself_and_ends_with_the_json_line(self):
        out = io.StringIO()

        call_command(
            "bench",
            "ledger",
            "--entries",
            "300",
            "--accounts",
            "12",
            "--chunk",
            "64",
            "--queries",
            "5",
            "--check",
            "5",
            stdout=out,
            stderr=io.StringIO(),
        )

        figures = json.loads(out.getvalue().strip().splitlines()[-1])
        assert figures["bench"] == "ledger"
        assert figures["entries"] == 300
        assert figures["entries_per_second"] > 0
        assert figures["balance_query_ms"] > 0
        assert "MISMATCH" not in out.getvalue()
        assert check_books().balanced
