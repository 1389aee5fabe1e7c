"""``ohm reads export-greenbutton`` and ``ohm reads export-parquet`` (added to ``ohm reads``).

    ohm reads export-greenbutton --meter SERIAL --start DATE --end DATE --out FILE
    ohm reads export-parquet --start DATE --end DATE --out FILE [--meters SERIAL ...]

Dates are ``YYYY-MM-DD``; the end is exclusive. Green Button days are the utility's local
days; Parquet days are UTC days (the store's), as analytics engines expect.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from ohm.metering.greenbutton_export import export_greenbutton
from ohm.metering.models import Meter
from ohm.metering.parquet_export import export_parquet


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from exc


def add_subcommands(subparsers) -> None:
    green = subparsers.add_parser(
        "export-greenbutton", help="Write a meter's intervals as Green Button (ESPI) XML."
    )
    green.add_argument("--meter", required=True, help="Meter serial")
    green.add_argument("--start", required=True, type=_date, help="First local day")
    green.add_argument("--end", required=True, type=_date, help="Day after the last")
    green.add_argument("--out", required=True, type=Path)
    green.set_defaults(handler=export_greenbutton_command)
    parquet = subparsers.add_parser(
        "export-parquet", help="Write interval history as Parquet (one row per interval)."
    )
    parquet.add_argument("--start", required=True, type=_date, help="First UTC day")
    parquet.add_argument("--end", required=True, type=_date, help="Day after the last")
    parquet.add_argument("--out", required=True, type=Path)
    parquet.add_argument("--meters", nargs="*", default=None, help="Only these serials")
    parquet.set_defaults(handler=export_parquet_command)


def _check_period(command, options) -> bool:
    if options["end"] <= options["start"]:
        command.stderr.write("--end must be after --start (the end day is not included).")
        return False
    return True


def export_greenbutton_command(command, options) -> int:
    if not _check_period(command, options):
        return 2
    serial = options["meter"].strip().upper()
    meter = Meter.objects.filter(serial=serial).first()
    if meter is None:
        command.stderr.write(f"--meter: no meter {serial}.")
        return 1
    xml = export_greenbutton(meter=meter, start_date=options["start"], end_date=options["end"])
    options["out"].write_bytes(xml)
    command.stdout.write(
        f"Wrote {options['out']} ({len(xml):,} bytes): meter {serial}, {options['start']} to {options['end']}."
    )
    return 0


def export_parquet_command(command, options) -> int:
    if not _check_period(command, options):
        return 2
    serials = [s.strip().upper() for s in options["meters"]] if options["meters"] else None
    counts = export_parquet(
        path=options["out"],
        start_date=options["start"],
        end_date=options["end"],
        meter_serials=serials,
    )
    command.stdout.write(
        f"Wrote {options['out']}: {counts['rows']:,} intervals of {counts['channels']:,} channels in {counts['row_groups']} row groups."
    )
    return 0
