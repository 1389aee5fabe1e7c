"""``ohm up``: what ``make run`` runs. Migrate, load the demo into an empty database, then
run the web server and the task worker until Ctrl-C.

The servers are child processes (gunicorn, ``ohm db_worker`` and ``ohm schedule --loop``). Ctrl-C or SIGTERM
stops both; if either dies on its own, the other is stopped and ``ohm up`` exits non-zero.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ohm.batch.demo import ensure_staff_users
from ohm.batch.management.commands.demo import (
    describe_database,
    logins_text,
)
from ohm.customers.models import Account

STOP_GRACE_SECONDS = 10


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(
        socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM
    ) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise CommandError(
                f"Cannot listen on {host}:{port} ({exc.strerror}): is Ohm already running? Choose another with --port."
            ) from exc


class Command(BaseCommand):
    help = (
        "Migrate, load the demo if the database is empty, and run the web server and task worker."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--demo-accounts",
            type=int,
            default=35_000,
            help="Accounts in the demo when the database is empty (default 35000).",
        )
        parser.add_argument(
            "--demo-seed", type=int, default=1, help="Seed of the demo (default 1)."
        )
        parser.add_argument(
            "--host", default="127.0.0.1", help="Address to listen on (default 127.0.0.1)."
        )
        parser.add_argument(
            "--port", type=int, default=8000, help="Port to listen on (default 8000)."
        )
        parser.add_argument(
            "--workers", type=int, default=2, help="Web server worker processes (default 2)."
        )
        parser.add_argument(
            "--no-demo", action="store_true", help="Do not load the demo into an empty database."
        )

    def handle(self, *args, **options):
        if options["demo_accounts"] < 1:
            raise CommandError("--demo-accounts must be at least 1.")
        self.stdout.write(f"Database: {describe_database()}")
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Migrations applied.")
        if not options["no_demo"] and not Account.objects.exists():
            self.stdout.write(
                f"The database is empty: building the demo utility ({options['demo_accounts']:,} accounts, seed {options['demo_seed']})…"
            )
            call_command(
                "demo",
                accounts=options["demo_accounts"],
                seed=options["demo_seed"],
                stdout=self.stdout,
                stderr=self.stderr,
            )
        else:
            ensure_staff_users()
        return self.serve(options)

    def serve(self, options) -> None:
        host, port = options["host"], options["port"]
        _check_port_free(host, port)
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "ohm.settings"),
        }
        web = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "ohm.wsgi:application",
                "--bind",
                f"{host}:{port}",
                "--workers",
                str(options["workers"]),
                "--access-logfile",
                "-",
            ],
            env=env,
        )
        worker = subprocess.Popen(
            [sys.executable, "-m", "ohm.cli", "db_worker", "--no-reload"], env=env
        )
        scheduler = subprocess.Popen(
            [sys.executable, "-m", "ohm.cli", "schedule", "--loop"], env=env
        )
        children = {"web server": web, "task worker": worker, "scheduler": scheduler}

        stopping = {"signal": None}

        def request_stop(signum, frame):
            stopping["signal"] = signum

        previous = {
            sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        base = f"http://{host}:{port}"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"Ohm is running at {base}/",
                    f"  CSR console:    {base}/console/",
                    f"  Administration: {base}/admin/   (user admin)",
                    f"  API:            {base}/api/docs",
                    logins_text(),
                    "The customer portal (and its demo logins) arrives with the portal issue.",
                    "Press Ctrl-C to stop.",
                    "",
                ]
            )
        )
        died = None
        try:
            while stopping["signal"] is None:
                for name, child in children.items():
                    if child.poll() is not None:
                        died = (name, child.returncode)
                        break
                if died:
                    break
                time.sleep(0.3)
        finally:
            self._stop(children)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if died:
            raise CommandError(
                f"The {died[0]} stopped unexpectedly (exit status {died[1]}); stopped the rest.",
                returncode=1,
            )
        self.stdout.write("Stopped.")

    def _stop(self, children: dict[str, subprocess.Popen]) -> None:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
