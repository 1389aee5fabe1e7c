"""``ohm payments ach-export`` and ``ohm payments ach-returns``: ACH files from the CLI.

    ohm payments ach-export --date DATE --out FILE [--no-prenotes] [--no-refunds]
    ohm payments ach-returns FILE [--json]

``ach-export`` builds the NACHA file for the due date DATE (the debits of amounts due that
day, waiting prenotes, approved ACH refunds) and writes it to FILE. The file is *built*, not
sent: a second person releases it in the console (Banking → ACH files) before it goes to
the bank, and only then do its debits post as payments. Run again for the same date, it
builds nothing new (each debit goes in one file, ever) and writes the file still awaiting
release, if there is one.

``ach-returns`` posts the bank's returns and notifications-of-change file. A file that breaks
a NACHA rule, or names a trace number Ohm never sent, is refused whole (exit status 1) with
the line, field and value; the same file again changes nothing.

The ``payments`` command (``ohm.batch.management.commands.payments``) wires these in with
``add_parsers`` and ``handle``.
"""

from __future__ import annotations

import getpass
import json
from datetime import date
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from ohm.banking import ach, nacha
from ohm.banking.models import AchFile
from ohm.core import clock
from ohm.core.audit import SystemActor
from ohm.core.money import format_cents

ACTIONS = ("ach-export", "ach-returns")


def add_parsers(sub) -> None:
    export = sub.add_parser("ach-export", help="Build the ACH file for a due date.")
    export.add_argument("--date", required=True, help="The due date (YYYY-MM-DD).")
    export.add_argument("--out", required=True, help="Where to write the NACHA file.")
    export.add_argument("--no-prenotes", action="store_true", help="Leave prenotes out.")
    export.add_argument("--no-refunds", action="store_true", help="Leave ACH refunds out.")
    returns = sub.add_parser("ach-returns", help="Post a returns / NOC file from the bank.")
    returns.add_argument("file")
    returns.add_argument("--json", action="store_true", help="Print the result as JSON.")


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
        return "\n".join(m for messages in error.message_dict.values() for m in messages)
    return "\n".join(error.messages)


def handle(action: str, options: dict, *, stdout) -> None:
    if action == "ach-export":
        export(options, stdout=stdout)
    elif action == "ach-returns":
        import_returns(options, stdout=stdout)
    else:  # pragma: no cover - argparse allows only ACTIONS
        raise CommandError(f"Unknown ACH action {action}.")


def export(options: dict, *, stdout) -> AchFile:
    due = _date(options["date"])
    out = Path(options["out"])
    try:
        ach_file = ach.build_export(
            due_date=due,
            actor=_actor(),
            at=clock.now(),
            prenotes=not options.get("no_prenotes"),
            refunds=not options.get("no_refunds"),
        )
        built = True
    except ach.NothingToSend as exc:
        waiting = AchFile.objects.filter(effective_date=due, status=AchFile.Status.BUILT).first()
        if waiting is None:
            raise CommandError(_refused(exc)) from exc
        ach_file, built = waiting, False
    out.write_text(ach_file.content, encoding="ascii")
    verb = "Built" if built else "Nothing new; wrote the file already"
    stdout.write(
        f"{verb} {ach_file.file_name}: {ach_file.entry_count} entries "
        f"({ach_file.prenote_count} prenotes), debits {format_cents(ach_file.debit_cents)}, "
        f"credits {format_cents(ach_file.credit_cents)} → {out}\n"
        f"It awaits release by a second person: /console/banking/ach/{ach_file.pk}/\n"
    )
    return ach_file


def import_returns(options: dict, *, stdout) -> None:
    path = Path(options["file"])
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CommandError(f"Cannot read {path}: {exc.strerror}.") from exc
    try:
        result = ach.import_returns(data=data, file_name=path.name, actor=_actor(), at=clock.now())
    except nacha.NachaError as exc:
        raise CommandError(f"{path.name} refused, nothing posted — {exc}") from exc
    except ValidationError as exc:
        raise CommandError(f"{path.name} refused, nothing posted — {_refused(exc)}") from exc
    imported = result.imported
    if options.get("json"):
        stdout.write(
            json.dumps(
                {
                    "file": imported.file_name,
                    "sha256": imported.sha256,
                    "replayed": result.replayed,
                    "returns": imported.return_count,
                    "changes": imported.change_count,
                    "returned_cents": imported.returned_cents,
                    "items": [
                        {"code": i.code, "trace": i.original_trace, "outcome": i.outcome}
                        for i in result.items
                    ],
                }
            )
            + "\n"
        )
        return
    if result.replayed:
        stdout.write(
            f"{path.name} was imported on {imported.imported_at:%Y-%m-%d}: nothing changed.\n"
        )
        return
    for item in result.items:
        stdout.write(f"{item.original_trace} {item.outcome}\n")
    stdout.write(
        f"{imported.return_count} returns ({format_cents(imported.returned_cents)}), "
        f"{imported.change_count} notifications of change.\n"
    )
