"""An import killed with SIGKILL part way and started again (the same command, the same file)
posts every item exactly once: the chunks that committed stay, the one being written vanishes
with its transaction, and the rest are posted by the restart."""

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
WORKER = Path(__file__).with_name("import_worker.py")
OHM = ROOT / ".venv" / "bin" / "ohm"
ACCOUNTS = 6000
TOTAL_CENTS = sum(1_00 + i for i in range(ACCOUNTS))


@pytest.fixture
def worker_env(tmp_path):
    """A real database shared by the worker processes: a file on SQLite, a database of its
    own on PostgreSQL (the suite's test database lives inside one transaction per test)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src")
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("postgresql"):
        import psycopg

        name = database["NAME"].removeprefix("test_") + "_paycrash"
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
        subprocess.run(
            [str(OHM), "migrate", "-v0", "--skip-checks"], env=env, check=True, timeout=600
        )
        yield env
        with psycopg.connect(dbname="postgres", autocommit=True, **server) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    env.pop("DATABASE_URL", None)
    env["OHM_VAR_DIR"] = str(tmp_path / "var")
    subprocess.run([str(OHM), "migrate", "-v0", "--skip-checks"], env=env, check=True, timeout=600)
    yield env


def _run(env, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(WORKER), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _chunks_done(env) -> int:
    """Chunks committed so far, read straight from the workers' database (fast enough to
    catch the import in the middle)."""
    sql = "SELECT COUNT(*) FROM core_batchchunk WHERE status = 'done'"
    if "DATABASE_URL" in env:
        import psycopg

        with psycopg.connect(env["DATABASE_URL"].replace("postgres://", "postgresql://")) as db:
            return db.execute(sql).fetchone()[0]
    import sqlite3

    with sqlite3.connect(Path(env["OHM_VAR_DIR"]) / "ohm.sqlite3", timeout=5) as db:
        try:
            return db.execute(sql).fetchone()[0]
        except sqlite3.OperationalError:
            return 0


@pytest.mark.django_db
def test_an_import_killed_mid_file_and_restarted_posts_every_item_once(worker_env, tmp_path):
    path = tmp_path / "lockbox.txt"
    setup = _run(worker_env, "setup", "--accounts", str(ACCOUNTS), "--out", str(path))
    assert setup.returncode == 0, setup.stderr

    process = subprocess.Popen(
        [sys.executable, str(WORKER), "import", str(path), "--chunk", "50"],
        env=worker_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while _chunks_done(worker_env) < 3 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    killed_while_running = process.poll() is None
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    partial = json.loads(_run(worker_env, "report", str(path)).stdout)

    restarted = _run(worker_env, "import", str(path), "--chunk", "100")
    final = json.loads(_run(worker_env, "report", str(path)).stdout)
    again = _run(worker_env, "import", str(path), "--chunk", "100")
    after_again = json.loads(_run(worker_env, "report", str(path)).stdout)

    assert killed_while_running, "the import finished before it could be killed"
    assert partial["payments"] % 50 == 0, "a chunk was half written"
    assert 150 <= partial["payments"] < ACCOUNTS
    assert partial["books_balanced"]
    assert restarted.returncode == 0, restarted.stderr
    assert final == {
        "payments": ACCOUNTS,
        "cents": TOTAL_CENTS,
        "doubled": 0,
        "wrong_balances": 0,
        "status": "done",
        "reconciled": True,
        "books_balanced": True,
    }
    assert "imported before" in again.stdout
    assert after_again == final
