"""A run killed with SIGKILL in the middle of a chunk, and started again, processes every item
exactly once: the half-written chunk's work vanished with its transaction."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("batchrun_worker.py")
OHM = ROOT / ".venv" / "bin" / "ohm"


@pytest.fixture
def worker_env(tmp_path):
    """Environment for worker processes pointing at a real database they share, migrated for
    this test: a file on SQLite (the suite's own is in memory), a database of its own on
    PostgreSQL (the suite's test database lives inside one transaction per test)."""
    env = dict(os.environ)
    database = settings.DATABASES["default"]
    env["PYTHONPATH"] = str(ROOT / "src")
    if database["ENGINE"].endswith("postgresql"):
        import psycopg

        name = database["NAME"].removeprefix("test_") + "_batchcrash"
        server = {
            "host": database.get("HOST") or "127.0.0.1",
            "port": database.get("PORT") or 5432,
            "user": database.get("USER") or "postgres",
        }
        with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = (
            f"postgres://{server['user']}@{server['host']}:{server['port']}/{name}"
        )
        subprocess.run([str(OHM), "migrate", "-v0"], env=env, check=True, timeout=600)
        yield env
        with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    env.pop("DATABASE_URL", None)
    env["OHM_VAR_DIR"] = str(tmp_path / "var")
    subprocess.run([str(OHM), "migrate", "-v0"], env=env, check=True, timeout=600)
    yield env


def _worker(env, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _report(env) -> dict:
    done = subprocess.run(
        [sys.executable, str(WORKER), "report"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


class TestKilledMidChunk:
    def test_restart_processes_every_item_exactly_once(self, worker_env, tmp_path):
        marker = tmp_path / "stalled"
        items, chunk_size, stall = 40, 7, 3
        first = _worker(
            worker_env,
            "run",
            f"--items={items}",
            f"--chunk-size={chunk_size}",
            f"--stall-in-chunk={stall}",
            f"--marker={marker}",
        )
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert first.poll() is None, first.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the worker never reached the stall"
            time.sleep(0.05)

        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)

        after_kill = _report(worker_env)
        assert after_kill["status"] == "running"
        assert sorted(int(k) for k in after_kill["counts"]) == list(range(stall * chunk_size))
        second = _worker(worker_env, "run", f"--items={items}", f"--chunk-size={chunk_size}")
        _out, err = second.communicate(timeout=120)
        assert second.returncode == 0, err
        final = _report(worker_env)
        assert final["status"] == "succeeded"
        assert final["counts"] == {str(item): 1 for item in range(items)}
