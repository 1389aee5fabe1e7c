"""``ohm bench``: lists the benchmarks and runs the search benchmark to a JSON line."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

KEYS = {
    "bench",
    "database",
    "accounts",
    "queries",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "reference_mismatches",
}


@pytest.mark.django_db
class TestBenchCommand:
    def test_lists_the_benchmarks_without_a_name(self):
        out = StringIO()

        call_command("bench", stdout=out)

        assert "search" in out.getvalue()

    def test_search_builds_the_demo_and_ends_with_one_json_line(self):
        out = StringIO()

        call_command(
            "bench", "search", "--accounts", "50", "--queries", "40", stdout=out, stderr=StringIO()
        )

        figures = json.loads(out.getvalue().strip().splitlines()[-1])
        assert set(figures) == KEYS
        assert figures["bench"] == "search"
        assert figures["accounts"] == 50
        assert figures["queries"] == 40
        assert figures["reference_mismatches"] == 0
        assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["p99_ms"] <= figures["max_ms"]

    def test_refuses_a_database_with_fewer_accounts_than_asked(self):
        call_command(
            "bench",
            "search",
            "--accounts",
            "20",
            "--queries",
            "5",
            stdout=StringIO(),
            stderr=StringIO(),
        )

        with pytest.raises(CommandError):
            call_command(
                "bench",
                "search",
                "--accounts",
                "40",
                "--queries",
                "5",
                stdout=StringIO(),
                stderr=StringIO(),
            )

    def test_an_unknown_benchmark_is_an_error(self):
        with pytest.raises(CommandError, match="No benchmark"):
            call_command("bench", "nonesuch", stdout=StringIO())
