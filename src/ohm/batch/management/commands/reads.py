"""``ohm reads SUBCOMMAND``: meter reads in and out.

    ohm reads import FILE --format csv|greenbutton|cmep [--tz ZONE] [--meter SERIAL]
                          [--dry-run] [--replace] [--reprocess] [--no-vee]
    ohm reads vee [--meter SERIAL] [--start DATE --end DATE]

``import`` validates every channel-day the file brings in as it stores them (the import's
vectorized checks: negatives, spikes against history, zero runs, gaps); then each channel with
a finding or a gap goes through VEE (``run_vee``: estimation and the other rules), which raises
the findings — the import's and its own — as work items, each exception once. Channels with
nothing found are not looked at again (at ~18 ms a channel that would be half an hour for
100,000 meters); ``ohm reads vee`` checks them all. ``vee`` runs VEE on demand over local days ``[start, end)`` (default:
yesterday) for one meter or for every channel with intervals in the period. Both print what
VEE did — channel-days checked, intervals estimated, exceptions raised as work items — and a
progress bar on long runs.

Exit status of ``import``: 0 when the file loaded (exceptions or not, and when it had been
imported before), 1 when nothing in it could be loaded.

Other subcommands (the exports) live in ``ohm.batch.reads_exports``, so that this file and
that one can change independently: when it exists, its ``add_subcommands(subparsers)`` adds
parsers and gives each ``set_defaults(handler=fn)``; ``fn(command, options) -> int`` runs it
(``command`` is this BaseCommand, for ``stdout``/``stderr``; the int is the exit status).
"""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ohm.agreements.queries import account_for_service_point
from ohm.batch.progress import ProgressBar
from ohm.core import clock
from ohm.core.audit import SystemActor
from ohm.core.localtime import localdate, start_of_day
from ohm.metering.ingest.checks import DayFinding
from ohm.metering.ingest.loader import import_reads
from ohm.metering.models import IntervalDay, Meter, MeterChannel, Quality, ReadImport
from ohm.metering.store import DayBlock
from ohm.metering.vee_operations import RULE_LABELS, VeeReport, findings_from_import, run_vee

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
        imports.add_argument(
            "--no-vee",
            dest="vee",
            action="store_false",
            help="Store the reads without running VEE over them (run `ohm reads vee` later).",
        )
        imports.set_defaults(handler=_import)
        checks = subparsers.add_parser(
            "vee", help="Validate and estimate stored intervals; raise exceptions as work items."
        )
        checks.add_argument("--meter", default="", help="Only this meter (its serial).")
        checks.add_argument("--start", type=_date, default=None, help="First local day")
        checks.add_argument(
            "--end", type=_date, default=None, help="Day after the last (default: start + 1)"
        )
        checks.set_defaults(handler=_vee)
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


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from exc


class _Scope:
    """What an import stores, seen chunk by chunk through ``before_store``: per channel, the
    span from its first to its last interval present in the file (epoch seconds)."""

    def __init__(self) -> None:
        self.spans: dict[int, tuple[int, int]] = {}

    def __call__(self, block: DayBlock) -> DayBlock:
        present = block.flags != Quality.MISSING
        rows = np.flatnonzero(present.any(axis=1))
        if not len(rows):
            return block
        n = present.shape[1]
        step = block.interval_minutes * 60
        first = np.argmax(present[rows], axis=1)
        last = n - 1 - np.argmax(present[rows, ::-1], axis=1)
        base = block.day_numbers[rows].astype(np.int64) * 86_400
        starts, ends = base + first * step, base + (last + 1) * step
        for channel_id, start, end in zip(
            block.channel_ids[rows].tolist(), starts.tolist(), ends.tolist(), strict=True
        ):
            old = self.spans.get(channel_id)
            self.spans[channel_id] = (min(start, old[0]), max(end, old[1])) if old else (start, end)
        return block


def run_vee_over(
    command: BaseCommand,
    ranges: dict[int, tuple[datetime, datetime]],
    *,
    actor,
    at,
    imported: list[DayFinding] | None = None,
) -> VeeReport:
    """VEE over each channel's ``[start_at, end_at)``; channels with the same span go
    together. ``imported``: an import's findings on these channels, raised with VEE's own.
    Progress on stderr."""
    ids = sorted(ranges)
    channels = {
        c.pk: c
        for lo in range(0, len(ids), 5000)
        for c in MeterChannel.objects.filter(pk__in=ids[lo : lo + 5000]).select_related("meter")
    }
    groups: dict[tuple[datetime, datetime], list[MeterChannel]] = {}
    for channel_id, span in sorted(ranges.items()):
        if channel_id in channels:
            groups.setdefault(span, []).append(channels[channel_id])
    total = sum(len(members) for members in groups.values())
    found = findings_from_import(imported or [], channels)
    bar = ProgressBar(getattr(command.stderr, "_out", None))
    report, done = VeeReport(), 0

    def step(base: int):
        return lambda finished, _: bar("VEE", base + finished, total)

    for (start_at, end_at), members in sorted(groups.items()):
        report.merge(
            run_vee(
                channels=members,
                start_at=start_at,
                end_at=end_at,
                actor=actor,
                at=at,
                account_lookup=account_for_service_point,
                progress=step(done),
                imported={c.pk: found[c.pk] for c in members if c.pk in found},
            )
        )
        done += len(members)
    return report


def write_vee_report(out, report: VeeReport) -> None:
    out.write(
        f"VEE: {report.days_checked:,} channel-days checked on {report.channels_checked:,} channels"
    )
    out.write(f"  intervals estimated  {report.estimated_intervals}")
    out.write(f"  left missing         {report.unestimated_intervals}")
    out.write(f"  exceptions raised    {len(report.exceptions)}")
    for rule, count in report.raised_by_rule().items():
        out.write(f"    {rule:<20} {count}  ({RULE_LABELS.get(rule, rule)})")
    if report.already_raised:
        out.write(f"  already raised       {report.already_raised} (found again; not raised twice)")
    if report.work_items:
        shown = " ".join(f"#{item.pk}" for item in report.work_items[:20])
        more = len(report.work_items) - 20
        out.write(f"  work items           {shown}{f' … {more} more' if more > 0 else ''}")


def _vee(command: BaseCommand, options) -> int:
    now = clock.now()
    start = options["start"] or localdate(now) - timedelta(days=1)
    end = options["end"] or start + timedelta(days=1)
    if end <= start:
        command.stderr.write("--end must be after --start (the end day is not included).")
        return 2
    start_at, end_at = start_of_day(start), start_of_day(end)
    first, last = start_at.date(), (end_at - timedelta(microseconds=1)).date()
    # Channels with intervals stored in the period: a channel that never reports (the
    # received channel of a meter without solar) has nothing to validate.
    stored = IntervalDay.objects.filter(is_current=True, day__gte=first, day__lte=last)
    if options["meter"]:
        serial = options["meter"].strip().upper()
        meter = Meter.objects.filter(serial=serial).first()
        if meter is None:
            command.stderr.write(f"--meter: no meter {serial}.")
            return 1
        stored = stored.filter(channel__meter=meter)
    channel_ids = stored.values_list("channel_id", flat=True).distinct()
    ranges = {pk: (start_at, end_at) for pk in channel_ids}
    command.stdout.write(
        f"VEE over {start} to {end - timedelta(days=1)} (local days; UTC days {first} to {last}) for {len(ranges):,} channels."
    )
    report = run_vee_over(command, ranges, actor=SystemActor("reads vee"), at=now)
    write_vee_report(command.stdout, report)
    return 0


def _import(command: BaseCommand, options) -> int:
    path: Path = options["file"]
    if not path.is_file():
        raise CommandError(f"No file {path}.")
    try:
        zone = ZoneInfo(options["tz"] or settings.UTILITY_TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CommandError(f"Unknown time zone “{options['tz']}”.") from exc
    scope = _Scope()
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
            before_store=scope,
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
    if options["vee"] and not result.dry_run and scope.spans:
        # Each channel with a finding (a gap among them) over the span the file covered.
        at_fault = {f.channel_id for f in result.vee_findings}
        ranges = {
            channel_id: (datetime.fromtimestamp(lo, UTC), datetime.fromtimestamp(hi, UTC))
            for channel_id, (lo, hi) in scope.spans.items()
            if channel_id in at_fault
        }
        out.write(
            f"VEE at import: {len(scope.spans):,} channels checked, {len(ranges):,} with findings or gaps (estimated and raised as work items below)"
        )
        write_vee_report(
            out,
            run_vee_over(
                command,
                ranges,
                actor=SystemActor("reads import"),
                at=clock.now(),
                imported=result.vee_findings,
            ),
        )
    return 0 if result.loaded else 1
