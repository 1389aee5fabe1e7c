"""``ohm reads SUBCOMMAND``: meter reads in and out.

    ohm reads import FILE --format csv|greenbutton|cmep [--tz ZONE] [--meter SERIAL]
                          [--dry-run] [--replace] [--reprocess]

Exit status of ``import``: 0 when the file loaded (exceptions or not, and when it had been
imported before), 1 when nothing in it could be loaded.

Other subcommands (the exports) live in ``ohm.batch.reads_exports``, so that this file and
that one can change independently: when it exists, its ``add_subcommands(subparsers)`` adds
parsers and gives each ``set_defaults(handler=fn)``; ``fn(command, options) -> int`` runs it
(``command`` is this BaseCommand, for ``stdout``/``stderr``; the int is the exit status).
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ohm.core import clock
from ohm.core.audit import SystemActor
from ohm.metering.ingest.loader import import_reads
from ohm.metering.models import ReadImport

reads_exports: ModuleType | None
try:
    from ohm.batch import reads_exports
except ImportError:
    reads_exports = None


class Command(BaseCommand):
    help = "Meter reads: import a file of interval and register reads (and export them)."

    def add_arguments(self, parser: CommandParser) -> None:
        subparsers = parser.add_subparsers(dest="subcommand", required=True)
        imports = subparsers.add_parser("import", help="Import a file of reads.")
        imports.add_argument("file", type=Path)
        imports.add_argument("--format", required=True, choices=ReadImport.Format.values)
        imports.add_argument(
            "--tz",
            default=None,
            help="Zone of the file's local times (CMEP); default the utility's zone.",
        )
        imports.add_argument(
            "--meter",
            default="",
            help="The meter a Green Button file is for (its serial); required for greenbutton.",
        )
        imports.add_argument(
            "--dry-run", action="store_true", help="Check and count; write nothing."
        )
        imports.add_argument(
            "--replace",
            action="store_true",
            help="New values overwrite stored actual and edited ones (a new version; the old stays).",
        )
        imports.add_argument(
            "--reprocess",
            action="store_true",
            help="Import a file that was imported before (e.g. after adding its missing meters).",
        )
        imports.set_defaults(handler=_import)
        if reads_exports is not None:
            reads_exports.add_subcommands(subparsers)

    def handle(self, *args, **options):
        status = options["handler"](self, options)
        if status:
            raise CommandError(
                f"reads {options['subcommand']}: nothing loaded."
                if options["subcommand"] == "import"
                else f"reads {options['subcommand']} failed.",
                returncode=status,
            )


def _import(command: BaseCommand, options) -> int:
    path: Path = options["file"]
    if not path.is_file():
        raise CommandError(f"No file {path}.")
    try:
        zone = ZoneInfo(options["tz"] or settings.UTILITY_TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CommandError(f"Unknown time zone “{options['tz']}”.") from exc
    try:
        result = import_reads(
            path=path,
            format=options["format"],
            zone=zone,
            meter_serial=options["meter"],
            dry_run=options["dry_run"],
            replace=options["replace"],
            reprocess=options["reprocess"],
            actor=SystemActor("reads import"),
            at=clock.now(),
        )
    except ValidationError as exc:
        raise CommandError(
            " ".join(
                f"--{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items()
            )
        ) from exc
    out = command.stdout
    if result.already_imported is not None:
        previous = result.already_imported
        out.write(
            f"{path.name}: already imported as import #{previous.pk} on {previous.started_at:%Y-%m-%d %H:%M} UTC; nothing changed (use --reprocess to run it again)."
        )
        return 0
    if result.dry_run:
        heading = "Dry run (nothing written)"
    else:
        assert result.read_import is not None  # a real run always records its import
        heading = f"Import #{result.read_import.pk}"
    out.write(f"{heading}: {path.name} ({options['format']})")
    out.write(f"  records read         {result.records_read}")
    out.write(f"  intervals loaded     {result.intervals_loaded}")
    out.write(f"  days inserted        {result.days['inserted']}")
    out.write(f"  days versioned       {result.days['versioned']}")
    out.write(f"  days unchanged       {result.days['unchanged']}")
    out.write(f"  register reads       {result.register_reads_loaded}")
    exceptions = result.exceptions_by_code()
    out.write(f"  exceptions           {sum(exceptions.values())}")
    for code, count in exceptions.most_common():
        out.write(f"    {code:<20} {count}")
    for code, count in result.notes_by_code().most_common():
        out.write(f"  notes ({code})  {count} (loaded)")
    shown = [p for p in result.problems if not p.loaded][:20]
    for problem in shown:
        where = f"line {problem.line}" if problem.line else "file"
        out.write(f"  {path.name}:{where}: {problem.reason}")
    if len(shown) < sum(exceptions.values()):
        out.write(f"  … {sum(exceptions.values()) - len(shown)} more (see the import's exceptions)")
    return 0 if result.loaded else 1
