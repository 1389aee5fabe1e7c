"""``ohm rates SUBCOMMAND``: tools for rate analysts.

    ohm rates bill-profile --tariff TARIFF.json --load LOAD.csv [--tz ZONE] [--json] [--lines]
                           [--baseline-territory T --heat-source H [--medical]]
                           [--program CODE ...] [--tax-exempt CODE ...]

``bill-profile`` prices a load profile under a URDB-shaped tariff (a URDB API record, a
``{"items": [record]}`` API response, or Ohm's stored document with its ``"ohm"``
extensions), calendar month by calendar month in ``--tz`` (default: the utility's zone).
LOAD.csv has the header ``interval_start,kw`` (ISO 8601 with UTC offset; 15- or 60-minute
intervals; kw = the interval's average demand). ``--json`` prints
``{"months": [{"month", "fixed", "energy", "demand_flat", "demand_tou", "minimum", "total"}…],
"total"}`` with dollars as decimal strings; ``--lines`` prints every bill line with the tariff
clause that produced it. The customer options say what a baseline tariff's allowance is and
which discounts and tax exemptions apply (without them: no discount, every tax, and the
tiers' URDB ``max``). Bad tariffs and loads are refused naming the field or line
(exit status 1).

Subcommands are registered in ``SUBCOMMANDS`` (name -> (add_arguments, handler)); a handler
is ``fn(command, options) -> int`` (exit status).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ohm.core.money import format_cents
from ohm.rates.calc import AgreementTerms, RatingError
from ohm.rates.profile import SUMMARY, LoadError, bill_profile, read_load_csv, summary
from ohm.rates.tariff import TariffError, parse_urdb


def _add_bill_profile(parser: CommandParser) -> None:
    parser.add_argument("--tariff", required=True, type=Path, help="URDB-shaped tariff JSON.")
    parser.add_argument("--load", required=True, type=Path, help="CSV: interval_start,kw.")
    parser.add_argument("--tz", help="Zone the schedules are in (default: the utility's).")
    parser.add_argument("--json", action="store_true", help="Print the JSON summary.")
    parser.add_argument("--lines", action="store_true", help="Print every bill line.")
    parser.add_argument("--baseline-territory", help="Baseline territory (baseline tariffs).")
    parser.add_argument("--heat-source", help="Baseline heat source, e.g. basic, all_electric.")
    parser.add_argument("--medical", action="store_true", help="Medical-baseline customer.")
    parser.add_argument(
        "--program", action="append", default=[], help="Discount program code (repeatable)."
    )
    parser.add_argument(
        "--tax-exempt", action="append", default=[], help="Exempt from this tax code (repeatable)."
    )


def _read_tariff(path: Path):
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CommandError(f"{path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise CommandError(f"{path}: not JSON (line {exc.lineno}: {exc.msg})") from exc
    if isinstance(document, dict) and isinstance(document.get("items"), list):
        if len(document["items"]) != 1:
            raise CommandError(f"{path}: items: holds {len(document['items'])} tariffs; give one")
        document = document["items"][0]
    try:
        return parse_urdb(document)
    except TariffError as exc:
        raise CommandError(f"{path}: {exc}") from exc


def bill_profile_command(command: BaseCommand, options: dict[str, Any]) -> int:
    tariff = _read_tariff(options["tariff"])
    zone_name = options.get("tz") or settings.UTILITY_TIME_ZONE
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise CommandError(f"--tz: unknown time zone “{zone_name}”") from exc
    path: Path = options["load"]
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            load = read_load_csv(handle)
    except OSError as exc:
        raise CommandError(f"{path}: {exc.strerror}") from exc
    except LoadError as exc:
        raise CommandError(f"{path}: {exc}") from exc
    terms = AgreementTerms(
        baseline_territory=options.get("baseline_territory"),
        heat_source=options.get("heat_source"),
        medical=bool(options.get("medical")),
        programs=frozenset(options.get("program") or ()),
        tax_exempt=frozenset(options.get("tax_exempt") or ()),
    )
    try:
        months = bill_profile(tariff, load, zone, label=tariff.label, terms=terms)
    except (TariffError, RatingError) as exc:
        raise CommandError(f"{options['tariff']}: {exc}") from exc
    document = summary(months)
    out = command.stdout
    if options.get("json"):
        out.write(json.dumps(document, indent=1))
        return 0
    out.write(
        f"{tariff.name or tariff.label or options['tariff'].name} — {tariff.utility}".rstrip(" —")
    )
    out.write(f"Load: {path.name}, {load.interval_minutes}-minute intervals, zone {zone_name}")
    columns = ["month", *SUMMARY, "total"]
    out.write("  ".join(f"{c:>12}" for c in columns))
    for month, row in zip(months, document["months"], strict=True):
        out.write("  ".join(f"{row[c]:>12}" for c in columns))
        if options.get("lines"):
            for line in month.bill.lines:
                out.write(
                    f"    {line.description:<48} {line.quantity:>14} {line.unit:<5} × "
                    f"{line.price:<12} = {format_cents(line.amount_cents):>12}   [{line.clause}]"
                )
    out.write(f"{'total':>12}  " + " " * 14 * len(SUMMARY) + f"{document['total']:>12}")
    return 0


SUBCOMMANDS: dict[str, tuple[str, Callable[[CommandParser], None], Callable[..., int]]] = {
    "bill-profile": (
        "Price a load profile under a URDB-shaped tariff, month by month.",
        _add_bill_profile,
        bill_profile_command,
    ),
}


class Command(BaseCommand):
    help = "Rate analysts' tools: price a load profile under a tariff."
    # bill-profile reads files and computes; it needs neither the database nor URL checks.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        subparsers = parser.add_subparsers(dest="subcommand", required=True)
        for name, (summary_text, add, handler) in SUBCOMMANDS.items():
            sub = subparsers.add_parser(name, help=summary_text)
            add(sub)
            sub.set_defaults(handler=handler)

    def handle(self, *args, **options):
        status = options["handler"](self, options)
        if status:
            raise CommandError(f"rates {options['subcommand']} failed", returncode=status)
