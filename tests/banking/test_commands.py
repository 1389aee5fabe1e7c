"""``ohm payments ach-export`` and ``ohm payments ach-returns``."""

from __future__ import annotations

import io

import achkit
import pytest
from django.core.management import CommandError, call_command

from ohm.banking import ach, nacha
from ohm.banking.models import AchFile, AchReturnImport
from ohm.core import clock
from ohm.ledger.models import JournalEntry
from tests.banking.conftest import BUILD_AT, DUE, returns_file
from tests.shared_data import SHARED


@pytest.fixture(autouse=True)
def frozen():
    with clock.frozen_at(BUILD_AT):
        yield


def run(*args) -> str:
    out = io.StringIO()
    call_command("payments", *args, stdout=out)
    return out.getvalue()


class TestAchExport:
    def test_writes_a_valid_file_that_awaits_release(self, billed, tmp_path):
        out = tmp_path / "ach.txt"

        printed = run("ach-export", "--date", DUE.isoformat(), "--out", str(out))

        text = out.read_text()
        assert achkit.validate(text)["ok"]
        assert nacha.parse(text).debit_cents == 120_00
        assert "awaits release" in printed
        assert AchFile.objects.get().status == AchFile.Status.BUILT

    def test_run_again_writes_the_same_file_and_builds_nothing(self, billed, tmp_path):
        run("ach-export", "--date", DUE.isoformat(), "--out", str(tmp_path / "a"))

        printed = run("ach-export", "--date", DUE.isoformat(), "--out", str(tmp_path / "b"))

        assert "Nothing new" in printed
        assert (tmp_path / "a").read_text() == (tmp_path / "b").read_text()
        assert AchFile.objects.count() == 1

    def test_nothing_due_is_an_error(self, db, tmp_path):
        with pytest.raises(CommandError, match="Nothing to send"):
            run("ach-export", "--date", DUE.isoformat(), "--out", str(tmp_path / "a"))
        with pytest.raises(CommandError, match="not a date"):
            run("ach-export", "--date", "20-03-2026", "--out", str(tmp_path / "a"))


class TestAchReturns:
    def test_posts_returns_and_reimport_changes_nothing(self, billed, tmp_path, make_staff):
        ach_file = ach.build_export(
            due_date=DUE, actor=make_staff("billing_analyst", "b"), at=BUILD_AT
        )
        ach.release_file(ach_file=ach_file, actor=make_staff("supervisor", "s"), at=BUILD_AT)
        path = tmp_path / "returns.ach"
        path.write_bytes(returns_file([(ach_file.entries.get(), "R01")]))

        first = run("ach-returns", str(path))
        entries = JournalEntry.objects.count()
        second = run("ach-returns", str(path))

        assert "R01 Insufficient funds" in first
        assert "nothing changed" in second
        assert JournalEntry.objects.count() == entries
        assert AchReturnImport.objects.count() == 1

    def test_refuses_an_invalid_sample_file_with_line_and_field(self, db):
        sample = SHARED / "data" / "nacha" / "moov-testdata" / "pos-invalidReturnFile.ach"

        with pytest.raises(CommandError, match="line 4, addenda return reason code: “R96”"):
            run("ach-returns", str(sample))
        assert AchReturnImport.objects.count() == 0
