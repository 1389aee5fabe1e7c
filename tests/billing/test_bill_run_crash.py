"""The bill run killed with SIGKILL in the middle of a chunk (its bills, lines and journal
entries written but not committed), and started again, bills every account exactly once and
leaves the books balanced."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.core.test_batchrun_crash import worker_env  # noqa: F401  (the fixture)

WORKER = Path(__file__).with_name("billrun_worker.py")


def _call(env, *args: str, timeout: int = 300) -> dict:
    done = subprocess.run(
        [sys.executable, str(WORKER), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


class TestBillRunKilledMidChunk:
    def test_restart_bills_every_account_exactly_once(self, worker_env, tmp_path):  # noqa: F811
        accounts = 30
        _call(worker_env, "setup", f"--accounts={accounts}")
        marker = tmp_path / "stalled"
        first = subprocess.Popen(
            [
                sys.executable,
                str(WORKER),
                "run",
                "--chunk-size=7",
                "--stall-in-chunk=2",
                f"--marker={marker}",
            ],
            env=worker_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 300
        while not marker.exists():
            assert first.poll() is None, first.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the bill run never reached the stall"
            time.sleep(0.05)

        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)

        after_kill = _call(worker_env, "report")
        assert after_kill["bills"] == 14  # chunks 0 and 1 committed; chunk 2 vanished
        assert after_kill["balanced"] is True
        assert _call(worker_env, "run", "--chunk-size=7")["status"] == "succeeded"
        final = _call(worker_env, "report")
        assert final["live_bills"] == [1]
        assert final["bills"] == accounts
        assert final["ledger_minus_bills"] == [0]
        assert final["balanced"] is True
