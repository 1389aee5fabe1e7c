"""The architecture's two mechanical rules: layers (import-linter) and no clock in domain code."""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_APPS = [
    "core",
    "customers",
    "premises",
    "metering",
    "rates",
    "agreements",
    "search",
    "workqueue",
]
CLOCK_READS = re.compile(r"\b(timezone\.now|datetime\.now|datetime\.utcnow|date\.today)\(")
# The one module allowed to read the clock, for the interfaces.
ALLOWED = {ROOT / "src/ohm/core/clock.py"}


class TestLayers:
    def test_import_linter_contracts_hold(self):
        lint_imports = ROOT / ".venv/bin/lint-imports"
        if not lint_imports.exists():
            pytest.skip("lint-imports is not installed in .venv")

        result = subprocess.run(
            [str(lint_imports)], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
        )

        assert result.returncode == 0, result.stdout + result.stderr


class TestDomainCodeNeverReadsTheClock:
    def test_no_domain_module_reads_the_clock(self):
        offenders = []
        for app in DOMAIN_APPS:
            for path in sorted((ROOT / "src/ohm" / app).rglob("*.py")):
                if path in ALLOWED:
                    continue
                for number, line in enumerate(path.read_text().splitlines(), start=1):
                    if CLOCK_READS.search(line.split("#", 1)[0]):
                        offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")

        assert offenders == [], "domain code reads the clock:\n" + "\n".join(offenders)

    def test_the_check_recognizes_each_way_of_reading_the_clock(self):
        for line in [
            "x = timezone.now()",
            "datetime.now(tz=UTC)",
            "date.today()",
            "datetime.utcnow()",
        ]:
            assert CLOCK_READS.search(line), line
        assert not CLOCK_READS.search("clock.now()")
