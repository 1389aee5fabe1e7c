"""``ohm billing run|pdf|deliver|calendar|runs``: bill cycles from the command line.

    ohm billing run --cycle 3 [--as-of 2026-04-06] [--chunk-size 2000]
    ohm billing pdf --bill B000000123 --out bill.pdf
    ohm billing deliver --cycle 3 [--as-of D] --out-dir var/print
    ohm billing calendar --cycle 3 [--year 2026]
    ohm billing runs

``run`` plans the cycle's run for its latest read on or before the as-of date (default:
today) and executes it with a progress bar; if a run for that cycle and read date exists
(killed, failed, or stopped) it resumes it, so every account is billed exactly once.
"""

from __future__ import annotations

import getpass
import sys
from datetime import date
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.module_loading import import_string

from ohm.batch.progress import ProgressBar
from ohm.billing import calendar, presentment, runs
from ohm.billing.models import Bill, BillCycle
from ohm.core import batchrun, clock
from ohm.core.audit import SystemActor
from ohm.core.localtime import localdate
from ohm.core.models import BatchRun
from ohm.payments.scanline import build_scan_line


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"“{value}” is not a date (YYYY-MM-DD).") from exc


def _actor() -> SystemActor:
    try:
        user = getpass.getuser()
    except OSError:
        user = "unknown"
    return SystemActor(f"cli:{user}")


class Command(BaseCommand):
    help = "Bill cycles: run, one bill's PDF, deliver (e-bills and print file), calendar, runs."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=CommandParser)
        run = sub.add_parser("run", help="Bill a cycle (resumes its unfinished run).")
        run.add_argument("--cycle", type=int, required=True)
        run.add_argument("--as-of", type=_date, help="Business date (default: today).")
        run.add_argument("--chunk-size", type=int, default=runs.CHUNK_SIZE)

        pdf = sub.add_parser("pdf", help="One bill as PDF.")
        pdf.add_argument("--bill", required=True, help="Bill number (B…) or id.")
        pdf.add_argument("--out", required=True)

        deliver = sub.add_parser("deliver", help="E-bills and a print file for a cycle's bills.")
        deliver.add_argument("--cycle", type=int, required=True)
        deliver.add_argument("--as-of", type=_date)
        deliver.add_argument("--out-dir", required=True)
        deliver.add_argument(
            "--email-backend",
            help="Django email backend class for e-bills, e.g. django.core.mail.backends.console."
            "EmailBackend to print them (default: the configured mailer: files in var/outbox "
            "unless OHM_SMTP_HOST is set)",
        )

        cal = sub.add_parser("calendar", help="A cycle's read, bill and due dates for a year.")
        cal.add_argument("--cycle", type=int, required=True)
        cal.add_argument("--year", type=int)

        sub.add_parser("runs", help="Recent bill runs and their progress.")

    def handle(self, *args, **options):
        action = options["action"].replace("-", "_")
        try:
            return getattr(self, f"do_{action}")(options)
        except (ValidationError, calendar.NoSuchCycle, runs.CycleNotActive) as error:
            raise CommandError(" ".join(getattr(error, "messages", [str(error)]))) from error

    def do_run(self, options) -> None:
        at = clock.now()
        as_of = options["as_of"] or localdate(at)
        run = runs.plan_bill_run(
            cycle=options["cycle"],
            as_of=as_of,
            actor=_actor(),
            at=at,
            chunk_size=options["chunk_size"],
        )
        verb = "Resuming" if getattr(run, "resumed", False) else "Running"
        p = run.parameters
        self.stdout.write(
            f"{verb} run {run.pk}: cycle {p['cycle']}, read {p['read_date']}, "
            f"bill date {p['bill_date']}, due {p['due_date']}, {run.total_items} accounts"
        )
        if run.status == BatchRun.Status.SUCCEEDED:
            self.stdout.write(f"Already finished: {run.message}")
            return
        run = batchrun.execute_run(run, at=clock.now, progress=ProgressBar(sys.stderr))
        if run.status != BatchRun.Status.SUCCEEDED:
            raise CommandError(f"Run {run.pk} {run.status}: {run.message} (run again to resume)")
        self.stdout.write(f"Run {run.pk} finished: {run.message}")

    def _bill(self, ref: str) -> Bill:
        bill = Bill.objects.filter(number=ref.strip().upper()).first()
        if bill is None and ref.strip().isdigit():
            bill = Bill.objects.filter(pk=int(ref)).first()
        if bill is None:
            raise CommandError(f"No bill {ref}.")
        return bill

    def do_pdf(self, options) -> None:
        bill = self._bill(options["bill"])
        pdf = presentment.bill_pdf(bill, scan_line=build_scan_line)
        Path(options["out"]).write_bytes(pdf)
        self.stdout.write(f"Bill {bill.number}: {len(pdf):,} bytes to {options['out']}")

    def do_deliver(self, options) -> None:
        at = clock.now()
        as_of = options["as_of"] or localdate(at)
        dates = runs.cycle_dates(cycle=options["cycle"], as_of=as_of)
        bills = Bill.objects.filter(
            cycle=dates.cycle, end_date=dates.read_date, status=Bill.Status.ISSUED
        )
        done = presentment.deliver_bills(
            list(bills),
            scan_line=build_scan_line,
            out_dir=Path(options["out_dir"]),
            at=at,
            actor=_actor(),
            batch_name=f"cycle{dates.cycle:02d}-{dates.read_date.isoformat()}",
            email_connection=import_string(options["email_backend"])()
            if options["email_backend"]
            else None,
        )
        self.stdout.write(
            f"{done.emailed} e-bills sent, {done.printed} bills in "
            f"{done.print_file or 'no print file'}"
            + (f" (manifest {done.manifest})" if done.manifest else "")
        )

    def do_calendar(self, options) -> None:
        cycle = BillCycle.objects.filter(number=options["cycle"]).first()
        if cycle is None:
            raise calendar.NoSuchCycle(options["cycle"])
        year = options["year"] or localdate(clock.now()).year
        self.stdout.write(f"Cycle {cycle.number} in {year}:  read        bill        due")
        for row in calendar.calendar_for_year(cycle.rule, year):
            skipped = ", ".join(f"{d:%b %-d} {name}" for d, name in row.skipped)
            self.stdout.write(
                f"  {row.label}          {row.read_date}  {row.bill_date}  {row.due_date}"
                + (f"  (skipped {skipped})" if skipped else "")
            )

    def do_runs(self, options) -> None:
        for run in BatchRun.objects.filter(kind=runs.KIND)[:20]:
            progress = batchrun.get_progress(run)
            self.stdout.write(
                f"run {run.pk:>5} {run.status:<9} {progress.done_items:>7,}/{run.total_items:<7,} "
                f"{run.key}  {run.message[:80]}"
            )
