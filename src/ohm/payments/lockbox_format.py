"""Payment files as items: the fixed-width lockbox file (layout configurable) and the item
shape every file format is read into. Pure: no Django.

The default layout is documented in ``docs/formats/lockbox.md``; a bank's own layout is a
JSON file of the same shape (``LockboxLayout.from_json``). Every record is one line; the
first ``type_length`` characters say which record it is. Positions are 1-based and
inclusive, as bank specifications print them.

Reading checks everything before anything is posted: record order, batch and file trailers
(item counts and totals), amounts (dollars with at most two decimals), duplicate items and
a missing trailer (a truncated file). Errors name the line, the field and the value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import repeat
from pathlib import Path

_AMOUNT = re.compile(r"^(?P<whole>\d+)(?:\.(?P<frac>\d+))?$")
#: Item amount fields one per line, each in the layout's own form (" 123.45"): the hot path.
_PLAIN_AMOUNTS = re.compile(r" *[0-9]+\.[0-9][0-9](?:\n *[0-9]+\.[0-9][0-9])*")
MAX_ERRORS = 50


@dataclass(slots=True)
class FileItem:
    """One payment in a bank file, as the file gives it."""

    line: int
    key: str  # unique per channel: the bank's own item identity
    amount_cents: int
    tender: str = "check"
    reference: str = ""  # check number, bank reference
    scan_line: str = ""
    account_number: str = ""
    payer_name: str = ""


@dataclass
class ParsedFile:
    """A whole file read and checked: its items and its own totals."""

    format: str
    deposit_date: date | None
    items: list[FileItem] = field(default_factory=list)
    file_item_count: int = 0
    file_total_cents: int = 0
    skipped: list[tuple[int, int, str]] = field(default_factory=list)  # (line, cents, why)


class FileRefused(ValueError):
    """The file is not acceptable as a whole; nothing of it may post."""

    def __init__(self, errors: list[str]):
        self.errors = errors[:MAX_ERRORS]
        more = f" (and {len(errors) - MAX_ERRORS} more)" if len(errors) > MAX_ERRORS else ""
        super().__init__("; ".join(self.errors) + more)


def parse_amount(text: str, *, where: str) -> int:
    """A file's dollar amount ("123.45", "00012345.00", "7") to cents.

    :raises ValueError: naming ``where`` for anything else (signs, commas, >2 decimals).
    """
    value = text.strip()
    match = _AMOUNT.match(value)
    if not match:
        raise ValueError(f"{where}: “{value}” is not an amount in dollars, e.g. 123.45")
    frac = match["frac"] or ""
    if len(frac) > 2:
        raise ValueError(f"{where}: “{value}” has more than two decimals")
    return int(match["whole"]) * 100 + int(frac.ljust(2, "0") or 0)


@dataclass(frozen=True)
class FieldSpec:
    start: int  # 1-based, inclusive
    length: int

    def take(self, line: str) -> str:
        return line[self.start - 1 : self.start - 1 + self.length]


@dataclass(frozen=True)
class LockboxLayout:
    """Which record type codes a bank uses and where each field sits."""

    record_types: dict[str, str]  # role (header, batch_header, item, batch_trailer, trailer) → code
    fields: dict[str, dict[str, FieldSpec]]  # role → field name → position
    type_length: int = 1
    date_format: str = "%Y%m%d"

    REQUIRED = {
        "header": {"lockbox", "deposit_date"},
        "batch_header": {"batch"},
        "item": {"batch", "sequence", "amount"},
        "batch_trailer": {"batch", "item_count", "total"},
        "trailer": {"batch_count", "item_count", "total"},
    }

    @classmethod
    def from_dict(cls, data: dict) -> LockboxLayout:
        try:
            record_types = {str(k): str(v) for k, v in data["record_types"].items()}
            fields = {
                role: {name: FieldSpec(int(spec[0]), int(spec[1])) for name, spec in specs.items()}
                for role, specs in data["fields"].items()
            }
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ValueError(f"The lockbox layout is malformed: {exc!r}") from exc
        for role, names in cls.REQUIRED.items():
            if role not in record_types:
                raise ValueError(f"The lockbox layout has no record type for “{role}”.")
            missing = names - set(fields.get(role, {}))
            if missing:
                raise ValueError(f"The lockbox layout's {role} lacks {', '.join(sorted(missing))}.")
        return cls(
            record_types=record_types,
            fields=fields,
            type_length=int(data.get("type_length", 1)),
            date_format=str(data.get("date_format", "%Y%m%d")),
        )

    @classmethod
    def from_json(cls, path: str | Path) -> LockboxLayout:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def width(self, role: str) -> int:
        return max(spec.start + spec.length - 1 for spec in self.fields[role].values())


#: The default layout (docs/formats/lockbox.md): 100-character records.
DEFAULT_LAYOUT_DICT: dict = {
    "type_length": 1,
    "date_format": "%Y%m%d",
    "record_types": {
        "header": "1",
        "batch_header": "5",
        "item": "6",
        "batch_trailer": "7",
        "trailer": "9",
    },
    "fields": {
        "header": {"lockbox": [2, 7], "deposit_date": [9, 8], "bank_id": [17, 9]},
        "batch_header": {"batch": [2, 4], "deposit_date": [6, 8]},
        "item": {
            "batch": [2, 4],
            "sequence": [6, 5],
            "amount": [11, 12],
            "check_number": [23, 15],
            "scan_line": [38, 21],
            "account_number": [59, 10],
            "payer_name": [69, 30],
        },
        "batch_trailer": {"batch": [2, 4], "item_count": [6, 5], "total": [11, 14]},
        "trailer": {"batch_count": [2, 4], "item_count": [6, 7], "total": [13, 16]},
    },
}
DEFAULT_LAYOUT = LockboxLayout.from_dict(DEFAULT_LAYOUT_DICT)


def _int(text: str, *, where: str) -> int:
    value = text.strip()
    if not value.isdigit():
        raise ValueError(f"{where}: “{value}” is not a whole number")
    return int(value)


def parse_lockbox(lines: Iterable[str], *, layout: LockboxLayout = DEFAULT_LAYOUT) -> ParsedFile:
    """Read and check a whole lockbox file.

    :raises FileRefused: listing every problem found (line, field, value), up to 50.
    """
    codes = {code: role for role, code in layout.record_types.items()}
    errors: list[str] = []
    parsed = ParsedFile(format="lockbox", deposit_date=None)
    lockbox = ""
    batch: str | None = None
    batch_items = 0
    batch_cents = 0
    batches = 0
    seen: dict[str, int] = {}
    trailer_seen = False
    header_seen = False
    number = 0

    slices = {
        role: {
            name: slice(spec.start - 1, spec.start - 1 + spec.length)
            for name, spec in specs.items()
        }
        for role, specs in layout.fields.items()
    }
    empty = slice(0, 0)

    def get(role: str, name: str, line: str) -> str:
        return line[slices[role].get(name, empty)]

    item_code = layout.record_types["item"]
    item = slices["item"]
    s_batch, s_sequence, s_amount = item["batch"], item["sequence"], item["amount"]
    s_check = item.get("check_number", empty)
    s_scan = item.get("scan_line", empty)
    s_account = item.get("account_number", empty)
    s_payer = item.get("payer_name", empty)
    type_length = layout.type_length
    items = parsed.items
    deposit_day = ""
    all_lines = list(lines)
    total_lines = len(all_lines)
    items_cents = 0  # the file's items added up, for the trailer's check
    slow_until = 0  # lines before this one take the general path (their block was unusual)

    def take_block(start: int, stop: int) -> bool:
        """Items ``lines[start:stop]`` of the current batch read column by column: the hot
        path, 99 lines in 100. False (nothing taken) when anything is unusual; the general
        path then reads them line by line and names what is wrong."""
        nonlocal batch_items, batch_cents, items_cents
        block = all_lines[start:stop]
        batches_named = {line[s_batch] for line in block}
        if len(batches_named) != 1 or batches_named.pop().strip() != batch:
            return False
        amounts = "\n".join([line[s_amount] for line in block])
        if not _PLAIN_AMOUNTS.fullmatch(amounts):
            return False
        cents = list(map(int, amounts.replace(".", "").split()))
        if 0 in cents:
            return False
        sequences = [line[s_sequence].strip() for line in block]
        if not all(sequences):
            return False
        prefix = f"{lockbox}:{deposit_day}:{batch}:"
        keys = [prefix + sequence for sequence in sequences]
        if len(set(keys)) != len(keys) or not seen.keys().isdisjoint(keys):
            return False
        numbers = range(start + 1, stop + 1)
        seen.update(zip(keys, numbers, strict=True))
        added = sum(cents)
        batch_items += len(block)
        batch_cents += added
        items_cents += added
        items.extend(
            map(
                FileItem,
                numbers,
                keys,
                cents,
                repeat("check"),
                [line[s_check].strip() for line in block],
                [line[s_scan].strip() for line in block],
                [line[s_account].strip() for line in block],
                [" ".join(line[s_payer].split()) for line in block],
            )
        )
        return True

    index = 0
    while index < total_lines:
        raw = all_lines[index]
        index += 1
        number = index
        line = raw.rstrip("\r\n")
        code = line[:type_length]
        if code == item_code and batch is not None and not trailer_seen and number > slow_until:
            stop = index
            while stop < total_lines and all_lines[stop][:type_length] == item_code:
                stop += 1
            if take_block(index - 1, stop):
                index = stop
                number = stop
                continue
            slow_until = stop
        if not line.strip():
            continue
        role = codes.get(code)
        where = f"line {number}"
        if role is None:
            errors.append(f"{where}: unknown record type “{code}”")
            continue
        if trailer_seen:
            errors.append(f"{where}: a record after the file trailer")
            continue
        if len(line.rstrip()) < layout.type_length + 1:
            errors.append(f"{where}: the {role.replace('_', ' ')} record is empty")
            continue
        try:
            if role == "header":
                if header_seen:
                    raise ValueError(f"{where}: a second file header")
                header_seen = True
                lockbox = get(role, "lockbox", line).strip()
                text = get(role, "deposit_date", line).strip()
                try:
                    parsed.deposit_date = (
                        datetime.strptime(text, layout.date_format).replace(tzinfo=UTC).date()
                    )
                    deposit_day = f"{parsed.deposit_date:%Y%m%d}"
                except ValueError as exc:
                    raise ValueError(f"{where}, deposit date: “{text}” is not a date") from exc
            elif not header_seen:
                raise ValueError(f"{where}: the file does not start with its header record")
            elif role == "batch_header":
                if batch is not None:
                    raise ValueError(f"{where}: batch {batch} has no trailer before this batch")
                batch = get(role, "batch", line).strip()
                batch_items = batch_cents = 0
                batches += 1
            elif role == "item":
                item_batch = get(role, "batch", line).strip()
                if batch is None or item_batch != batch:
                    raise ValueError(
                        f"{where}, batch: item of batch “{item_batch}” outside its batch"
                    )
                sequence = get(role, "sequence", line).strip()
                if not sequence:
                    raise ValueError(f"{where}, sequence: the item has no sequence number")
                amount = parse_amount(get(role, "amount", line), where=f"{where}, amount")
                if amount == 0:
                    raise ValueError(f"{where}, amount: an item of zero dollars")
                key = f"{lockbox}:{deposit_day}:{batch}:{sequence}"
                if key in seen:
                    raise ValueError(
                        f"{where}: item {batch}/{sequence} appears twice (first on line {seen[key]})"
                    )
                seen[key] = number
                batch_items += 1
                batch_cents += amount
                items_cents += amount
                parsed.items.append(
                    FileItem(
                        line=number,
                        key=key,
                        amount_cents=amount,
                        tender="check",
                        reference=get(role, "check_number", line).strip(),
                        scan_line=get(role, "scan_line", line).strip(),
                        account_number=get(role, "account_number", line).strip(),
                        payer_name=" ".join(get(role, "payer_name", line).split()),
                    )
                )
            elif role == "batch_trailer":
                trailer_batch = get(role, "batch", line).strip()
                if batch is None or trailer_batch != batch:
                    raise ValueError(f"{where}: trailer of batch “{trailer_batch}” with no batch")
                count = _int(get(role, "item_count", line), where=f"{where}, item count")
                total = parse_amount(get(role, "total", line), where=f"{where}, total")
                if count != batch_items:
                    errors.append(
                        f"{where}: batch {batch} says {count} items, the file has {batch_items}"
                    )
                if total != batch_cents:
                    errors.append(
                        f"{where}: batch {batch} says a total of {total / 100:.2f}, its items "
                        f"add up to {batch_cents / 100:.2f}"
                    )
                batch = None
            elif role == "trailer":
                trailer_seen = True
                if batch is not None:
                    errors.append(f"{where}: batch {batch} has no trailer")
                parsed.file_item_count = _int(
                    get(role, "item_count", line), where=f"{where}, item count"
                )
                parsed.file_total_cents = parse_amount(
                    get(role, "total", line), where=f"{where}, total"
                )
                batch_count = _int(get(role, "batch_count", line), where=f"{where}, batch count")
                if batch_count != batches:
                    errors.append(f"{where}: the file says {batch_count} batches, it has {batches}")
                if parsed.file_item_count != len(parsed.items):
                    errors.append(
                        f"{where}: the file says {parsed.file_item_count} items, it has "
                        f"{len(parsed.items)}"
                    )
                items_total = items_cents
                if parsed.file_total_cents != items_total:
                    errors.append(
                        f"{where}: the file says a total of {parsed.file_total_cents / 100:.2f}, "
                        f"its items add up to {items_total / 100:.2f}"
                    )
        except ValueError as exc:
            errors.append(str(exc))
        if len(errors) > MAX_ERRORS:
            break
    if not header_seen and not errors:
        errors.append("The file is empty: no header record.")
    elif not trailer_seen:
        errors.append(f"The file ends at line {number} without its file trailer: it was cut short.")
    if errors:
        raise FileRefused(errors)
    return parsed


def _amount_text(cents: int, width: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}".rjust(width)


def write_lockbox(
    *,
    lockbox: str,
    deposit_date: date,
    batches: list[list[dict]],
    layout: LockboxLayout = DEFAULT_LAYOUT,
) -> str:
    """A lockbox file in ``layout`` (tests, the demo and the benchmark make them like a bank
    would). Each item dict has amount_cents and optionally check_number, scan_line,
    account_number, payer_name."""

    def record(role: str, values: dict[str, str]) -> str:
        chars = [" "] * layout.width(role)
        code = layout.record_types[role]
        chars[: len(code)] = code
        for name, value in values.items():
            spec = layout.fields[role].get(name)
            if spec is None:
                continue
            text = str(value)[: spec.length].ljust(spec.length)
            chars[spec.start - 1 : spec.start - 1 + spec.length] = text
        return "".join(chars).rstrip()

    def spec_len(role: str, name: str) -> int:
        return layout.fields[role][name].length

    day = deposit_date.strftime(layout.date_format)
    out = [record("header", {"lockbox": lockbox, "deposit_date": day})]
    total = count = 0
    for number, items in enumerate(batches, start=1):
        batch = f"{number:0{spec_len('batch_header', 'batch')}d}"
        out.append(record("batch_header", {"batch": batch, "deposit_date": day}))
        batch_total = 0
        for sequence, item in enumerate(items, start=1):
            cents = item["amount_cents"]
            out.append(
                record(
                    "item",
                    {
                        "batch": batch,
                        "sequence": f"{sequence:0{spec_len('item', 'sequence')}d}",
                        "amount": _amount_text(cents, spec_len("item", "amount")),
                        "check_number": item.get("check_number", ""),
                        # Banks send the scan line's 21 digits without the printed spaces.
                        "scan_line": re.sub(r"\D", "", item.get("scan_line", "")),
                        "account_number": item.get("account_number", ""),
                        "payer_name": item.get("payer_name", ""),
                    },
                )
            )
            batch_total += cents
        out.append(
            record(
                "batch_trailer",
                {
                    "batch": batch,
                    "item_count": f"{len(items):0{spec_len('batch_trailer', 'item_count')}d}",
                    "total": _amount_text(batch_total, spec_len("batch_trailer", "total")),
                },
            )
        )
        total += batch_total
        count += len(items)
    out.append(
        record(
            "trailer",
            {
                "batch_count": f"{len(batches):0{spec_len('trailer', 'batch_count')}d}",
                "item_count": f"{count:0{spec_len('trailer', 'item_count')}d}",
                "total": _amount_text(total, spec_len("trailer", "total")),
            },
        )
    )
    return "\n".join(out) + "\n"
