"""``ohm demo --accounts N --seed S [--as-of YYYY-MM-DD]``: load the demo utility."""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ohm.batch.demo import DEMO_PASSWORD, DEMO_STAFF, DemoDatabaseNotEmpty, build_demo_utility
from ohm.batch.demo_billing import build_demo_bills
from ohm.batch.demo_extras import build_demo_meter_data
from ohm.batch.demo_ledger import build_demo_financial_history
from ohm.batch.demo_payments import build_demo_payments
from ohm.batch.progress import ProgressBar
from ohm.core import clock
from ohm.core.localtime import localdate
from ohm.core.permissions import ROLE_BY_SLUG


def parse_as_of(value: str | None) -> date:
    if not value:
        return localdate(clock.now())
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"--as-of: “{value}” is not a date (YYYY-MM-DD).") from exc


def describe_database() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"SQLite {db['NAME']}"
    return f"PostgreSQL {db.get('NAME')} on {db.get('HOST') or 'localhost'}"


def logins_text() -> str:
    lines = [f"Demo staff logins (password for all: {DEMO_PASSWORD}):"]
    for slug, username in DEMO_STAFF:
        lines.append(f"  {username:<13} {ROLE_BY_SLUG[slug].name}")
    return "\n".join(lines)


def summary_text(summary) -> str:
    classes = ", ".join(
        f"{count:,} {name.replace('_', ' ')}" for name, count in sorted(summary.by_class.items())
    )
    statuses = ", ".join(f"{count:,} {name}" for name, count in sorted(summary.by_status.items()))
    return (
        f"Port Marisol Municipal Power: {summary.accounts:,} accounts ({classes}; {statuses}), "
        f"{summary.persons:,} persons, {summary.premises:,} premises, {summary.meters:,} meters, "
        f"{summary.agreements:,} agreements, {summary.alerts:,} alerts, {summary.interactions:,} interactions, "
        f"{summary.work_items:,} work items — built in {summary.seconds:.1f} s (seed {summary.seed}, as of {summary.as_of})."
    )


class Command(BaseCommand):
    help = "Build the demo utility (Port Marisol Municipal Power) into an empty database."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--accounts", type=int, default=35_000, help="How many accounts (default 35000)."
        )
        parser.add_argument(
            "--seed", type=int, default=1, help="The same seed builds the same city (default 1)."
        )
        parser.add_argument(
            "--interval-meters",
            dest="interval_meters",
            type=int,
            default=300,
            help="How many AMI meters get 13 months of interval data (default 300; 0 for none).",
        )
        parser.add_argument(
            "--no-history",
            dest="history",
            action="store_false",
            help="Leave out the year of bills, payments and fees on the books.",
        )
        parser.add_argument(
            "--as-of",
            dest="as_of",
            default=None,
            help="The demo's today, YYYY-MM-DD (default: today).",
        )

    def handle(self, *args, **options):
        accounts = options["accounts"]
        if accounts < 1:
            raise CommandError("--accounts must be at least 1.")
        as_of = parse_as_of(options["as_of"])
        self.stdout.write(
            f"Building the demo utility into {describe_database()}: {accounts:,} accounts, seed {options['seed']}, as of {as_of}."
        )
        try:
            summary = build_demo_utility(
                accounts=accounts,
                seed=options["seed"],
                as_of=as_of,
                progress=ProgressBar(self.stderr._out),
            )
        except DemoDatabaseNotEmpty as exc:
            raise CommandError(
                f"{exc} Use a fresh database: remove var/ohm.sqlite3 (or set OHM_VAR_DIR / DATABASE_URL to a new one) and run `ohm migrate` first."
            ) from exc
        self.stdout.write(summary_text(summary))
        if options["history"]:
            books = build_demo_financial_history(
                as_of=as_of, seed=options["seed"], progress=ProgressBar(self.stderr._out)
            )
            self.stdout.write(
                f"Books: {books.entries:,} journal entries for {books.accounts:,} accounts "
                f"({books.owing:,} owing, {books.credit:,} in credit) in {books.seconds:.1f} s."
            )
            cash = build_demo_payments(as_of=as_of, seed=options["seed"])
            self.stdout.write(
                f"Payments: {cash.payments:,} (drawers, a lockbox file, cards), {cash.unapplied} unapplied."
            )
        if options["interval_meters"] > 0:
            reads = build_demo_meter_data(
                count=options["interval_meters"], seed=options["seed"], as_of=as_of
            )
            self.stdout.write(
                f"Meter data: 13 months of intervals for {reads.get('meters', 0):,} meters in {reads.get('seconds', 0):.1f} s."
            )
            bills = build_demo_bills(
                as_of=as_of, seed=options["seed"], progress=ProgressBar(self.stderr._out)
            )
            self.stdout.write(
                f"Bills: {bills.issued:,} issued and {bills.held:,} held for {bills.accounts:,} "
                f"accounts, {bills.rebilled} rebilled, in {bills.seconds:.1f} s."
            )
        self.stdout.write(logins_text())
