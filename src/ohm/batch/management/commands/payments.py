"""``ohm payments import|card-janitor|card-settlement``: payments from the CLI.

    ohm payments import FILE --format bai2|lockbox [--channel lockbox|pay_agent|collection_agency]
                             [--layout LAYOUT.json] [--effective-date DATE] [--chunk 10000] [--json]
    ohm payments card-janitor [--older-than SECONDS]
    ohm payments card-settlement FILE [--json]

``import`` reads the whole file first; a bad file is refused with every error (line, field,
value) and nothing posts (exit status 1). The same file imported again posts nothing; a run
that stopped part way resumes from its last whole chunk. The last line printed is the
reconciliation (file totals against posted, unapplied and duplicate items).

``card-janitor`` asks the card processor about every card payment left pending or unknown
(a timeout, a crash) and settles it: posted if the processor charged it, declined if not.

``card-settlement`` reconciles the processor's settlement file with the card payments.
"""

from __future__ import annotations

import getpass
import json
from datetime import date
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ohm.batch import ach_commands
from ohm.batch.progress import ProgressBar
from ohm.core import clock
from ohm.core.audit import SystemActor
from ohm.core.money import format_cents
from ohm.payments import cards, imports
from ohm.payments.lockbox_format import LockboxLayout


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


def _refused(error: ValidationError) -> str:
    if hasattr(error, "message_dict"):
        return "\n".join(
            message for messages in error.message_dict.values() for message in messages
        )
    return "\n".join(error.messages)


class Command(BaseCommand):
    help = "Payments: import bank and lockbox files, settle card payments with no answer."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, parser_class=CommandParser)

        load = sub.add_parser("import", help="Post a BAI2 or lockbox file.")
        load.add_argument("file")
        load.add_argument("--format", required=True, choices=imports.FORMATS, dest="file_format")
        load.add_argument(
            "--channel",
            default="lockbox",
            choices=["lockbox", "pay_agent", "collection_agency"],
            help="Who sent it (pay-agent files use the lockbox layout).",
        )
        load.add_argument("--layout", help="A lockbox layout JSON (docs/formats/lockbox.md).")
        load.add_argument("--effective-date", help="Post on this date (default: deposit date).")
        load.add_argument("--chunk", type=int, default=imports.CHUNK_SIZE)
        load.add_argument("--json", action="store_true", help="Print the result as JSON.")

        janitor = sub.add_parser("card-janitor", help="Settle card payments with no answer.")
        janitor.add_argument(
            "--older-than",
            type=int,
            default=None,
            help="Only payments waiting at least this many seconds (default: the policy's).",
        )

        settlement = sub.add_parser(
            "card-settlement", help="Reconcile the processor's settlement file."
        )
        settlement.add_argument("file")
        settlement.add_argument("--json", action="store_true")
        ach_commands.add_parsers(sub)

    def handle(self, *args, **options):
        action = options["action"]
        if action == "import":
            return self._import(options)
        if action == "card-janitor":
            return self._janitor(options)
        if action == "card-settlement":
            return self._settlement(options)
        if action in ach_commands.ACTIONS:
            return ach_commands.handle(action, options, stdout=self.stdout)
        raise CommandError(f"Unknown action {action}.")  # pragma: no cover - argparse refuses

    def _import(self, options) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No file {path}.")
        layout = None
        if options["layout"]:
            try:
                layout = LockboxLayout.from_json(options["layout"])
            except (OSError, ValueError) as exc:
                raise CommandError(f"Layout {options['layout']}: {exc}") from exc
        try:
            result = imports.import_payment_file(
                content=path.read_bytes(),
                file_name=path.name,
                file_format=options["file_format"],
                channel=options["channel"],
                layout=layout,
                effective_date=_date(options["effective_date"])
                if options["effective_date"]
                else None,
                chunk_size=options["chunk"],
                actor=_actor(),
                at=clock.now(),
                clock=clock.now,
                progress=ProgressBar(),
            )
        except imports.ImportRefused as exc:
            raise CommandError(f"Refused, nothing posted:\n{_refused(exc)}") from exc
        except ValidationError as exc:
            raise CommandError(_refused(exc)) from exc
        run = result.run
        summary = {
            "run": run.pk,
            "file": run.file_name,
            "sha256": run.file_sha256,
            "status": run.status,
            "replayed": result.replayed,
            "items": run.file_item_count,
            "total_cents": run.file_total_cents,
            "posted": run.posted_count,
            "posted_cents": run.posted_cents,
            "unapplied": run.unapplied_count,
            "unapplied_cents": run.unapplied_cents,
            "duplicates": run.duplicate_count,
            "duplicate_cents": run.duplicate_cents,
            "skipped": run.skipped_count,
            "skipped_cents": run.skipped_cents,
            "reconciled": run.reconciled,
        }
        if result.batch is not None and not result.finished:
            summary["stopped"] = result.batch.message
        if options["json"]:
            self.stdout.write(json.dumps(summary))
        else:
            if result.replayed:
                self.stdout.write(
                    f"{run.file_name} was imported before (run {run.pk}): nothing posted."
                )
            for note in run.notes[:20]:
                self.stdout.write(f"  {note}")
            self.stdout.write(
                f"{run.file_name}: {run.file_item_count} items, {format_cents(run.file_total_cents)}; "
                f"posted {run.posted_count} ({format_cents(run.posted_cents)}), "
                f"unapplied {run.unapplied_count} ({format_cents(run.unapplied_cents)}), "
                f"duplicates {run.duplicate_count} ({format_cents(run.duplicate_cents)}); "
                + ("reconciled." if run.reconciled else f"NOT reconciled (status {run.status}).")
            )
        if not result.finished:
            raise CommandError(
                f"The import stopped: {summary.get('stopped', '')}. Run it again to resume."
            )

    def _janitor(self, options) -> None:
        outcome = cards.resolve_unsettled(
            older_than_seconds=options["older_than"],
            actor=SystemActor("card-janitor"),
            clock=clock.now,
        )
        self.stdout.write(
            f"Card payments asked about: {outcome.checked}; posted {outcome.posted}, "
            f"declined {outcome.declined}, still unknown {outcome.still_unknown}."
        )

    def _settlement(self, options) -> None:
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No file {path}.")
        try:
            report = cards.reconcile_settlement(content=path.read_bytes())
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict()))
            return
        for line in report.lines():
            self.stdout.write(line)
