from datetime import date

from django.core.management.base import BaseCommand, CommandError

from ohm.agreements.operations import apply_due_service_changes
from ohm.core import clock
from ohm.core.audit import SystemActor
from ohm.core.localtime import localdate


class Command(BaseCommand):
    help = "Daily roll: service starts and stops dated on or before --as-of (default: today) take effect."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="YYYY-MM-DD, the utility's local date (default: today)")

    def handle(self, *args, as_of=None, **options):
        now = clock.now()
        try:
            as_of_date = date.fromisoformat(as_of) if as_of else localdate(now)
        except ValueError as exc:
            raise CommandError(f"--as-of {as_of!r} is not a date (YYYY-MM-DD).") from exc
        counts = apply_due_service_changes(
            as_of_date=as_of_date, actor=SystemActor("service-roll"), at=now
        )
        self.stdout.write(
            f"{as_of_date}: {counts['started']} starts and {counts['stopped']} stops took effect."
        )
